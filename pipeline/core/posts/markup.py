"""Markdown -> blocks -> safe HTML: the only module that imports markdown-it-py and nh3.

The body is parsed once into top-level blocks that keep their source lines and
tokens, so the chrome rules, the disclosure finder and the excerpt all look at the
same structure the renderer uses, and nothing is ever matched against HTML text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from typing import cast
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

ALLOWED_TAGS = frozenset(
    """a abbr b bdi bdo blockquote br caption cite code dd del details div dl dt em
    figcaption figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s small
    span strong sub summary sup table tbody td tfoot th thead tr u ul""".split()
)
# Removed together with everything inside them: executable or restyling content.
DROPPED_WITH_CONTENT = frozenset(
    "script style iframe object embed noscript template link meta base form".split()
)
ALLOWED_ATTRIBUTES = {
    "*": {"lang", "dir", "title"},
    "a": {"href"},
    "code": {"class"},  # only a language class: `language-python` (see `sanitize`)
    "img": {"src", "alt", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"

_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")
_ANCHOR = re.compile(r'<a\b([^>]*?)\bhref="([^"]*)"([^>]*)>')
_RAW_HREF = re.compile(r"""href\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_RAW_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class Block:
    """One top-level Markdown block and what the rules need to know about it."""

    kind: str  # paragraph, heading, bullet_list, ordered_list, blockquote, fence, ...
    tag: str  # "h1".."h6" for headings, "p", "ul", ...; "" for leaf tokens
    tokens: tuple[Token, ...]
    first_line: int  # 1-based, in the body

    @property
    def inline(self) -> tuple[Token, ...]:
        """The inline children of a paragraph or heading (empty for other blocks)."""
        for token in self.tokens:
            if token.type == "inline":
                return tuple(token.children or ())
        return ()

    @property
    def text(self) -> str:
        """Plain text of a paragraph or heading, whitespace collapsed."""
        return inline_text(self.inline)

    @property
    def hrefs(self) -> tuple[str, ...]:
        """The Markdown links' targets."""
        return tuple(
            str(child.attrGet("href") or "")
            for token in self.tokens
            for child in token.children or ()
            if child.type == "link_open"
        )

    def links(self, images: bool = False) -> list[str]:
        """The link targets the block holds as written: Markdown links and raw HTML
        `href`s and, with `images`, image sources (Markdown and HTML `src`) too."""
        raw = _RAW_LINK if images else _RAW_HREF
        found: list[str] = []
        for token in self.tokens:
            if token.type == "html_block":
                found.extend(raw.findall(token.content))
            for child in token.children or ():
                if child.type == "link_open":
                    found.append(str(child.attrGet("href") or ""))
                elif child.type == "image" and images:
                    found.append(str(child.attrGet("src") or ""))
                elif child.type == "html_inline":
                    found.extend(raw.findall(child.content))
        return found


@cache
def _parser() -> MarkdownIt:
    # CommonMark with raw HTML, plus GFM tables and strikethrough, which exports use.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def parse_blocks(markdown: str) -> list[Block]:
    """Split a Markdown body into its top-level blocks."""
    blocks: list[Block] = []
    current: list[Token] = []
    depth = 0
    for token in _parser().parse(markdown):
        current.append(token)
        depth += token.nesting
        if depth == 0:
            head = current[0]
            kind = head.type.removesuffix("_open")
            line = head.map[0] + 1 if head.map else 0
            blocks.append(Block(kind, head.tag, tuple(current), line))
            current = []
    return blocks


def render_blocks(blocks: Iterable[Block]) -> str:
    """The HTML of the given blocks, unsanitized (pass it through `sanitize`)."""
    tokens = [token for block in blocks for token in block.tokens]
    parser = _parser()
    return str(parser.renderer.render(tokens, parser.options, {}))


def render_inline(block: Block) -> str:
    """The HTML of a paragraph's content, without the <p> around it."""
    parser = _parser()
    renderer = cast(RendererHTML, parser.renderer)
    return str(renderer.renderInline(list(block.inline), parser.options, {}))


def inline_html(markdown: str) -> str:
    """A line of Markdown (a caption) as inline HTML, unsanitized."""
    parser = _parser()
    return str(parser.renderInline(markdown))


def code_regions(markdown: str) -> list[tuple[int, int]]:
    """The character ranges of `markdown` that are code: fenced and indented blocks,
    raw HTML blocks holding <pre> or <code>, and inline code spans. Template syntax
    inside them is shown as written, never resolved."""
    starts = [0]
    for line in markdown.split("\n"):
        starts.append(starts[-1] + len(line) + 1)

    def offset(line: int) -> int:
        return min(starts[min(line, len(starts) - 1)], len(markdown))

    regions: list[tuple[int, int]] = []
    for token in _parser().parse(markdown):
        if not token.map:
            continue
        first, last = offset(token.map[0]), offset(token.map[1])
        if token.type in ("fence", "code_block"):
            regions.append((first, last))
        elif token.type == "html_block" and _CODE_TAG.search(token.content):
            regions.append((first, last))
        elif token.type == "inline":
            regions.extend((first + a, first + b) for a, b in _code_spans(markdown[first:last]))
    return sorted(regions)


_CODE_TAG = re.compile(r"<(?:pre|code)\b", re.IGNORECASE)
_BACKTICKS = re.compile(r"(?<!\\)`+")
_HTML_CODE = re.compile(r"<code\b[^>]*>.*?</code>", re.IGNORECASE | re.DOTALL)


def _code_spans(text: str) -> list[tuple[int, int]]:
    """CommonMark code spans (a run of backticks closed by a run of the same length)
    and raw <code> elements, as ranges of `text`."""
    spans = [match.span() for match in _HTML_CODE.finditer(text)]
    runs = list(_BACKTICKS.finditer(text))
    i = 0
    while i < len(runs):
        opener = runs[i]
        closer = next(
            (j for j in range(i + 1, len(runs)) if len(runs[j][0]) == len(opener[0])), None
        )
        if closer is None:
            i += 1
            continue
        spans.append((opener.start(), runs[closer].end()))
        i = closer + 1
    return spans


def inline_text(children: Sequence[Token], urls: bool = False) -> str:
    """Inline tokens as plain text; with `urls`, a link reads `text (url)`."""
    parts: list[str] = []
    hrefs: list[tuple[str, int]] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(str(child.attrGet("alt") or child.content or ""))
        elif child.type == "html_inline" and child.content.lower().startswith("<br"):
            parts.append("\n")
        elif child.type == "link_open":
            hrefs.append((str(child.attrGet("href") or ""), len(parts)))
        elif child.type == "link_close" and hrefs:
            href, start = hrefs.pop()
            label = "".join(parts[start:]).strip()
            shown = href.removeprefix("mailto:")
            if urls and href and label not in (href, shown):
                parts.append(f" ({href})")
    text = "".join(parts)
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


def to_uri(url: str) -> str:
    """An IRI as a URI: spaces and non-ASCII percent-encoded, the host in IDNA.

    Feed readers and validators accept only URI characters in links and ids;
    existing %XX escapes are kept as they are.
    """
    parts = urlsplit(url.strip())
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.partition(":")
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = quote(host, safe="")
        netloc = f"{quote(userinfo, safe=':%')}{at}{host}{colon}{port}"
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe=_PATH_SAFE),
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )


def sanitize(fragment: str, base_url: str) -> str:
    """Allow-list sanitizing; every href and src made an absolute URI.

    Removes script, iframe, object, embed, style and link (with their content),
    event attributes and any URL scheme but http(s), mailto and tel.
    """

    def absolute(_tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            return to_uri(urljoin(base_url, value))
        if attribute == "class":  # a code block's language, nothing that restyles
            return value if _LANGUAGE_CLASS.fullmatch(value) else None
        return value

    return str(
        nh3.clean(
            fragment,
            tags=set(ALLOWED_TAGS),
            clean_content_tags=set(DROPPED_WITH_CONTENT),
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            attribute_filter=absolute,
            link_rel=None,
            url_schemes=set(URL_SCHEMES),
        )
    )


def anchor_hrefs(fragment: str) -> list[str]:
    """Every link target in sanitized HTML, unescaped, in document order."""
    return [html.unescape(match[2]) for match in _ANCHOR.finditer(fragment)]


def add_rel(fragment: str, wants_rel: Callable[[str], str | None]) -> str:
    """Give links a rel attribute (e.g. "sponsored") where `wants_rel(href)` says so.

    Works on sanitized HTML only, where every attribute is double-quoted and no link
    carries a rel yet.
    """

    def replace(match: re.Match[str]) -> str:
        rel = wants_rel(html.unescape(match[2]))
        if not rel:
            return match[0]
        return f'<a{match[1]}href="{match[2]}"{match[3]} rel="{rel}">'

    return _ANCHOR.sub(replace, fragment)


class _TextWriter(HTMLParser):
    """Sanitized HTML -> readable plain text (the text part of a full-post email)."""

    BLOCKS = frozenset(
        "p div h1 h2 h3 h4 h5 h6 blockquote pre figure figcaption table tr ul ol".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[tuple[str, int]] = []
        self.lists: list[list[int]] = []  # per open list: [next number] or [] for bullets
        self.pre = 0

    def _break(self, blank: bool = True) -> None:
        self.out.append("\n\n" if blank else "\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in self.BLOCKS:
            self._break(blank=tag not in ("tr",))
        if tag == "pre":
            self.pre += 1
        elif tag == "ul":
            self.lists.append([])
        elif tag == "ol":
            self.lists.append([int(attributes.get("start") or 1)])
        elif tag == "li":
            self._break(blank=False)
            indent = "  " * max(len(self.lists) - 1, 0)
            numbering = self.lists[-1] if self.lists else []
            if numbering:
                self.out.append(f"{indent}{numbering[0]}. ")
                numbering[0] += 1
            else:
                self.out.append(f"{indent}- ")
        elif tag == "br":
            self._break(blank=False)
        elif tag == "hr":
            self.out.append("\n\n----\n\n")
        elif tag == "img" and attributes.get("alt"):
            self.out.append(f"[{attributes['alt']}]")
        elif tag == "a":
            self.links.append((attributes.get("href") or "", len(self.out)))
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            if href and label not in (href, href.removeprefix("mailto:")):
                self.out.append(f" ({href})")
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "pre":
            self.pre -= 1
        if tag in self.BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        # Two leading spaces are a nested list's or a <pre>'s indent; one is collapsed
        # whitespace between tags.
        lines = [
            line.rstrip() if line.startswith("  ") else line.strip()
            for line in "".join(self.out).split("\n")
        ]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(fragment: str) -> str:
    """Sanitized HTML as plain text: paragraphs, lists, `text (url)` links, [alt]."""
    writer = _TextWriter()
    writer.feed(fragment)
    writer.close()
    return writer.text()


def ensure_alt(fragment: str) -> str:
    """Every <img> with an alt attribute (empty when the author gave none)."""
    return re.sub(r"<img\b(?![^>]*\balt=)", '<img alt=""', fragment)
