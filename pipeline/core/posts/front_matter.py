"""A post file's text -> its front matter (a dict) and its body.

Reads every header a blog may come with: YAML (`---`, WordPress exports, Jekyll,
Hugo), TOML (`+++`, Hugo), JSON, and Pelican's "Title: ..." lines. Keys are
compared in lower case; values are cleaned of characters XML cannot carry. Typed
accessors turn values into text and name lists, or a PostError naming the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import BaseHandler, JSONHandler, YAMLHandler

from pipeline.core.errors import PostError

# The first key present wins; WordPress-export names first, then Jekyll/Hugo/Pelican.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "published": ("published_at", "date", "published", "pubdate", "publishdate"),
    "modified": ("modified_at", "updated", "lastmod", "modified"),
    "categories": ("taxonomy_category", "categories", "category"),
    "tags": ("taxonomy_post_tag", "tags", "tag", "keywords"),
    "excerpt": ("excerpt", "summary", "description"),
    "author": ("author", "authors"),
}

# Characters XML 1.0 forbids (C0 controls but tab, LF, CR; surrogates; U+FFFE/F), and
# the ones it discourages and feed validators flag (DEL and the C1 controls).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Pelican's own Markdown header: "Key: value" lines up to the first blank line.
_PELICAN_LINE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_-]*):[ \t]*(?P<value>.*)$")


class _TomlHandler(BaseHandler):
    """Hugo's `+++` TOML front matter, read with the standard library's tomllib."""

    FM_BOUNDARY = re.compile(r"^\+{3,}\s*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "+++"

    def load(self, fm: str, **kwargs: object) -> Any:
        return tomllib.loads(fm)


_HANDLERS = (YAMLHandler(), _TomlHandler(), JSONHandler())


def is_clean(raw: bytes) -> bool:
    """Whether UTF-8 bytes hold none of the characters `clean_text` removes: a scan
    of the bytes costs half the search of a text with an emoji (4 bytes a letter)."""
    if raw.translate(None, _LEGAL_BYTES):  # a C0 control or DEL
        return False
    if b"\xc2" not in raw and not holds_pair(raw, b"\xef\xbf"):
        return True
    return _ILLEGAL_UTF8.search(raw) is None  # C1 controls, U+FFFE and U+FFFF


def holds_pair(data: bytes, pair: bytes) -> bool:
    """`pair in data` for two bytes, by a memchr for the first: a search for both
    walks every byte (11 us at 13 KB), and the first is rare (the lead byte of
    U+F000-U+FFFF: an emoji's variation selector, or what is looked for)."""
    first = pair[:1]
    at = data.find(first)
    while at >= 0:
        if data.startswith(pair, at):
            return True
        at = data.find(first, at + 1)
    return False


_LEGAL_BYTES = bytes(b for b in range(256) if b in (9, 10, 13) or 0x20 <= b < 0x7F or b >= 0x80)
_ILLEGAL_UTF8 = re.compile(b"\xc2[\x80-\x9f]|\xef\xbf[\xbe\xbf]")


def clean_text(text: str) -> str:
    """Newlines unified; characters that XML 1.0 forbids or discourages removed."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:  # the regex tries each character, four times the cost of `is_clean`
        if is_clean(text.encode()):
            return text
    except UnicodeEncodeError:  # a lone surrogate: the regex removes it
        pass
    return _XML_ILLEGAL.sub("", text)


class _TextDatesLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """The safe (C) loader, but timestamps stay text: `parse_date` reads them and
    can say exactly what is wrong with an impossible one."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


MAX_FRONT_MATTER_CHARS = 100_000
MAX_FRONT_MATTER_VALUES = 10_000  # nodes: a YAML alias "bomb" shares them exponentially


class _TooLarge(Exception):
    pass


def _clean_values(value: Any, budget: list[int]) -> Any:
    """Values with XML-illegal characters removed: YAML escapes such as "\\x01" only
    become characters when parsed. Stops after MAX_FRONT_MATTER_VALUES nodes."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_values(item, budget) for item in value]
    if isinstance(value, dict):
        return {key: _clean_values(item, budget) for key, item in value.items()}
    return value


# The front matter CMS exports write: keys with one double-quoted string, or with a
# list of them. Read without YAML's (slow, pure Python) object construction; anything
# else -- escapes, plain scalars, anchors, comments -- goes to the YAML loader.
_QUICK_LINE = re.compile(  # one line: `key: "text"`, `key:`, `  - "text"`, or blank
    r'^(?:([A-Za-z_][A-Za-z0-9_-]*):(?: +(")([^"\\\n]*)")? *'
    r'| *(-) +"([^"\\\n]*)" *'
    r"| *)$",  # spaces only: libyaml refuses a tab in any of these places
    re.MULTILINE,
)
_YAML_WORDS = frozenset(
    "y yes n no true false on off null".split()
)  # keys YAML 1.1 reads as booleans or null: leave them to YAML


def _quick_yaml(text: str) -> dict[str, Any] | None:
    """The mapping, when `text` is in the exports' simple form; else None."""
    lines = _QUICK_LINE.findall(text)  # one regex pass in C, then a short loop
    if len(lines) != text.count("\n") + 1:
        return None  # a line of another form: YAML reads it
    result: dict[str, Any] = {}
    items: list[str] | None = None
    for key, quote, value, dash, item in lines:
        if dash:
            if items is None:
                return None
            items.append(item)
            continue
        if not key:
            continue  # a blank line
        if items == []:
            return None  # "key:" with no items is null in YAML
        if key in result or key.lower() in _YAML_WORDS:
            return None
        if quote:
            result[key] = value
            items = None
        else:
            items = result[key] = []
    return None if items == [] or not result else result


def split_front_matter(source: str, text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body). `text` has "\\n" line ends; the front matter is cleaned of
    XML-illegal characters here, the body is the caller's to clean (with clean_text)."""
    stripped = text.lstrip("\n")
    handler = frontmatter.detect_format(stripped, _HANDLERS)
    if handler is None:
        pelican = _pelican_header(source, stripped)
        if pelican is not None:
            return pelican
        raise PostError(
            source,
            "has no front matter",
            "start the file with a '---' line, then title: and date:, then '---'",
            line=1,
        )
    try:
        fm_text, body = (
            _yaml_split(stripped) if isinstance(handler, YAMLHandler) else handler.split(stripped)
        )
    except ValueError:
        raise PostError(
            source, "front matter is not closed", "end the front matter with a '---' line", line=1
        ) from None
    opening_line = text.count("\n", 0, len(text) - len(stripped)) + 1
    fm_text = clean_text(fm_text)
    if len(fm_text) > MAX_FRONT_MATTER_CHARS:
        raise PostError(
            source,
            f"front matter is {len(fm_text):,} characters long",
            f"keep it under {MAX_FRONT_MATTER_CHARS:,}: titles, dates, lists of names",
            line=opening_line,
        )
    if isinstance(handler, YAMLHandler):
        quick = _quick_yaml(fm_text)
        if quick is not None:  # already clean: no escapes could add characters
            return {key.lower(): value for key, value in reversed(quick.items())}, body
    try:
        if isinstance(handler, YAMLHandler):
            meta = handler.load(fm_text, Loader=_TextDatesLoader)
        else:
            meta = handler.load(fm_text)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise PostError(
            source,
            f"front matter uses a YAML tag that builds objects ({exc.problem})",
            "remove the !!tag: front matter holds text, numbers, dates and lists only",
            line=opening_line + mark.line if mark is not None else opening_line,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = opening_line + mark.line if mark is not None else opening_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PostError(
            source,
            f"front matter is not valid YAML: {problem}",
            "quote values that contain ':' or '#', and indent lists consistently",
            line=line,
        ) from None
    except ValueError as exc:  # TOML (+++) and JSON front matter
        raise PostError(source, f"front matter cannot be read: {exc}", "fix its syntax") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise PostError(
            source,
            f"front matter is a {type(meta).__name__}, not a set of 'key: value' lines",
            "write it as 'title: ...' and 'date: ...' lines",
            line=opening_line + 1,
        )
    return _normalized(source, meta, opening_line), body


def _yaml_split(text: str) -> tuple[str, str]:
    """`YAMLHandler.split`: the text between the first two boundary lines, and the
    text after them (ValueError: no second one). The second is looked for only where
    a line starts with "-": its regex, tried at every character of the front matter,
    cost 5 us a post."""
    boundary = _YAML_BOUNDARY
    first = boundary.match(text)  # detect_format found it there
    if first is None:
        raise ValueError("no front matter")
    at = first.end()
    while (line := text.find("\n-", at)) >= 0:
        second = boundary.match(text, line + 1)
        if second is not None:
            return text[first.end() : second.start()], text[second.end() :]
        at = line + 1
    raise ValueError("front matter is not closed")


_YAML_BOUNDARY = YAMLHandler.FM_BOUNDARY


def _normalized(source: str, meta: Mapping[Any, Any], line: int = 1) -> dict[str, Any]:
    """Keys in lower case (the first spelling wins), values cleaned."""
    result: dict[str, Any] = {}
    budget = [MAX_FRONT_MATTER_VALUES]
    try:
        for key, value in meta.items():
            result.setdefault(str(key).lower(), _clean_values(value, budget))
    except _TooLarge:
        raise PostError(
            source,
            f"front matter holds more than {MAX_FRONT_MATTER_VALUES:,} values "
            "(nested YAML aliases?)",
            "write plain keys with short lists; do not use YAML anchors and aliases",
            line=line,
        ) from None
    return result


def _pelican_header(source: str, text: str) -> tuple[dict[str, Any], str] | None:
    """Pelican's "Title: ..." lines before the first blank line, if the file has them."""
    head, _, body = text.partition("\n\n")
    fields = [_PELICAN_LINE.match(line) for line in head.splitlines()]
    if not fields or not all(fields):
        return None
    meta = {m["key"]: m["value"].strip() for m in fields if m is not None}
    if "title" not in {key.lower() for key in meta}:
        return None
    return _normalized(source, meta), body


def field(meta: Mapping[str, Any], name: str) -> tuple[str, Any]:
    """(the key used, its value) for a field known by several names (FIELD_ALIASES)."""
    for key in FIELD_ALIASES[name]:
        if meta.get(key) not in (None, ""):
            return key, meta[key]
    return FIELD_ALIASES[name][0], None


def as_text(source: str, key: str, value: Any) -> str:
    """A scalar as text; lists, mappings and true/false are a PostError naming the key."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise PostError(
        source, f"'{key}' must be text, not {type(value).__name__}", f"write {key}: ..."
    )


def as_names(source: str, key: str, value: Any) -> tuple[str, ...]:
    """A list of category or tag names; a single name or a comma list is fine too."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise PostError(source, f"'{key}' must be a list of names", f'write {key}: ["a", "b"]')
    names: list[str] = []
    for item in items:
        name = " ".join(as_text(source, key, item).split())
        if name and name not in names:
            names.append(name)
    return tuple(names)
