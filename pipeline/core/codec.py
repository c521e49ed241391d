"""Pure: headers and rendered posts <-> compact JSON text, for the store's caches.

A JSON array in field order: quick to write, quick to load back (a first build
stores 100,000 headers), and its shape is checked on the way in, so a row of
another version is refused with ValueError instead of being misread.
"""

from __future__ import annotations

import json
import operator
from datetime import datetime
from typing import Any

from pipeline.core.dates import rfc3339
from pipeline.core.model import Disclosure, Enclosure, Finding, Header, Image, Post

_HEADER_FIELDS = tuple(Header.__dataclass_fields__)
_DATES = (_HEADER_FIELDS.index("published"), _HEADER_FIELDS.index("modified"))
_NAMES = (_HEADER_FIELDS.index("categories"), _HEADER_FIELDS.index("tags"))
_WARNINGS = _HEADER_FIELDS.index("warnings")
_ALL_FIELDS = operator.attrgetter(*_HEADER_FIELDS)


def _finding(values: list[Any]) -> Finding:
    return Finding(*values)


def _header_values(header: Header, dates: tuple[str, str] | None = None) -> list[Any]:
    values = list(_ALL_FIELDS(header))  # one call in C: a first build makes 100,000
    written = dates or (rfc3339(header.published), rfc3339(header.modified))
    for index, date in zip(_DATES, written, strict=True):
        values[index] = date
    values[_WARNINGS] = [_finding_values(w) for w in values[_WARNINGS]]
    return values


def _finding_values(finding: Finding) -> list[Any]:
    return [getattr(finding, name) for name in Finding.__dataclass_fields__]


def _header_of(values: list[Any]) -> Header:
    if len(values) != len(_HEADER_FIELDS):
        raise ValueError("a header of another shape")
    for index in _DATES:
        values[index] = datetime.fromisoformat(values[index])
    for index in _NAMES:
        values[index] = tuple(values[index])
    values[_WARNINGS] = tuple(_finding(w) for w in values[_WARNINGS])
    return Header(*values)


def _dumps(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def header_to_json(header: Header, dates: tuple[str, str] | None = None) -> str:
    """`dates`: rfc3339 of its published and modified dates, when already written."""
    return _dumps(_header_values(header, dates))


def header_from_json(text: str) -> Header:
    return _header_of(json.loads(text))


def post_to_json(post: Post) -> str:
    """The header's values, then the body's."""
    return _dumps(
        [
            _header_values(post.header),
            post.author,
            post.excerpt,
            post.html,
            [[d.kind, d.label, d.html, d.text, d.origin] for d in post.disclosures],
            list(post.affiliate_links),
            [_finding_values(w) for w in post.warnings],
            [post.image.url, post.image.alt, post.image.width, post.image.height]
            if post.image
            else None,
            [[e.url, e.type] for e in post.enclosures],
            [list(pair) for pair in post.depends],
        ]
    )


def post_from_json(text: str) -> Post:
    values = json.loads(text)
    if len(values) != 10:
        raise ValueError("a post of another shape")
    header, author, excerpt, html, disclosures, links, warnings, image, enclosures, depends = values
    return Post(
        header=_header_of(header),
        author=author,
        excerpt=excerpt,
        html=html,
        disclosures=tuple(Disclosure(*d) for d in disclosures),
        affiliate_links=tuple(links),
        warnings=tuple(_finding(w) for w in warnings),
        image=Image(*image) if image else None,
        enclosures=tuple(Enclosure(*e) for e in enclosures),
        depends=tuple((question, answer) for question, answer in depends),
    )


def findings_to_json(findings: tuple[Finding, ...]) -> str:
    """Findings as compact text; "" for none (most posts have none)."""
    if not findings:
        return ""
    return json.dumps([_finding_values(f) for f in findings], ensure_ascii=False)


def findings_from_json(text: str) -> tuple[Finding, ...]:
    if not text:
        return ()
    values = json.loads(text)
    width = len(Finding.__dataclass_fields__)
    if not isinstance(values, list) or any(len(v) != width for v in values):
        raise ValueError("findings of another shape")
    return tuple(_finding(v) for v in values)
