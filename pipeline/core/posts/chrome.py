"""Remove the theme chrome a CMS export leaves around a post's body.

Exports like the fixture carry the page around the article: a line of category
links, the title again as `# H1`, the author and date lines, and at the end
`Tagged:`, `Written by`, `You might also like` and `Leave a Reply`. Each rule below
matches one of those exactly (the title must equal the post's title, the date must
be the post's date, the tail must consist of nothing but footer sections), so a rule
can miss unusual chrome but never eats real prose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlsplit

from pipeline.core.posts.markup import Block

_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d", "%B %d %Y")
_RELATED = ("you might also like", "related posts", "related articles", "read next")
COMMENT_HEADINGS = ("leave a reply", "leave a comment")


@dataclass(frozen=True)
class Stripped:
    blocks: list[Block]  # the article itself
    author: str  # the author named by the chrome ("Written by" box or byline), or ""


def strip_chrome(
    blocks: Sequence[Block], title: str, published: datetime, tz: tzinfo | None
) -> Stripped:
    """The blocks without the export's header and footer."""
    author = ""
    start = 0
    if start < len(blocks) and _is_link_line(blocks[start], "/category/"):
        start += 1
    if start < len(blocks) and _is_title(blocks[start], title):
        start += 1
        # Author and date lines stand right under the repeated title.
        if (
            start + 1 < len(blocks)
            and _is_byline(blocks[start])
            and _is_date(blocks[start + 1], published, tz)
        ):
            author = blocks[start].text
            start += 1
        if start < len(blocks) and _is_date(blocks[start], published, tz):
            start += 1
    end = _footer_start(blocks, start)
    if end < len(blocks):
        author = _written_by(blocks[end:]) or author
    return Stripped(list(blocks[start:end]), author)


def _written_by(footer: Sequence[Block]) -> str:
    """The name under "Written by" (the heading that follows it), if any."""
    for index, block in enumerate(footer[:-1]):
        if _is_written_by(block) and footer[index + 1].kind == "heading":
            return footer[index + 1].text
    return ""


def _fold(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).casefold()


def _is_title(block: Block, title: str) -> bool:
    return block.kind == "heading" and block.tag == "h1" and _fold(block.text) == _fold(title)


def _is_link_line(block: Block, path_part: str, prefix: str = "") -> bool:
    """A paragraph of nothing but links whose path contains `path_part`, after `prefix`."""
    if block.kind != "paragraph" or not block.hrefs:
        return False
    if not all(path_part in urlsplit(href).path for href in block.hrefs):
        return False
    outside: list[str] = []
    depth = 0
    for child in block.inline:
        if child.type == "link_open":
            depth += 1
        elif child.type == "link_close":
            depth -= 1
        elif depth == 0 and child.type == "text":
            outside.append(child.content)
        elif depth == 0 and child.type not in ("softbreak", "hardbreak"):
            return False
    rest = "".join(outside).strip()
    if prefix:
        if not rest.startswith(prefix):
            return False
        rest = rest[len(prefix) :]
    return rest.replace(",", "").strip() == ""


def _is_byline(block: Block) -> bool:
    text = block.text
    return (
        block.kind == "paragraph"
        and not block.hrefs
        and 0 < len(text) <= 60
        and "\n" not in text
        and text[-1] not in ".!?:;,"
    )


def _is_date(block: Block, published: datetime, tz: tzinfo | None) -> bool:
    if block.kind != "paragraph" or block.hrefs:
        return False
    text = block.text
    for fmt in _DATE_FORMATS:
        try:
            shown = datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar date only)
        except ValueError:
            continue
        # The theme printed the date in some zone: the post's own, the site's or UTC.
        zones = [zone for zone in (tz, UTC) if zone is not None]
        candidates = {published.date()} | {published.astimezone(zone).date() for zone in zones}
        return shown in candidates
    return False


def _footer_start(blocks: Sequence[Block], start: int) -> int:
    """Index of the first block of a tail made only of footer sections, else len."""
    for index in range(start, len(blocks)):
        if _is_marker(blocks[index]) and _is_footer(blocks, index):
            return index
    return len(blocks)


def _is_marker(block: Block) -> bool:
    return (
        _is_tagged(block)
        or _is_written_by(block)
        or _heading_starts(block, _RELATED)
        or _heading_starts(block, COMMENT_HEADINGS)
    )


def _is_tagged(block: Block) -> bool:
    return _is_link_line(block, "/tag/", prefix="Tagged:")


def _is_written_by(block: Block) -> bool:
    return block.kind == "paragraph" and _fold(block.text) == "written by"


def _heading_starts(block: Block, phrases: tuple[str, ...]) -> bool:
    return block.kind == "heading" and _fold(block.text).startswith(phrases)


def _is_footer(blocks: Sequence[Block], index: int) -> bool:
    """True when blocks[index:] is a sequence of recognised footer sections."""
    count = len(blocks)
    while index < count:
        block = blocks[index]
        if _heading_starts(block, COMMENT_HEADINGS):
            return True  # the comment form is the page's last part, whatever follows
        if _is_tagged(block):
            index += 1
        elif _is_written_by(block):
            index += 1  # then the author's name as a heading and a one-paragraph bio
            if index < count and blocks[index].kind == "heading" and not _is_marker(blocks[index]):
                index += 1
            if (
                index < count
                and blocks[index].kind == "paragraph"
                and not _is_marker(blocks[index])
            ):
                index += 1
        elif _heading_starts(block, _RELATED):
            index += 1
            while index < count and blocks[index].kind in ("bullet_list", "ordered_list"):
                index += 1
        else:
            return False
    return True
