"""Markdown -> blocks -> safe HTML: the only module that imports the Markdown parsers
(markdown-it-pyrs, and markdown-it-py for inline-only captions) and nh3.

The body is parsed once into top-level blocks that keep their source lines and
tokens (markdown-it's flat inline stream), so the chrome rules, the disclosure
finder and the excerpt all look at the same structure the renderer uses, and nothing
is ever matched against HTML text. The kept blocks are rendered each from its own
lines, with the body's link definitions: the HTML markdown-it gives the whole body,
block for block.
"""

from __future__ import annotations

import html
import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from html.parser import HTMLParser
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import nh3

V = TypeVar("V")

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


class Inline(NamedTuple):
    """One inline token, as markdown-it's flat stream has it: "text", "softbreak",
    "hardbreak", "code_inline", "html_inline", "image" (its alt text as `content`),
    and "<x>_open" / "<x>_close" around emphasis, strikethrough and links."""

    type: str
    content: str = ""
    attrs: tuple[tuple[str, str], ...] = ()

    def attrGet(self, name: str) -> str | None:  # noqa: N802 (markdown-it's name)
        return next((value for key, value in self.attrs if key == name), None)


# Inline containers: the parser's node name -> the token names around their children.
_WRAPPERS = {
    "strong": "strong",
    "em": "em",
    "strikethrough": "s",
    "link": "link",
    "autolink": "link",
}
_KINDS = {"lheading": "heading"}  # the others keep the parser's name
_TAGS = {
    "paragraph": "p",
    "bullet_list": "ul",
    "ordered_list": "ol",
    "blockquote": "blockquote",
    "fence": "code",
    "code_block": "code",
    "hr": "hr",
    "table": "table",
}


class _once(Generic[V]):  # noqa: N801 (used as a decorator, like cached_property)
    """functools.cached_property without its lock: computed on first use and kept in
    the instance, which then answers by itself (the rules ask 10,000s of times)."""

    def __init__(self, compute: Callable[[Any], V]) -> None:
        self.compute = compute
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> V:
        value = self.compute(instance)
        instance.__dict__[self.name] = value
        return value


@dataclass(frozen=True)
class Block:
    """One top-level Markdown block and what the rules need to know about it."""

    kind: str  # paragraph, heading, bullet_list, ordered_list, blockquote, fence, ...
    tag: str  # "h1".."h6" for headings, "p", "ul", ...; "" for raw HTML
    first_line: int  # 1-based, in the body
    source: str  # the block's Markdown, whole lines, as the body writes it
    inline: tuple[Inline, ...] = field(repr=False)
    """The inline tokens of a paragraph or heading; of a list, quote or table, those
    of its first item, cell or paragraph (empty for code and raw HTML)."""
    stream: tuple[Inline, ...] = field(repr=False)
    """Every inline token of the block, nested ones too, and its raw HTML blocks (as
    "html_block" tokens), in document order."""
    references: str = field(default="", repr=False)  # the body's link definitions

    @_once
    def text(self) -> str:
        """Plain text of a paragraph or heading, whitespace collapsed."""
        return inline_text(self.inline)

    @_once
    def hrefs(self) -> tuple[str, ...]:
        """The Markdown links' targets."""
        return tuple(str(t.attrGet("href") or "") for t in self.stream if t.type == "link_open")

    def links(self, images: bool = False) -> list[str]:
        """The link targets the block holds as written: Markdown links and raw HTML
        `href`s and, with `images`, image sources (Markdown and HTML `src`) too."""
        raw = _RAW_LINK if images else _RAW_HREF
        found: list[str] = []
        for token in self.stream:
            if token.type in ("html_block", "html_inline"):
                found.extend(raw.findall(token.content))
            elif token.type == "link_open":
                found.append(str(token.attrGet("href") or ""))
            elif token.type == "image" and images:
                found.append(str(token.attrGet("src") or ""))
        return found


def _flatten(nodes: Sequence[Any], document: bytes, blocks: bool = False) -> Iterator[Inline]:
    """The parser's inline nodes as markdown-it's flat token stream (adjacent text
    joined, escapes and entities as text); with `blocks`, block nodes are walked
    through and raw HTML blocks given as tokens. Iterative: emphasis can nest
    100,000s deep in a hostile post."""
    pending = ""
    work: list[Any] = list(reversed(nodes))
    while work:
        node = work.pop()
        if isinstance(node, Inline):  # a closing token, queued behind its children
            if pending:
                yield Inline("text", pending)
                pending = ""
            yield node
            continue
        name = node.name
        if name == "text" or name == "text_special":
            pending += node.meta.get("content", "")
            continue
        if pending:
            yield Inline("text", pending)
            pending = ""
        if name in _WRAPPERS:
            wrapper = _WRAPPERS[name]
            meta = node.meta
            attrs: tuple[tuple[str, str], ...] = (("href", meta.get("url", "")),)
            if meta.get("title"):
                attrs += (("title", meta["title"]),)
            yield Inline(f"{wrapper}_open", attrs=attrs if wrapper == "link" else ())
            work.append(Inline(f"{wrapper}_close"))
            work.extend(reversed(node.children))
        elif name == "image":
            yield Inline("image", _written(node.children, document), (("src", node.meta["url"]),))
        elif name == "code_inline":
            yield Inline(name, "".join(c.meta.get("content", "") for c in node.children))
        elif name in ("softbreak", "hardbreak"):
            yield Inline(name)
        elif name in ("html_inline", "html_block"):
            if name == "html_inline" or blocks:
                yield Inline(name, node.meta.get("content", ""))
        elif blocks or name not in ("fence", "code_block"):
            work.extend(reversed(node.children))
    if pending:
        yield Inline("text", pending)


def _written(nodes: Sequence[Any], document: bytes) -> str:
    """The source of these inline nodes as the body writes them (an image's alt)."""
    if not nodes:
        return ""
    first, last = nodes[0].srcmap, nodes[-1].srcmap
    if first is None or last is None:
        return inline_text(tuple(_flatten(nodes, document)))
    return document[first[0] : last[1]].decode(errors="replace")


@cache
def _parser() -> Any:
    # CommonMark with raw HTML, plus GFM tables and strikethrough, which exports use.
    import markdown_it_pyrs

    return markdown_it_pyrs.MarkdownIt("commonmark").enable_many(["table", "strikethrough"])


def _deep_safe(markdown: str, work: Callable[[], V]) -> V:
    """work(), which parses `markdown`. The parser recurses once per level of
    nesting, and so does freeing its tree: a hostile post can nest 100,000s of
    levels deep, so one that could is parsed in a thread with a stack to match, and
    `work` returns no part of the parser's tree (it would be freed on this stack)."""
    if len(markdown) <= _SAFE_NESTING:  # no more levels than characters: most blocks
        return work()
    bound = sum(map(markdown.count, _NESTING_MARKS))
    if bound <= _SAFE_NESTING:
        return work()
    result: list[V] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # raised again below, in the caller's thread
            failed.append(exc)

    previous = threading.stack_size(min(_STACK_PER_LEVEL * bound + (1 << 24), _MAX_STACK))
    try:
        worker = threading.Thread(target=run)
        worker.start()
    finally:
        threading.stack_size(previous)
    worker.join()
    if failed:
        raise failed[0]
    return result[0]


_NESTING_MARKS = "*_~[>-+.)"  # every level of nesting starts with one of these
_SAFE_NESTING = 4000  # levels the main thread's stack holds with a wide margin
_STACK_PER_LEVEL = 1024  # bytes; a level takes under 512 (images in images, the deepest)
_MAX_STACK = 1 << 31  # reserved, not used: a 2 MB post nests at most 1,000,000 deep
# markdown-it's limit on nested blocks; deeper prefixes on a line are not followed.
_MAX_BLOCK_NESTING = 20
_MARK = r"(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t]))[ \t]*"  # a quote or list marker, its spaces
_DEEP_PREFIX = re.compile(
    rf"^([ \t]*(?:{_MARK}){{{_MAX_BLOCK_NESTING}}})(?:{_MARK})+", re.MULTILINE
)
# Whether _DEEP_PREFIX has anything to cut, found faster: a pattern led by "^" is
# tried at every character (140 us in a 13 KB body), one led by "\n" only where
# the fast search for that character stops.
_DEEP_FIRST_LINE = re.compile(rf"[ \t]*(?:{_MARK}){{{_MAX_BLOCK_NESTING + 1}}}")
_DEEP_LATER_LINE = re.compile(rf"\n[ \t]*(?:{_MARK}){{{_MAX_BLOCK_NESTING + 1}}}")


def parse_blocks(markdown: str) -> list[Block]:
    """Split a Markdown body into its top-level blocks."""
    if _DEEP_FIRST_LINE.match(markdown) or _DEEP_LATER_LINE.search(markdown):
        markdown = _DEEP_PREFIX.sub(r"\1", markdown)
    return _deep_safe(markdown, lambda: _blocks(markdown))


def _blocks(markdown: str) -> list[Block]:
    data = markdown.encode()
    nodes = _parser().tree(markdown).children
    if not nodes:
        return []
    line_starts = [0]
    for match in re.finditer(b"\n", data):
        line_starts.append(match.end())
    starts = [bisect_right(line_starts, node.srcmap[0]) - 1 for node in nodes]
    ends = starts[1:] + [len(line_starts)]
    definitions = _definitions(nodes)
    blocks: list[Block] = []
    for node, first, after in zip(nodes, starts, ends, strict=True):
        if node.name == "definition":
            continue
        stop = line_starts[after] if after < len(line_starts) else len(data)
        text = data[line_starts[first] : stop].decode()
        kind = _KINDS.get(node.name, node.name)
        tag = f"h{node.meta['level']}" if kind == "heading" else _TAGS.get(kind, "")
        stream = tuple(_flatten([node], data, blocks=True))
        inline = stream if kind in ("paragraph", "heading") else _first_inline(node, data)
        blocks.append(Block(kind, tag, first + 1, text, inline, stream, definitions))
    return blocks


def _first_inline(block: Any, document: bytes) -> tuple[Inline, ...]:
    """The inline tokens of the block's first paragraph, item or cell."""
    work = [block]
    while work:
        node = work.pop()
        children = node.children
        inline = [child for child in children if child.name in _INLINE_NODES]
        if inline:
            return tuple(_flatten(inline, document))
        if node.name not in ("fence", "code_block", "html_block"):
            work.extend(reversed(children))
    return ()


def _definitions(nodes: Sequence[Any]) -> str:
    """The body's link reference definitions, as lines that define them again (so a
    block rendered on its own still finds the links it names)."""
    found: list[str] = []
    work = list(reversed(nodes))
    while work:
        node = work.pop()
        if node.name == "definition":
            meta = node.meta
            title = str(meta.get("title") or "")
            escaped = title.replace("\\", "\\\\").replace('"', '\\"')
            found.append(
                f"[{meta['label']}]: <{meta['destination']}>" + (f' "{escaped}"' if title else "")
            )
        elif node.name in _CONTAINERS:
            work.extend(reversed(node.children))
    return "\n".join(found) + "\n\n" if found else ""


_CONTAINERS = frozenset({"blockquote", "bullet_list", "ordered_list", "list_item"})


def render_blocks(blocks: Iterable[Block]) -> str:
    """The HTML of the given blocks, unsanitized (pass it through `sanitize`)."""
    render = _parser().render
    sources = (block.references + block.source for block in blocks)
    return "".join(_deep_safe(source, partial(render, source)) for source in sources)


def render_inline(block: Block) -> str:
    """The HTML of a paragraph's content, without the <p> around it."""
    rendered = render_blocks([block])
    return rendered.removeprefix("<p>").removesuffix("\n").removesuffix("</p>")


def inline_html(markdown: str) -> str:
    """A line of Markdown (a caption) as inline HTML, unsanitized: its text never
    starts a block (a caption "1. Plate" is not a list)."""
    return str(_inline_parser().renderInline(markdown))


@cache
def _inline_parser() -> Any:
    # The fast parser renders whole documents only; captions are few and short.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["strikethrough"])


def code_regions(markdown: str) -> list[tuple[int, int]]:
    """The character ranges of `markdown` that are code: fenced and indented blocks,
    raw HTML blocks holding <pre> or <code>, and inline code spans. Template syntax
    inside them is shown as written, never resolved."""
    return _deep_safe(markdown, lambda: _code_regions(markdown))


def _code_regions(markdown: str) -> list[tuple[int, int]]:
    byte_starts = [0]
    char_starts = [0]
    for line in markdown.split("\n"):
        byte_starts.append(byte_starts[-1] + len(line.encode()) + 1)
        char_starts.append(char_starts[-1] + len(line) + 1)

    def lines(first: int, last: int) -> tuple[int, int]:
        """Whole lines holding the bytes first..last, as characters."""
        top = bisect_right(byte_starts, first) - 1
        bottom = bisect_right(byte_starts, max(last - 1, first))
        return char_starts[top], min(char_starts[min(bottom, len(char_starts) - 1)], len(markdown))

    regions: list[tuple[int, int]] = []
    work = list(_parser().tree(markdown).children)
    while work:
        node = work.pop()
        if node.srcmap is None:
            continue
        name = node.name
        if name in ("fence", "code_block") or (
            name == "html_block" and _CODE_TAG.search(node.meta.get("content", ""))
        ):
            regions.append(lines(*node.srcmap))
            continue
        inline = [c for c in node.children if c.name in _INLINE_NODES and c.srcmap]
        if inline:
            first, last = lines(inline[0].srcmap[0], inline[-1].srcmap[1])
            regions.extend((first + a, first + b) for a, b in _code_spans(markdown[first:last]))
        work.extend(c for c in node.children if c.name not in _INLINE_NODES)
    return sorted(regions)


_INLINE_NODES = frozenset(
    """text text_special softbreak hardbreak strong em strikethrough link autolink image
    code_inline html_inline""".split()
)
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


def inline_text(children: Sequence[Inline], urls: bool = False) -> str:
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
