"""Pelican's links to other content: `{filename}`, `{static}`, `{attach}`, `{tag}`,
`{category}`, `{author}` and `{index}` (and the older `|filename|` form), with
Pelican's default URLs for the tag, category, author and index pages."""

from __future__ import annotations

import re

from pipeline.core.posts.templating.quick import PELICAN_KINDS as KINDS
from pipeline.core.posts.templating.work import Work, link_url

LINK = (
    r"(?:\{(?P<pl_kind>" + KINDS + r")\}|\|(?P<pl_old>" + KINDS + r")\|)"
    r"(?P<pl_target>[^\s)\"'<>\]]*)"
)
PROSE = "Pelican"
_PAGES = {"tag": "tag", "category": "category", "author": "author"}


def slugify(name: str) -> str:
    """Pelican's default slug: lower case, words joined by hyphens."""
    return re.sub(r"[^\w]+", "-", name.lower(), flags=re.UNICODE).strip("-_")


def link(work: Work, match: re.Match[str]) -> str:
    kind = match["pl_kind"] or match["pl_old"]
    target = match["pl_target"]
    path, hash_mark, fragment = target.partition("#")
    work.resolved(f"{PROSE} {{{kind}}}")
    if kind == "index":
        return work.site_url("index.html")
    if kind in _PAGES:
        return work.site_url(f"{_PAGES[kind]}/{slugify(path)}.html")
    source = work.relative_to_post(path)
    if kind in ("static", "attach"):
        return work.site_url(source) + hash_mark + fragment
    url = work.lookup.post_url(source)
    if url is None:
        work.missing(
            match.start(),
            match[0],
            f"{{filename}}{path} names no post",
            "write the path from the post's folder, or from content/ with a leading /",
        )
        return work.place.site_url
    return link_url(url + hash_mark + fragment)
