"""The values that flow through the pipeline: frozen, typed, no I/O.

Every datetime here is timezone-aware; `content` makes sure of that where posts
enter, so nothing downstream ever compares a naive time with an aware one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


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


@dataclass(frozen=True)
class Post:
    """One post, read and cleaned, ready for every output."""

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
    author: str
    excerpt: str  # plain text
    html: str  # cleaned body, absolute links, disclosures before affiliate links
    disclosures: tuple[Disclosure, ...]
    affiliate_links: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    # False for a header read: front matter only, no body (html, disclosures and a
    # body-made excerpt are empty). Deciding needs no more; outputs need rendered posts.
    rendered: bool = True

    def is_scheduled(self, now: datetime) -> bool:
        return self.published > now


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger remembers of a post from earlier builds."""

    identity: str
    source: str
    content_hash: str
    published: datetime
    modified: datetime
    first_seen: datetime
    emailed_at: datetime | None
    removed: bool = False


@dataclass(frozen=True)
class LedgerSnapshot:
    """The ledger as read at the start of a build."""

    entries: Mapping[str, LedgerEntry] = field(default_factory=dict)
    builds: int = 0  # completed builds; 0 means this is the first
    email_ids: frozenset[str] = frozenset()
    meta: Mapping[str, str] = field(default_factory=dict)  # what the last build noted

    @property
    def first_build(self) -> bool:
        return self.builds == 0


@dataclass(frozen=True)
class Changes:
    """What a build decided, before anything is written."""

    live: tuple[Post, ...]  # published posts that belong in the feeds, newest first
    new: tuple[Post, ...]  # to announce as new
    modified: tuple[Post, ...]  # to announce as updated
    recorded_only: tuple[Post, ...]  # new to the ledger but not announced (first build, too old)
    edited_quietly: tuple[Post, ...]  # body changed without a later modified_at
    removed: tuple[str, ...]  # identities gone or unpublished since the last build
    scheduled: tuple[Post, ...]  # published_at still in the future
    held: tuple[Post, ...]  # changed too recently (settle window); left for the next run
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


@dataclass(frozen=True)
class OutputFile:
    """A file to write, its path relative to out/."""

    path: str
    data: bytes
