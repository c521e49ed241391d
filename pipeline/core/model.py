"""Pure: the values that flow through the pipeline: frozen, typed, no I/O
(`entry` holds the few the nothing-changed exit needs).

Every datetime here is timezone-aware; `content` makes sure of that where posts
enter, so nothing downstream ever compares a naive time with an aware one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.core.entry import BuildMarks


@dataclass(frozen=True)
class Image:
    """A post's featured image: an absolute http(s) URL, its alt text, and its size
    when the front matter gives it (0: not given)."""

    url: str
    alt: str
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Enclosure:
    """An audio or video file a post links to: an enclosure in the feeds."""

    url: str
    type: str  # its MIME type


@dataclass(frozen=True)
class Disclosure:
    """A disclosure exactly as the author wrote it (emoji, label, text, links).

    `html` is the paragraph's inner HTML, sanitized but otherwise untouched; `text`
    is the same words for the plain-text part, links written as `text (url)`.
    """

    kind: str  # "affiliate", "medical" or "other": decides placement, never wording
    label: str  # the bold label as written, e.g. "Affiliate disclosure:"
    html: str
    text: str
    origin: str  # "body", "front matter" or "site default"


TERM_KINDS = ("category", "tag")  # the kinds of names a post carries, each with feeds


@dataclass(frozen=True)
class Finding:
    """Something the author should know, as a value: where, what, what to change.

    `kind` names the rule ("naive-date", "undisclosed-affiliate", ...) so code
    decides by it, never by the wording; `key` is the front-matter key involved."""

    kind: str
    file: str
    message: str
    hint: str = ""
    line: int | None = None
    key: str = ""
    severity: str = "warning"  # "error" or "warning"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        """As `check` prints it."""
        text = f"{self.where}: {self.severity}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    @property
    def brief(self) -> str:
        """As a build's warning line says it."""
        return f"{self.file}: {self.message}" if self.file else self.message

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Header:
    """What deciding needs of a post: its front matter, read without the body."""

    identity: str  # id, else url, else slug, else path under content/
    source: str  # path under content/, with forward slashes
    content_hash: str  # sha256 of the file's bytes: the backstop for quiet edits
    title: str
    url: str
    entry_id: str  # feed id: never changes with edits or URL changes
    published: datetime
    modified: datetime
    draft: bool
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    author: str  # from the front matter, else the site's
    excerpt: str  # the front matter's, else "" (the body makes one when rendered)
    warnings: tuple[Finding, ...] = ()

    def is_scheduled(self, now: datetime) -> bool:
        return self.published > now

    def names(self, kind: str) -> tuple[str, ...]:
        """The post's names of one of TERM_KINDS."""
        return self.categories if kind == "category" else self.tags

    def terms(self, kinds: tuple[str, ...] = TERM_KINDS) -> Iterator[tuple[str, str]]:
        """(kind, name) of each category and tag the post carries, of these kinds."""
        for kind in kinds:
            for name in self.names(kind):
                yield kind, name


@dataclass(frozen=True)
class Post:
    """One post, read and cleaned, ready for every output: its header and its body."""

    header: Header
    author: str  # the header's, or the one the theme chrome names
    excerpt: str  # plain text
    html: str  # cleaned body, absolute links, disclosures before affiliate links
    disclosures: tuple[Disclosure, ...]
    affiliate_links: tuple[str, ...]
    warnings: tuple[Finding, ...] = ()  # what only the body shows
    image: Image | None = None  # the featured image, if the post has one
    enclosures: tuple[Enclosure, ...] = ()  # audio and video files it links to
    # What resolving its links asked of the other posts, and heard: the cached
    # rendering serves again only while every answer is the same.
    depends: tuple[tuple[str, str], ...] = ()

    @property
    def identity(self) -> str:
        return self.header.identity

    @property
    def source(self) -> str:
        return self.header.source

    @property
    def content_hash(self) -> str:
        return self.header.content_hash

    @property
    def title(self) -> str:
        return self.header.title

    @property
    def url(self) -> str:
        return self.header.url

    @property
    def entry_id(self) -> str:
        return self.header.entry_id

    @property
    def published(self) -> datetime:
        return self.header.published

    @property
    def modified(self) -> datetime:
        return self.header.modified

    @property
    def draft(self) -> bool:
        return self.header.draft

    @property
    def categories(self) -> tuple[str, ...]:
        return self.header.categories

    @property
    def tags(self) -> tuple[str, ...]:
        return self.header.tags


@dataclass(frozen=True)
class Waiting:
    """A post new or changed since the last email, waiting for the schedule's slot."""

    source: str
    kind: str  # "new" or "updated"
    since: str  # RFC 3339: the build that first saw it waiting


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger remembers of a post from earlier builds."""

    identity: str
    source: str
    content_hash: str
    published: datetime
    modified: datetime
    removed: bool = False


@dataclass(frozen=True)
class LedgerSnapshot:
    """The ledger as read at the start of a build."""

    entries: Mapping[str, LedgerEntry] = field(default_factory=dict)
    builds: int = 0  # completed builds; 0 means this is the first
    email_ids: frozenset[str] = frozenset()
    marks: BuildMarks = BuildMarks()  # what the last build noted

    @property
    def first_build(self) -> bool:
        return self.builds == 0


@dataclass(frozen=True)
class Changes:
    """What a build decided, before anything is rendered or written."""

    live: tuple[Header, ...]  # published posts that belong in the feeds, newest first
    new: tuple[Header, ...]  # to announce as new
    modified: tuple[Header, ...]  # to announce as updated
    recorded_only: tuple[Header, ...]  # new to the ledger, not announced (first build, too old)
    edited_quietly: tuple[Header, ...]  # body changed without a later modified_at
    removed: tuple[str, ...]  # identities gone or unpublished since the last build
    scheduled: tuple[Header, ...]  # published_at still in the future
    held: tuple[Header, ...]  # changed too recently (settle window); left for the next run
    first_build: bool


@dataclass(frozen=True)
class Email:
    """One email: the posts it carries and its rendered files."""

    email_id: str
    subject: str
    preheader: str
    date: datetime
    new: tuple[str, ...]  # identities, in the order shown
    updated: tuple[str, ...]
    files: Mapping[str, bytes]  # file name -> bytes, manifest.json last
    page: bytes = b""  # the email as a web page for out/archive/ (b"": no archive)


@dataclass(frozen=True)
class OutputFile:
    """A file to write, its path relative to out/."""

    path: str
    data: bytes
