"""Resolving one body: the single left-to-right pass over its source, which hands
each tag to its dialect (jekyll, hugo, pelican, wordpress) and keeps code as written."""

from __future__ import annotations

import bisect
import re

from pipeline.core.posts.markup import code_regions
from pipeline.core.posts.templating import hugo, jekyll, pelican, wordpress
from pipeline.core.posts.templating.lookup import Lookup
from pipeline.core.posts.templating.quick import has_template_syntax
from pipeline.core.posts.templating.work import Place, Resolved, Work

_SYNTAX = re.compile(
    "|".join(
        (
            hugo.ESCAPED,
            hugo.SHORTCODE,
            jekyll.TAG,
            jekyll.OUTPUT,
            pelican.LINK,
            wordpress.SHORTCODE,
            wordpress.VIDEO_LINE,
            r"(?P<stray>\{\{|\{%)",
        )
    ),
    re.DOTALL | re.MULTILINE,
)
_IN_CODE = re.compile(r"\{%-?\s*(?:end)?raw\s*-?%\}|" + hugo.ESCAPED, re.DOTALL)


def resolve(body: str, place: Place, lookup: Lookup) -> Resolved:
    if not has_template_syntax(body):
        return Resolved(body, (), (), (), ())
    work = Work(body, place, lookup)
    regions = code_regions(body)
    region_starts = [start for start, _end in regions]
    out: list[str] = []
    while work.pos < len(body):
        pos = work.pos
        r = bisect.bisect_right(region_starts, pos) - 1
        if r >= 0 and pos < regions[r][1]:  # inside code: as written, escapes removed
            end = regions[r][1]
            out.append(_IN_CODE.sub(lambda m: _in_code(work, m), body[pos:end]))
            work.pos = end
            continue
        following = region_starts[r + 1] if r + 1 < len(regions) else len(body)
        match = _SYNTAX.search(body, pos)
        if match is None or match.start() >= following:
            out.append(body[pos:following])
            work.pos = following
            continue
        out.append(body[pos : match.start()])
        work.pos = match.end()
        replacement = _handle(work, match)
        if replacement is None:  # not a tag after all: its first character is text
            out.append(body[match.start()])
            work.pos = match.start() + 1
        else:
            out.append(replacement)
    return Resolved(
        "".join(out),
        tuple(sorted(work.counts.items())),
        tuple(work.left),
        tuple(work.unresolved),
        tuple(dict.fromkeys(work.enclosures)),
    )


def _handle(work: Work, match: re.Match[str]) -> str | None:
    if match["he_delim"] is not None:
        return hugo.escaped(work, match)
    if match["hs_name"] is not None:
        return hugo.shortcode(work, match)
    if match["lq_name"] is not None:
        return jekyll.tag(work, match)
    if match["lo_expr"] is not None:
        return jekyll.output(work, match)
    if match["pl_target"] is not None:
        return pelican.link(work, match)
    if match["wp_name"] is not None:
        return wordpress.shortcode(work, match) if wordpress.is_shortcode(work, match) else None
    if match["ov_url"] is not None:
        return wordpress.video_line(work, match)
    # What is left is a lone `{{` or `{%`.
    return work.unknown(
        match.start(),
        work.body[match.start() : match.start() + 40].partition("\n")[0],
        f"{match[0]} opens a template tag that is never closed",
        "close it, or write it inside `code` if it is meant to be shown",
    )


def _in_code(work: Work, match: re.Match[str]) -> str:
    if match["he_delim"] is not None:
        return hugo.escaped(work, match)
    work.resolved(f"{jekyll.PROSE} raw")
    return ""
