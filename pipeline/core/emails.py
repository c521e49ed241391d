"""Pure: posts to announce -> emails (HTML with inlined CSS, text, .eml, manifest).

The only module that imports jinja2; the CSS is inlined by `inline`. Templates
(their text, read by the shell) fail loudly (StrictUndefined, autoescape on for
*.html), and every value that reaches a header is collapsed to one line first, so no post
can add a header. The email's date and id come from its posts, not the clock, so a
re-run after a crash writes the very same email instead of a second one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipeline.core.budget import largest_fitting
from pipeline.core.campaign import campaign_tags, tag_html, tag_text
from pipeline.core.dates import display_date, rfc3339
from pipeline.core.errors import ConfigError
from pipeline.core.inline import inline_css, safe_css
from pipeline.core.manifest import Manifest, ManifestPost
from pipeline.core.model import Email, Post
from pipeline.core.posts.markup import ensure_alt, html_to_text
from pipeline.core.posts.read import make_excerpt
from pipeline.core.settings import Config, merge_tag_service
from pipeline.core.unsubscribe import list_unsubscribe

if TYPE_CHECKING:
    import jinja2

logger = logging.getLogger(__name__)

ARCHIVE_FOLDER = "archive"  # out/archive/<email-id>/index.html, index.html, feed.xml
PREHEADER_LENGTH = 140
MAX_SUBJECT = 200  # inboxes show ~60 characters; a runaway title must not fill the header
SHORT_EXCERPT = 160  # excerpt length when a digest must shrink to fit its budget
MERGE_TAG_STAND_IN = "https://unsubscribe.invalid/merge-tag"


@lru_cache(maxsize=8)
def _environment(sources: tuple[tuple[str, str], ...]) -> jinja2.Environment:
    import jinja2  # here: a first build emails nothing and never needs it

    return jinja2.Environment(
        loader=jinja2.DictLoader(dict(sources)),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Templates:
    """The email templates of a site as text, by file name (the site's own first,
    then the shipped ones: the shell reads them); `looked_in` names the folders."""

    sources: tuple[tuple[str, str], ...]
    looked_in: tuple[str, ...] = ()
    kind: str = "email"  # or "pages": what `newsletter serve` shows

    def render(self, name: str, context: dict[str, Any]) -> str:
        import jinja2  # see _environment

        try:
            return _environment(self.sources).get_template(name).render(context)
        except jinja2.TemplateNotFound:
            raise self._missing(f"{self.kind} template", name) from None
        except jinja2.UndefinedError as exc:
            raise ConfigError(
                f"{self.kind} template {name}: {exc.message}",
                f"use only the variables the shipped template uses (see templates/{self.kind}/)",
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"{self.kind} template {exc.filename or name}:{exc.lineno}: {exc.message}",
                "fix the template syntax",
            ) from None

    def source(self, name: str) -> str:
        for file_name, text in self.sources:
            if file_name == name:
                return text
        raise self._missing(f"{self.kind} file", name)

    def _missing(self, what: str, name: str) -> ConfigError:
        return ConfigError(
            f"{what} {name} not found (looked in {', '.join(self.looked_in)})",
            f"restore it from the repository's templates/{self.kind}/",
        )


def one_line(text: str) -> str:
    """Header-safe text: any CR, LF or run of whitespace becomes one space."""
    return " ".join(text.split())


def plan_emails(
    new: Sequence[Post], updated: Sequence[Post], config: Config
) -> list[tuple[tuple[Post, ...], tuple[Post, ...]]]:
    """Which posts go into which email: one digest, or one email per post."""
    updated = tuple(updated) if config.email.updated_section else ()
    if not new and not updated:
        return []
    if config.email.mode == "per-post":
        return [((post,), ()) for post in new] + [((), (post,)) for post in updated]
    return [(tuple(new), tuple(updated))]


def render_email(
    new: Sequence[Post], updated: Sequence[Post], config: Config, templates: Templates
) -> Email:
    """Render one email carrying `new` then `updated`, within the size budget."""
    posts = list(new) + list(updated)
    first = posts[0]
    site = config.site
    if len(posts) == 1:
        subject = config.email.subject_one.format(
            site=site.title, title=first.title, more=0, count=1
        )
    else:
        subject = config.email.subject_many.format(
            site=site.title, title=first.title, more=len(posts) - 1, count=len(posts)
        )
    subject = make_excerpt([one_line(subject)], MAX_SUBJECT)
    preheader = make_excerpt([one_line(first.excerpt)], PREHEADER_LENGTH)
    date = max(post.modified for post in posts).astimezone(UTC)
    digest = hashlib.sha256()
    for post in posts:
        digest.update(f"{post.identity}\0{rfc3339(post.modified)}\0{post.content_hash}\n".encode())
    digest.update(config.email.mode.encode())
    email_id = f"{date:%Y-%m-%d}-{digest.hexdigest()[:10]}"

    page_url = f"{config.archive.base_url}{email_id}/" if config.archive.enabled else ""
    layout = _Layout(
        config=config,
        templates=templates,
        subject=subject,
        preheader=preheader,
        new=tuple(new),
        updated=tuple(updated),
        full_body=config.email.mode == "per-post",
        view_url=page_url,
    )
    html, context = layout.fit(config.email.max_bytes)
    text = templates.render("digest.txt", context)
    tags = campaign_tags(config, email_id)
    html, text = tag_html(html, tags, config), tag_text(text, tags, config)
    page = b""
    if page_url:
        page = tag_html(layout.page(context, page_url), tags, config).encode("utf-8")
    eml = build_eml(subject, html, text, date, email_id, config)
    files = {
        "email.html": html.encode("utf-8"),
        "email.txt": text.encode("utf-8"),
        "email.eml": eml,
    }
    manifest = Manifest(
        email_id=email_id,
        subject=subject,
        preheader=preheader,
        date=rfc3339(date),
        mode=config.email.mode,
        posts=tuple(
            ManifestPost(
                post.identity,
                "new" if index < len(new) else "updated",
                post.title,
                post.url,
                rfc3339(post.modified),
            )
            for index, post in enumerate(posts)
        ),
        html_bytes=len(files["email.html"]),
        files={name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    )
    files["manifest.json"] = manifest.to_bytes()
    return Email(
        email_id=email_id,
        subject=subject,
        preheader=preheader,
        date=date,
        new=tuple(p.identity for p in new),
        updated=tuple(p.identity for p in updated),
        files=files,
        page=page,
    )


@dataclass(frozen=True)
class _Layout:
    """Everything one email shows; `fit` picks how much of it fits the budget."""

    config: Config
    templates: Templates
    subject: str
    preheader: str
    new: tuple[Post, ...]
    updated: tuple[Post, ...]
    full_body: bool
    view_url: str = ""  # the email's page in the web archive

    def page(self, context: dict[str, Any], url: str) -> str:
        """The email as a web page: the same posts, shown as the email shows them,
        and nothing of a reader's (no unsubscribe link); Open Graph tags for a
        shared link's preview."""
        config = self.config
        images = [post.image.url for post in (*self.new, *self.updated) if post.image]
        page_context = {
            **context,
            "archive": {
                "url": url,
                "index_url": config.archive.base_url,
                "image": images[0] if images else "",
            },
            "view_url": "",
        }
        # A browser honours the <style> block: no inlining (premailer is most of an
        # email's rendering time).
        return self.templates.render("digest.html", page_context)

    def fit(self, budget: int) -> tuple[str, dict[str, Any]]:
        """Full; else shorter excerpts (per post: the excerpt instead of the body);
        else the last posts as a list of links. Disclosures are never shortened."""
        count = len(self.new) + len(self.updated)
        rendered = self._render(count, None, self.full_body)
        if not budget or self._size(rendered) <= budget:
            return rendered
        rendered = self._render(count, SHORT_EXCERPT, False)
        if self._size(rendered) <= budget or count == 1:
            return rendered
        shown = largest_fitting(
            1, count - 1, lambda n: self._size(self._render(n, SHORT_EXCERPT, False)) <= budget
        )
        return self._render(shown or 1, SHORT_EXCERPT, False)

    @staticmethod
    def _size(rendered: tuple[str, dict[str, Any]]) -> int:
        return len(rendered[0].encode("utf-8"))

    def _render(
        self, shown: int, excerpt: int | None, full_body: bool
    ) -> tuple[str, dict[str, Any]]:
        from markupsafe import Markup  # Jinja's: loaded with it, when an email is rendered

        config = self.config
        posts = list(self.new) + list(self.updated)
        sections = []
        for heading, group in (("", self.new), ("Updated", self.updated)):
            visible = [post for post in group if posts.index(post) < shown]
            if visible:
                views = [_post_view(post, config, full_body, excerpt) for post in visible]
                sections.append({"heading": heading, "posts": views})
        more = [_post_view(post, config, False, None) for post in posts[shown:]]
        tag = merge_tag_service(config.email.unsubscribe_url) and config.email.unsubscribe_url
        context: dict[str, Any] = {
            "site": {
                "title": config.site.title,
                "url": config.site.url,
                "language": config.site.language,
            },
            "subject": self.subject,
            "preheader": self.preheader,
            "view_url": self.view_url,
            "archive": None,  # the web page's own parts, when rendered as one
            "sections": sections,
            "more": more,
            "footer": {
                # A merge tag goes through the CSS inliner as a plain URL: lxml would
                # percent-encode the spaces in `{{ unsubscribe_url }}`.
                "unsubscribe_url": MERGE_TAG_STAND_IN if tag else config.email.unsubscribe_url,
                "unsubscribe_mailto": config.email.unsubscribe_mailto,
                "postal_lines": [
                    line.strip()
                    for line in config.email.postal_address.splitlines()
                    if line.strip()
                ],
            },
            "css": Markup(safe_css(self.templates.source("email.css"), "email.css")),  # noqa: S704
        }
        html = inline_css(self.templates.render("digest.html", context))
        if tag:
            html = html.replace(MERGE_TAG_STAND_IN, tag)
            context["footer"] = {**context["footer"], "unsubscribe_url": tag}
        return html, context


COLUMN_WIDTH = 536  # px: the 600 px container less its padding


def _image_view(post: Post) -> dict[str, Any] | None:
    """The featured image at the column's width (Outlook sizes by the attribute),
    its height scaled to match when the front matter gave both."""
    image = post.image
    if image is None:
        return None
    width = min(image.width, COLUMN_WIDTH) if image.width else COLUMN_WIDTH
    height = round(image.height * width / image.width) if image.width and image.height else 0
    return {"url": image.url, "alt": image.alt, "width": width, "height": height}


def _post_view(post: Post, config: Config, full_body: bool, excerpt: int | None) -> dict[str, Any]:
    from markupsafe import Markup  # Jinja's: loaded with it, when an email is rendered

    return {
        "image": _image_view(post),
        "title": post.title,
        "url": post.url,
        "date": display_date(post.published, config.site.timezone),
        "category": ", ".join(post.categories),
        "excerpt": make_excerpt([post.excerpt], excerpt) if excerpt else post.excerpt,
        # In per-post mode the body carries every disclosure where the author put it.
        "body_html": Markup(ensure_alt(post.html)) if full_body else "",  # noqa: S704 (sanitized)
        "body_text": html_to_text(post.html) if full_body else "",
        "disclosures": []
        if full_body
        else [
            {"html": Markup(d.html), "text": d.text}  # noqa: S704 (sanitized in content)
            for d in post.disclosures
        ],
    }


def build_eml(
    subject: str, html: str, text: str, date: Any, email_id: str, config: Config
) -> bytes:
    """multipart/alternative, text first, UTF-8, with the list headers bulk senders need."""
    from email.message import EmailMessage  # heavy (the header registry): only to write one
    from email.policy import SMTP

    host = urlsplit(config.site.url).hostname or "localhost"
    message = EmailMessage(policy=SMTP)
    message["From"] = one_line(config.email.from_address)
    message["To"] = one_line(config.email.to_address)
    if config.email.reply_to:
        message["Reply-To"] = one_line(config.email.reply_to)
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{email_id}@{host}>"
    message["List-Id"] = f"{one_line(config.site.title)} <{one_line(config.email.list_id)}>"
    for name, value in list_unsubscribe(config).items():
        message[name] = value
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # A fixed boundary keeps the file byte-identical across runs; "=_" never occurs
    # in quoted-printable text.
    message.set_boundary(f"=_{email_id}")
    return message.as_bytes(policy=SMTP)
