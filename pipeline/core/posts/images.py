"""Pure: a post's featured image, from the front matter as each tool writes it.

WordPress exports `featured_image`; Jekyll themes `image` (a path, or a mapping with
`path` and `alt`); Hugo `images` (a list: the first) or `cover` (`image` and `alt`);
others `thumbnail`; Pelican `Image`. Alt text comes from the mapping or from
`image_alt`. With `[build] featured_image_from_body`, a post without one takes the
first image of its body. The URL is made absolute against the post's own, and only
an http(s) address is kept: anything else is a warning, never an output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipeline.core.model import Finding, Image

KEYS = ("featured_image", "image", "cover", "images", "thumbnail")
_IMG = re.compile(r"<img\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(src|alt|width|height)="([^"]*)"')


def featured_image(
    meta: Mapping[str, Any], source: str, post_url: str, body_html: str, from_body: bool
) -> tuple[Image | None, list[Finding]]:
    """The featured image (or None), and what the author should fix about it."""
    if not from_body and meta.keys().isdisjoint(KEYS):  # most posts: asked of every one
        return None, []
    for key in KEYS:
        found = _from_value(meta.get(key), key)
        if found is not None:
            address, alt, size = found
            alt = alt or _text(meta.get("image_alt"))
            return _checked(source, key, address, alt, size, post_url)
    if from_body:
        tag = _IMG.search(body_html)
        if tag:
            attributes = {name: unescape(value) for name, value in _ATTRIBUTE.findall(tag[0])}
            size = (_number(attributes.get("width")), _number(attributes.get("height")))
            return _checked(
                source, "body", attributes.get("src", ""), attributes.get("alt", ""), size, post_url
            )
    return None, []


def _from_value(value: Any, key: str) -> tuple[str, str, tuple[int, int]] | None:
    """(address, alt, (width, height)) from one key's value, or None."""
    if isinstance(value, list):
        value = next((item for item in value if item not in (None, "")), None)
    if isinstance(value, str) and value.strip():
        return value.strip(), "", (0, 0)
    if isinstance(value, Mapping):
        names = (
            ("image", "url", "src", "path") if key == "cover" else ("path", "url", "src", "image")
        )
        address = next((_text(value[n]) for n in names if _text(value.get(n))), "")
        if address:
            size = (_number(value.get("width")), _number(value.get("height")))
            return address, _text(value.get("alt")), size
    return None


def _checked(
    source: str, key: str, address: str, alt: str, size: tuple[int, int], post_url: str
) -> tuple[Image | None, list[Finding]]:
    absolute = urljoin(post_url, address.strip())
    parts = urlsplit(absolute)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(c in absolute for c in '"<> ')
    ):
        return None, [
            Finding(
                "featured-image",
                source,
                f"the featured image {address!r} ('{key}') is not a web address, so it is left out",
                "write an http(s) URL, or a path on the site such as /images/cover.jpg",
                key=key,
            )
        ]
    warnings = []
    alt = " ".join(alt.split())
    if not alt:
        warnings.append(
            Finding(
                "featured-image-alt",
                source,
                f"the featured image {absolute} has no alt text: readers with images "
                "blocked (Outlook and Gmail by default) and screen readers get nothing",
                "add image_alt: ... (or alt: in the image's mapping)",
                key=key,
            )
        )
    return Image(absolute, alt, *size), warnings


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _number(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if 0 < value < 10_000 else 0
    if isinstance(value, str) and value.strip().isdigit():
        return _number(int(value.strip()))
    return 0
