"""Pure: campaign tags (`utm_source`, `utm_medium`, `utm_campaign`) on the links of an
email that lead to the site's own pages, so the site's analytics can tell readers
who came from an issue. Off unless `[email] utm_source` is set; never in the feeds,
never on links to other sites, never on the unsubscribe link, and never over a
`utm_` parameter the author wrote.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.core.settings import Config

_HREF = re.compile(r'href="([^"]*)"')
_URL = re.compile(r"https?://[^\s<>()\[\]\"']+")


def campaign_tags(config: Config, email_id: str) -> tuple[tuple[str, str], ...]:
    email = config.email
    if not email.utm_source:
        return ()
    return (
        ("utm_source", email.utm_source),
        ("utm_medium", email.utm_medium or "email"),
        ("utm_campaign", email.utm_campaign or email_id),
    )


def tag_url(url: str, tags: tuple[tuple[str, str], ...], config: Config) -> str:
    """`url` with the tags, when it is one of the site's own pages."""
    site, parts = urlsplit(config.site.url), urlsplit(url)
    own = (parts.scheme, parts.netloc.lower()) == (site.scheme, site.netloc.lower())
    if not tags or not own or not parts.path.startswith(site.path or "/"):
        return url
    if url.split("#")[0].split("?")[0] == config.email.unsubscribe_url.split("?")[0]:
        return url  # a reader's own link goes in here at send time
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.lower().startswith("utm_") for key, _value in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, *tags])))


def tag_html(page: str, tags: tuple[tuple[str, str], ...], config: Config) -> str:
    if not tags:
        return page

    def tagged(found: re.Match[str]) -> str:
        url = html.unescape(found.group(1))
        return f'href="{html.escape(tag_url(url, tags, config))}"'

    return _HREF.sub(tagged, page)


def tag_text(text: str, tags: tuple[tuple[str, str], ...], config: Config) -> str:
    if not tags:
        return text
    return _URL.sub(lambda found: tag_url(found.group(0), tags, config), text)
