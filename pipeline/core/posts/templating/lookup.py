"""What resolving a link needs to know about the rest of the site, as a protocol.

A `{% post_url %}`, `{{< ref >}}` or `{filename}` link names another file; its URL
is that post's. The build answers from the post index, `check` from the posts it
has read (`KnownPosts`); what a post's resolution asked and heard is recorded
(`Recorder`), so its cached rendering is used again only while the answers hold.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

POST_SUFFIXES = (".md", ".markdown")


class Lookup(Protocol):
    def post_url(self, source: str) -> str | None:
        """The URL of the post in this file (a path under content/), if there is one."""

    def posts_named(self, stem: str) -> tuple[str, ...]:
        """The posts' files whose name without its suffix is `stem`, sorted."""

    def page_url(self, path: str) -> str | None:
        """The URL of a file of the old site (a path under its root: a page, or a
        post when content/ is inside it), if it exists."""

    def include(self, name: str) -> str | None:
        """The text of an include file, if the includes folder has it."""


class NoLookup:
    """Knows nothing: enough to find the tags a post has (reading its header)."""

    def post_url(self, source: str) -> str | None:
        return None

    def posts_named(self, stem: str) -> tuple[str, ...]:
        return ()

    def page_url(self, path: str) -> str | None:
        return None

    def include(self, name: str) -> str | None:
        return None


def file_stem(source: str) -> str:
    return posixpath.splitext(posixpath.basename(source))[0]


@dataclass(frozen=True)
class KnownPosts:
    """A Lookup over values: the posts' URLs by file, the pages and the includes."""

    urls: Mapping[str, str]
    pages: Mapping[str, str] = field(default_factory=dict)
    includes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, posts: Iterable[tuple[str, str]], **given: Mapping[str, str]) -> KnownPosts:
        return cls(dict(posts), **given)

    def post_url(self, source: str) -> str | None:
        return self.urls.get(source)

    def posts_named(self, stem: str) -> tuple[str, ...]:
        return tuple(sorted(s for s in self.urls if file_stem(s) == stem))

    def page_url(self, path: str) -> str | None:
        return self.pages.get(path)

    def include(self, name: str) -> str | None:
        return self.includes.get(name)


Answers = tuple[tuple[str, str], ...]  # (question, answer) pairs, in the order asked


def answer_of(lookup: Lookup, question: str) -> str:
    """A recorded question asked again: the same answer means the same rendering."""
    kind, _, subject = question.partition(":")
    if kind == "post":
        return lookup.post_url(subject) or ""
    if kind == "named":
        return "\n".join(lookup.posts_named(subject))
    if kind == "page":
        return lookup.page_url(subject) or ""
    text = lookup.include(subject)
    return "" if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]


class Recorder:
    """A Lookup that remembers what was asked and answered."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.asked: dict[str, str] = {}

    def _note(self, question: str) -> None:
        self.asked.setdefault(question, answer_of(self.lookup, question))

    def post_url(self, source: str) -> str | None:
        self._note(f"post:{source}")
        return self.lookup.post_url(source)

    def posts_named(self, stem: str) -> tuple[str, ...]:
        self._note(f"named:{stem}")
        return self.lookup.posts_named(stem)

    def page_url(self, path: str) -> str | None:
        self._note(f"page:{path}")
        return self.lookup.page_url(path)

    def include(self, name: str) -> str | None:
        self._note(f"include:{name}")
        return self.lookup.include(name)

    def answers(self) -> Answers:
        return tuple(sorted(self.asked.items()))


def still_true(answers: Answers, lookup: Lookup) -> bool:
    """Whether every recorded answer is still the answer."""
    return all(answer_of(lookup, question) == answer for question, answer in answers)


class PostsLookup(Protocol):
    """A Lookup's post half: what the posts' URLs are."""

    def post_url(self, source: str) -> str | None: ...
    def posts_named(self, stem: str) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Layered:
    """The posts just read, then the rest (a Lookup's post half): a dry run's index
    still holds the posts as the last build left them, so what was read since
    answers first."""

    first: PostsLookup
    rest: PostsLookup

    def post_url(self, source: str) -> str | None:
        return self.first.post_url(source) or self.rest.post_url(source)

    def posts_named(self, stem: str) -> tuple[str, ...]:
        return tuple(sorted({*self.first.posts_named(stem), *self.rest.posts_named(stem)}))
