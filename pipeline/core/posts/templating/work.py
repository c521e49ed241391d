"""The state of one body's resolution, shared by the dialects' handlers.

A handler is given the match of its tag and this; it returns the text that stands
for the tag, and may consume more of the body (a block tag's content and its end
tag) by moving `pos`. Problems are noted here with the tag's line in the file.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipeline.core.model import Enclosure
from pipeline.core.posts.markup import to_uri
from pipeline.core.posts.templating.lookup import Lookup


@dataclass(frozen=True)
class Place:
    """Where the body is: its file and URL, the site, its front matter."""

    source: str  # path under content/
    url: str  # the post's absolute URL
    site_url: str  # ends with "/"
    page: Mapping[str, Any]  # the front matter
    first_line: int = 1  # the body's first line in the file
    site_title: str = ""
    site_description: str = ""


@dataclass(frozen=True)
class TagProblem:
    """A tag that is not resolved: unknown, malformed or naming nothing."""

    line: int
    tag: str  # as written, shortened
    message: str
    hint: str


UNKNOWN_HINT = (
    "write it out as the old site showed it, or set [build] unknown_tags = "
    '"strip" to publish the post without it'
)


@dataclass(frozen=True)
class Resolved:
    """A body with its template syntax resolved (`resolve.resolve`); here, where
    reading a post finds it, so that a post without any imports no resolver."""

    markdown: str  # the body with every tag resolved or removed
    counts: tuple[tuple[str, int], ...]  # ("Jekyll post_url", 2), by kind
    left: tuple[TagProblem, ...]  # not resolved: unknown or malformed
    unresolved: tuple[TagProblem, ...]  # resolved, but naming a post or page not found
    enclosures: tuple[Enclosure, ...]  # the audio and video files a post links


class Work:
    def __init__(self, body: str, place: Place, lookup: Lookup) -> None:
        self.body = body
        self.place = place
        self.lookup = lookup
        self.pos = 0
        self.left: list[TagProblem] = []  # fall under [build] unknown_tags
        self.unresolved: list[TagProblem] = []  # resolved, but their target is unknown
        self.counts: Counter[str] = Counter()
        self.enclosures: list[Enclosure] = []

    def line_of(self, offset: int) -> int:
        return self.place.first_line + self.body.count("\n", 0, offset)

    def resolved(self, kind: str) -> None:
        self.counts[kind] += 1

    def unknown(self, offset: int, tag: str, message: str, hint: str = UNKNOWN_HINT) -> str:
        """Note a tag that cannot be resolved; it stands for nothing in the output."""
        self.left.append(TagProblem(self.line_of(offset), shorten(tag), message, hint))
        return ""

    def missing(self, offset: int, tag: str, message: str, hint: str) -> None:
        self.unresolved.append(TagProblem(self.line_of(offset), shorten(tag), message, hint))

    def at_line_start(self, offset: int) -> bool:
        """Only indentation or blockquote marks before `offset` on its line."""
        start = self.body.rfind("\n", 0, offset) + 1
        return not self.body[start:offset].strip(" \t>")

    def alone_on_line(self, start: int, end: int) -> bool:
        tail = self.body.find("\n", end)
        rest = self.body[end : len(self.body) if tail < 0 else tail]
        return self.at_line_start(start) and not rest.strip()

    def block(self, start: int, end: int, markup: str) -> str:
        """HTML standing alone on its line: kept apart from the next line, which would
        otherwise be read as part of the same HTML block."""
        if self.alone_on_line(start, end):
            following = self.body[end:].partition("\n")[2]
            if following.strip() and not following.startswith("\n"):
                return markup + "\n"
        return markup

    def site_path(self, path: str) -> str:
        """A path on the site (`/img/a.png`, or relative to the post's file) as a URL."""
        return self.site_url(path.lstrip("/"))

    def site_url(self, relative: str) -> str:
        return link_url(urljoin(self.place.site_url, relative))

    def relative_to_post(self, target: str) -> str:
        """A path written relative to the post's own file, as a path under content/."""
        if target.startswith("/"):
            return posixpath.normpath(target.lstrip("/"))
        folder = posixpath.dirname(self.place.source)
        return posixpath.normpath(posixpath.join(folder, target))


def link_url(url: str) -> str:
    """A URL as it may stand in a Markdown link's destination or an attribute."""
    return to_uri(url).replace("(", "%28").replace(")", "%29")


def shorten(tag: str) -> str:
    tag = " ".join(tag.split())
    return tag if len(tag) <= 80 else tag[:77] + "..."


def attribute(value: str) -> str:
    return html.escape(value, quote=True)


def code_block(lang: str, code: str, closing_prefix: str) -> str:
    """A fenced code block that no backtick run inside the code can close."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    lang = re.sub(r"[^A-Za-z0-9_+#.-]", "", lang)[:40]
    return f"{fence}{lang}\n{code}\n{closing_prefix}{fence}"


def inline_code(lang: str, code: str) -> str:
    language = re.sub(r"[^A-Za-z0-9_+#.-]", "", lang)[:40]
    cls = f' class="language-{language}"' if language else ""
    return f"<code{cls}>{html.escape(code)}</code>"


def highlighted(work: Work, opener: re.Match[str], lang: str, end: re.Match[str]) -> str:
    """A highlight block's content as a code block (fenced when it stands on its own
    lines, as the old site showed it; inline code otherwise)."""
    content = work.body[opener.end() : end.start()]
    if not work.at_line_start(opener.start()):
        return inline_code(lang, content.strip("\n"))
    content = content.removeprefix("\n")
    head, newline, tail = content.rpartition("\n")
    if newline and not tail.strip(" \t>"):
        return code_block(lang, head, tail)
    line_start = work.body.rfind("\n", 0, opener.start()) + 1
    return code_block(lang, content, work.body[line_start : opener.start()])


def site_parts(site_url: str) -> tuple[str, str]:
    """Jekyll's `site.url` and `site.baseurl` of the configured site URL."""
    parts = urlsplit(site_url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
