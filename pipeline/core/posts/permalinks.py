"""A post's URL as the old site made it, so links and feed ids carry over.

`[site] permalink` is this pipeline's own `{site_url}{slug}/` form, one of Jekyll's
named styles (`date`, `pretty`, `ordinal`, `weekdate`, `none`), or a pattern of
Jekyll's or Hugo's `:placeholders`, joined to the site's URL. A post's own
`permalink:` front matter (with or without placeholders) wins.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

JEKYLL_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
JEKYLL = frozenset(
    """year month i_month day i_day short_year hour minute second y_day short_month
    long_month short_day long_day week categories title slug name output_ext""".split()
)
HUGO = frozenset(
    """year month monthname day weekday weekdayname yearday section sections title
    slug slugorfilename filename contentbasename""".split()
)
HUGO_ONLY = HUGO - JEKYLL
_PLACEHOLDER = re.compile(r":([a-z_]+)")


@dataclass(frozen=True)
class Facts:
    """What a permalink can be made of."""

    slug: str  # the front matter's slug, or the file name without date and suffix
    given_slug: bool  # the front matter names the slug
    title: str
    published: datetime
    categories: Sequence[str]
    source: str  # path under content/


def style_of(pattern: str, style: str) -> str:
    """ "format" (ours), "jekyll" or "hugo": which meanings the placeholders have."""
    if "{" in pattern:
        return "format"
    if pattern in JEKYLL_STYLES or style == "jekyll":
        return "jekyll"
    if style == "hugo" or set(_PLACEHOLDER.findall(pattern)) & HUGO_ONLY:
        return "hugo"
    return "jekyll"


def problem(pattern: str, style: str) -> str | None:
    """What is wrong with a `[site] permalink` of placeholders, if anything."""
    kind = style_of(pattern, style)
    if kind == "format" or pattern in JEKYLL_STYLES:
        return None
    known = JEKYLL if kind == "jekyll" else HUGO
    unknown = sorted(set(_PLACEHOLDER.findall(pattern)) - known)
    if unknown:
        names = " ".join(f":{n}" for n in sorted(known))
        return f"unknown placeholder :{unknown[0]} in {pattern!r}; {kind.title()} has {names}"
    return None


def expand(pattern: str, style: str, site_url: str, facts: Facts, zone: tzinfo | None) -> str:
    """The URL (not yet checked) that `pattern` gives for this post."""
    kind = style_of(pattern, style)
    if kind == "format":  # as it always was: the date as written, so no URL moves
        when = facts.published
        return pattern.format(
            site_url=site_url,
            slug=facts.slug,
            year=f"{when.year:04d}",
            month=f"{when.month:02d}",
            day=f"{when.day:02d}",
        )
    when = facts.published.astimezone(zone) if zone is not None else facts.published
    pattern = JEKYLL_STYLES.get(pattern, pattern)
    values = _jekyll(facts, when) if kind == "jekyll" else _hugo(facts, facts.published)
    path = _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), pattern)
    if kind == "hugo":
        path = path.lower()
    if re.match(r"https?://", path):
        return path
    path = re.sub(r"/{2,}", "/", "/" + path.lstrip("/"))
    return site_url.rstrip("/") + path


def jekyll_slug(text: str, pretty: bool = False, cased: bool = False) -> str:
    """Jekyll's `slugify`: runs of other characters become one hyphen."""
    other = r"(?:[^\w._~!$&'()+,;=@]|_)+" if pretty else r"[\W_]+"
    slug = re.sub(other, "-", text).strip("-")
    return slug if cased else slug.lower()


def hugo_urlize(text: str) -> str:
    """Hugo's `urlize` of a title: spaces become hyphens, other marks are dropped."""
    text = re.sub(r"\s", "-", text.strip())
    return re.sub(r"[^\w.\-#+~/]", "", text).lower()


def _jekyll(facts: Facts, when: datetime) -> dict[str, str]:
    return {
        "year": f"{when.year:04d}",
        "month": f"{when.month:02d}",
        "i_month": str(when.month),
        "day": f"{when.day:02d}",
        "i_day": str(when.day),
        "short_year": f"{when.year % 100:02d}",
        "hour": f"{when.hour:02d}",
        "minute": f"{when.minute:02d}",
        "second": f"{when.second:02d}",
        "y_day": when.strftime("%j"),
        "short_month": when.strftime("%b"),
        "long_month": when.strftime("%B"),
        "short_day": when.strftime("%a"),
        "long_day": when.strftime("%A"),
        "week": f"{when.isocalendar().week:02d}",
        "categories": "/".join(dict.fromkeys(jekyll_slug(c) for c in facts.categories)),
        "title": jekyll_slug(facts.slug, pretty=True, cased=True),
        "slug": jekyll_slug(facts.slug),
        "name": jekyll_slug(_file_name(facts.source)),
        "output_ext": ".html",
    }


def _hugo(facts: Facts, when: datetime) -> dict[str, str]:
    folders = posixpath.dirname(facts.source).split("/") if "/" in facts.source else []
    file_name = _file_name(facts.source)
    if file_name in ("index", "_index") and folders:  # a page bundle: its folder's name
        file_name = folders.pop()
    slug = facts.slug if facts.given_slug else hugo_urlize(facts.title)
    return {
        "year": f"{when.year:04d}",
        "month": f"{when.month:02d}",
        "monthname": when.strftime("%B"),
        "day": f"{when.day:02d}",
        "weekday": str(when.isoweekday() % 7),
        "weekdayname": when.strftime("%A"),
        "yearday": str(when.timetuple().tm_yday),
        "section": folders[0] if folders else "",
        "sections": "/".join(folders),
        "title": hugo_urlize(facts.title),
        "slug": slug,
        "slugorfilename": facts.slug if facts.given_slug else file_name,
        "filename": file_name,
        "contentbasename": file_name,
    }


def _file_name(source: str) -> str:
    return posixpath.splitext(posixpath.basename(source))[0]
