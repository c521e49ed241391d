"""What `check` can learn from a plain Markdown body without parsing it.

A full reading renders the body (2.5 ms a post, 10,000s of posts) only for check to
look for what few bodies hold: an image without alt text, a link that is no web
address, affiliate links without a disclosure. In plain Markdown the text alone
shows where every link and image target is written and which paragraph is the
affiliate disclosure. Every test here errs one way: `plain_body` answers only when
the parse could not find more, and any doubt (raw HTML, code fences, link
definitions, template syntax, a target or an alt text written any other way, a
disclosure that the chrome rules might take) leaves the post to the full reading.
tests/test_plain_body.py holds the two readings to the same findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import urljoin

from pipeline.core.posts.chrome import COMMENT_HEADINGS
from pipeline.core.posts.disclosures import (
    DISCLOSURE_WORD,
    AffiliateTest,
    affiliate_matcher,
    disclosure_kind,
)

# A target the parser keeps as written (nothing to encode) and that no other
# characters follow: an http(s) address, a mail address, or a path, query or
# fragment on this site. (Whether it is a web address is check's rule to say.)
_TARGET = re.compile(
    r"(?:(?i:https?)://[A-Za-z0-9.-]+|(?i:mailto):[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+)?"
    r"[A-Za-z0-9._~/?#=+-]*(?=[ \t\n)])"
)
# An image whose alt text is plain characters: the parser's alt is that text.
_IMAGE = re.compile(r"!\[([^\[\]\n*_`\\<&!~]*)\]\(")
# A one-line paragraph led by a bold label, after an optional emoji: the shape
# markdown-it reads as text (the emoji), strong (the label), text, with nothing
# in the label or before it that could open a link, code or another emphasis.
_LABELLED = re.compile(
    r"^(?P<mark>[^\x00-\x7f\s]+ )?\*\*(?P<label>[A-Za-z0-9](?:[A-Za-z0-9 :,.'’/()-]*"
    r"[A-Za-z0-9:,.'’/()-])?)\*\*(?:[ \t].*)?$",
    re.MULTILINE,
)
_BYTE_IMAGE = re.compile(_IMAGE.pattern.encode())
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t].*)?$", re.MULTILINE)
_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$", re.MULTILINE)
_COMMENT_LETTERS = tuple("".join(filter(str.isalpha, p.casefold())) for p in COMMENT_HEADINGS)
_IN_EVERY_PHRASE = "".join(sorted(frozenset.intersection(*map(frozenset, _COMMENT_LETTERS))))
_HEADING_STARTS = frozenset("#=- ")  # what a heading line's first character can be


@dataclass(frozen=True)
class PlainBody:
    """A body whose parse would show check nothing but these targets."""

    targets: tuple[str, ...]  # every link and image target, as the body writes it


def plain_body(
    body: str, url: str, hosts: tuple[str, ...], written: bytes | None = None
) -> PlainBody | None:
    """The targets of a body without template syntax (`has_template_syntax`), when
    the text alone shows that its images have alt text and that affiliate links (to
    `hosts`, from the post at `url`) are disclosed; None when only a parse can tell.
    `written`: the file's bytes, when they hold the body unchanged (nothing cleaned
    away, no CR): searched instead, front matter and all (which can only send a post
    to the full reading), a byte a letter where a text with an emoji takes four."""
    text: str | bytes = body if written is None else written
    # Raw HTML and autolinks start with "<", code fences with ``` or ~~~, the link
    # definitions that reference links need hold "]:" (`_targets` looks): any of
    # them, and only a parse knows what the body holds.
    if _needs_parse(text):
        return None
    targets = _targets(text)
    if targets is None or not _images_have_alt(text):
        return None
    if _links_to_affiliates(targets, url, hosts) and not _discloses_affiliates(body):
        return None
    return PlainBody(tuple(targets))


def _needs_parse(text: str | bytes) -> bool:
    """Whether the text holds "<", "```" or "~~~". A two- or three-character mark is
    looked for only where its first character is (a memchr): the mark alone costs
    ten times more, fifty in a text with an emoji; a generator over them, 2.5 us."""
    if isinstance(text, bytes):
        return (
            b"<" in text or (b"`" in text and b"```" in text) or (b"~" in text and b"~~~" in text)
        )
    return "<" in text or ("`" in text and "```" in text) or ("~" in text and "~~~" in text)


def _holds_image(text: str | bytes) -> bool:
    """Whether the text holds "![" (its "!" looked for first, as in `_needs_parse`)."""
    if isinstance(text, bytes):
        return b"!" in text and b"![" in text
    return "!" in text and "![" in text


def _links_to_affiliates(targets: list[str], url: str, hosts: tuple[str, ...]) -> bool:
    """Whether a target leads to an affiliate host, as the renderer resolves it."""
    is_affiliate, pieces = _matcher(hosts)
    here = pieces.search(url.lower()) is not None  # where relative targets lead
    for target in targets:
        if "//" in target:  # a host of its own: matched only where its parts are written
            if pieces.search(target.lower()) is None:
                continue
        elif not here:
            continue
        # An http(s) address joins to itself, host and query unchanged.
        if is_affiliate(target if "://" in target else urljoin(url, target)):
            return True
    return False


@cache
def _matcher(hosts: tuple[str, ...]) -> tuple[AffiliateTest, re.Pattern[str]]:
    """The affiliate test, and a search for the parts of the host patterns that
    their matches hold (one part each; a host pattern with "[" holds none, so
    every text may match it)."""
    patterns = (host.lower().partition("?")[0] for host in hosts)
    pieces = ("" if "[" in p else max(p.split("*"), key=len) for p in patterns)
    return affiliate_matcher(hosts), re.compile("|".join(map(re.escape, pieces)) or "(?!)")


def _targets(text: str | bytes) -> list[str] | None:
    """Every target written after "](", or None when one is not plain or the text
    holds a link definition ("]:"). One search finds them all, in C: a loop over the
    "]"s costs a call or four for each link."""
    if isinstance(text, str):
        found = _LINKS.findall(text)
        return None if any(mark for _target, mark in found) else [t for t, _mark in found]
    byte_found = _BYTE_LINKS.findall(text)
    if any(mark for _target, mark in byte_found):
        return None
    return [target.decode("ascii") for target, _mark in byte_found]


# Each "]" that opens an inline link's or image's target (group 1: "](" and a plain
# target, after the spaces and line ends markdown-it skips) or makes the body a
# parse's to judge (group 2: "](" before a target written any other way, or "]:", a
# link definition). A target holds no "]": the search goes on after it. The same
# for a file's bytes (all ASCII: a byte a letter).
_LINKS = re.compile(r"\](?:\([ \t\n]*(" + _TARGET.pattern + r")|([(:]))")
_BYTE_LINKS = re.compile(_LINKS.pattern.encode())


def _images_have_alt(text: str | bytes) -> bool:
    if not _holds_image(text):
        return True
    if isinstance(text, str):
        alts, count = _IMAGE.findall(text), text.count("![")
    else:
        alts, count = [alt.decode() for alt in _BYTE_IMAGE.findall(text)], text.count(b"![")
    return len(alts) == count and all(any(c.isalnum() for c in alt) for alt in alts)


def _discloses_affiliates(body: str) -> bool:
    """Whether a paragraph of the body is certainly an affiliate disclosure that the
    chrome rules leave in place."""
    for found in _labelled_lines(body):
        if not _is_affiliate_label(*found.group("mark", "label")):
            continue
        start, end = found.span()
        alone = (start == 0 or _blank(_line_before(body, start))) and (
            end == len(body) or _blank(_line_after(body, end))
        )
        if alone and _kept_by_chrome(body[:start]):
            return True
    return False


@lru_cache(maxsize=256)
def _is_affiliate_label(mark: str | None, label: str) -> bool:
    """Whether a bold label (after an emoji `mark`, if any) is an affiliate
    disclosure's. Kept: 100,000s of posts write a few labels."""
    if mark is not None and any(c.isalnum() for c in mark):
        return False
    label = " ".join(label.split())
    return DISCLOSURE_WORD.search(label) is not None and disclosure_kind(label) == "affiliate"


def _labelled_lines(body: str) -> Iterator[re.Match[str]]:
    """The lines led by a bold label, each tried once. Found from the "*"s (a
    memchr): a search for a word ("isclosure") walks the text a character at a
    time, three times slower at 16 KB. The caller asks what each label says."""
    at = body.find("*")
    while at >= 0:
        start = body.rfind("\n", 0, at) + 1
        found = _LABELLED.match(body, start)
        if found is not None:
            yield found
        end = body.find("\n", at)
        if end < 0:
            return
        at = body.find("*", end)


def _blank(line: str) -> bool:
    return not line.strip(" \t")


def _line_before(body: str, start: int) -> str:
    """The line ending just before `start` (which begins a line)."""
    return body[body.rfind("\n", 0, start - 1) + 1 : start - 1]


def _line_after(body: str, end: int) -> str:
    """The line beginning just after `end` (which ends a line)."""
    stop = body.find("\n", end + 1)
    return body[end + 1 : stop if stop >= 0 else len(body)]


def _kept_by_chrome(before: str) -> bool:
    """Whether the chrome rules keep a paragraph that follows `before` (a blank line
    ends it). They take a paragraph only as a byline (under the title), as a bio
    (under "Written by" and a name) or after the comment form's heading: so it must
    not follow a heading, and no heading before it may be the comment form's."""
    last = before.rstrip(" \t\n")  # up to the last line that is not blank, and through it
    if _is_heading_line(last[last.rfind("\n") + 1 :]):
        return False
    lines = before.split("\n")
    for index, line in enumerate(lines):
        if line[:1] not in _HEADING_STARTS or not _is_heading_line(line):
            continue
        text = line
        if _UNDERLINE.fullmatch(line):  # a setext heading: the lines above it
            start = index
            while start > 0 and not _blank(lines[start - 1]):
                start -= 1
            text = " ".join(lines[start:index])
        if _may_be_comment_heading(text):
            return False
    return True


def _is_heading_line(line: str) -> bool:
    """An ATX heading or a setext underline."""
    first = line.lstrip(" ")[:1]
    return first in ("#", "=", "-") and bool(_ATX.fullmatch(line) or _UNDERLINE.fullmatch(line))


def _may_be_comment_heading(text: str) -> bool:
    if "[" in text or "&" in text or "\\" in text:  # links, entities, escapes: a parse knows
        return True
    folded = text.casefold()
    for letter in _IN_EVERY_PHRASE:  # a memchr each: a heading lacking one is none
        if letter not in folded:
            return False
    letters = "".join(filter(str.isalpha, folded))
    return any(phrase in letters for phrase in _COMMENT_LETTERS)
