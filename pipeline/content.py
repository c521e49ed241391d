"""A post file's bytes -> Post: front matter, identity, dates, body, excerpt, disclosures.

Pure: takes the bytes and the configuration, returns a Post or raises PostError
naming the file, the field and what to change. The front matter of WordPress
exports, Jekyll, Hugo and Pelican is understood (see FIELD_ALIASES).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from fnmatch import fnmatch
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import frontmatter
import yaml
from frontmatter.default_handlers import BaseHandler, JSONHandler, YAMLHandler

from pipeline.chrome import strip_chrome
from pipeline.config import Config
from pipeline.dates import DateError, parse_date
from pipeline.errors import PostError
from pipeline.markup import (
    Block,
    add_rel,
    anchor_hrefs,
    inline_text,
    parse_blocks,
    render_blocks,
    render_inline,
    sanitize,
)
from pipeline.model import Disclosure, Post

logger = logging.getLogger(__name__)

# The first key present wins; WordPress-export names first, then Jekyll/Hugo/Pelican.
# Keys are compared in lower case (Pelican writes "Title:").
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "published": ("published_at", "date", "published", "pubdate", "publishdate"),
    "modified": ("modified_at", "updated", "lastmod", "modified"),
    "categories": ("taxonomy_category", "categories", "category"),
    "tags": ("taxonomy_post_tag", "tags", "tag", "keywords"),
    "excerpt": ("excerpt", "summary", "description"),
    "author": ("author", "authors"),
}
PUBLISHED_STATUSES = frozenset({"publish", "published"})
NOT_POSTS = frozenset({"page", "attachment", "nav_menu_item", "revision"})

# Characters XML 1.0 forbids (all C0 controls but tab, LF, CR; surrogates; U+FFFE/F).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)$")
_DISCLOSURE_WORD = re.compile(r"\b(disclosures?|disclaimers?)\b", re.IGNORECASE)
_RAW_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
# Pelican's own Markdown header: "Key: value" lines up to the first blank line.
_PELICAN_LINE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_-]*):[ \t]*(?P<value>.*)$")


class _TomlHandler(BaseHandler):
    """Hugo's `+++` TOML front matter, read with the standard library's tomllib."""

    FM_BOUNDARY = re.compile(r"^\+{3,}\s*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "+++"

    def load(self, fm: str, **kwargs: object) -> Any:
        return tomllib.loads(fm)


_HANDLERS = (YAMLHandler(), _TomlHandler(), JSONHandler())


def clean_text(text: str) -> str:
    """Newlines unified and characters that XML 1.0 forbids removed."""
    return _XML_ILLEGAL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def read_post(source: str, raw: bytes, config: Config) -> Post:
    """Read one post file. `source` is its path under content/, for messages."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PostError(
            source,
            f"is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#x})",
            "save the file as UTF-8 in your editor",
        ) from None
    meta, body = _split_front_matter(source, clean_text(text))
    return _build_post(source, meta, body, raw, config)


class _TextDatesLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """The safe (C) loader, but timestamps stay text: `parse_date` reads them and
    can say exactly what is wrong with an impossible one."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _clean_values(value: Any) -> Any:
    """Front-matter values with XML-illegal characters removed (YAML escapes such as
    "\x01" only become characters when parsed)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_values(item) for item in value]
    if isinstance(value, dict):
        return {key: _clean_values(item) for key, item in value.items()}
    return value


def _split_front_matter(source: str, text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body)."""
    stripped = text.lstrip("\n")
    handler = frontmatter.detect_format(stripped, _HANDLERS)
    if handler is None:
        pelican = _pelican_header(stripped)
        if pelican is not None:
            return pelican
        raise PostError(
            source,
            "has no front matter",
            "start the file with a '---' line, then title: and date:, then '---'",
            line=1,
        )
    try:
        fm_text, body = handler.split(stripped)
    except ValueError:
        raise PostError(
            source, "front matter is not closed", "end the front matter with a '---' line", line=1
        ) from None
    opening_line = text.count("\n", 0, len(text) - len(stripped)) + 1
    try:
        if isinstance(handler, YAMLHandler):
            meta = handler.load(fm_text, Loader=_TextDatesLoader)
        else:
            meta = handler.load(fm_text)
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
    return _normalized(meta), body


def _normalized(meta: Mapping[Any, Any]) -> dict[str, Any]:
    """Keys in lower case (the first spelling wins), values cleaned."""
    result: dict[str, Any] = {}
    for key, value in meta.items():
        result.setdefault(str(key).lower(), _clean_values(value))
    return result


def _pelican_header(text: str) -> tuple[dict[str, Any], str] | None:
    """Pelican's "Title: ..." lines before the first blank line, if the file has them."""
    head, _, body = text.partition("\n\n")
    fields = [_PELICAN_LINE.match(line) for line in head.splitlines()]
    if not fields or not all(fields):
        return None
    meta = {m["key"]: m["value"].strip() for m in fields if m is not None}
    if "title" not in {key.lower() for key in meta}:
        return None
    return _normalized(meta), body


def _first(meta: Mapping[str, Any], field: str) -> tuple[str, Any]:
    for key in FIELD_ALIASES[field]:
        if meta.get(key) not in (None, ""):
            return key, meta[key]
    return FIELD_ALIASES[field][0], None


def _text(source: str, key: str, value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise PostError(
        source, f"'{key}' must be text, not {type(value).__name__}", f"write {key}: ..."
    )


def _names(source: str, key: str, value: Any) -> tuple[str, ...]:
    """A list of category or tag names; a single name or a comma list is fine too."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise PostError(source, f"'{key}' must be a list of names", f'write {key}: ["a", "b"]')
    names: list[str] = []
    for item in items:
        name = " ".join(_text(source, key, item).split())
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _date(source: str, key: str, value: Any, config: Config) -> datetime:
    try:
        moment, _naive = parse_date(value, config.site.timezone)
    except DateError as exc:
        raise PostError(
            source,
            f"'{key}' {exc}",
            f"write {key}: 2026-05-19T15:50:46+00:00 (ISO 8601, offset optional)",
        ) from None
    return moment


def _is_unpublished(meta: Mapping[str, Any]) -> bool:
    status = meta.get("status")
    if status is not None and str(status).strip().lower() not in PUBLISHED_STATUSES:
        return True
    draft = meta.get("draft")
    if draft is True or (isinstance(draft, str) and draft.strip().lower() in ("true", "yes")):
        return True
    return str(meta.get("type", "")).strip().lower() in NOT_POSTS


def _slug(meta: Mapping[str, Any], source: str) -> str:
    if meta.get("slug") not in (None, ""):
        return _text(source, "slug", meta["slug"]).strip().strip("/")
    stem = PurePosixPath(source).stem
    match = _DATED_NAME.match(stem)
    return match[2] if match else stem


def _post_url(
    meta: Mapping[str, Any], source: str, slug: str, published: datetime, config: Config
) -> str:
    site_url = config.site.url
    if meta.get("url") not in (None, ""):
        url = urljoin(site_url, _text(source, "url", meta["url"]).strip())
    else:
        url = config.site.permalink.format(
            site_url=site_url,
            slug=slug,
            year=f"{published.year:04d}",
            month=f"{published.month:02d}",
            day=f"{published.day:02d}",
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PostError(
            source, f"url {url!r} is not an absolute http(s) URL", "write url: https://..."
        )
    return url


def make_entry_id(pattern: str, site_url: str, raw_id: str, identity: str, url: str) -> str:
    """The feed id of a post; stable because it depends on the identity only."""
    stable_uuid = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, site_url + '#' + identity)}"
    if pattern == "wordpress":
        if raw_id.isdigit():
            return f"{site_url}?p={raw_id}"  # WordPress's own guid: old subscribers see no repeats
        if urlsplit(identity).scheme in ("http", "https"):
            return identity
        return stable_uuid
    return pattern.format(
        site_url=site_url, id=raw_id, identity=identity, url=url, uuid=stable_uuid
    )


def _build_post(source: str, meta: dict[str, Any], body: str, raw: bytes, config: Config) -> Post:
    title_value = meta.get("title")
    if title_value in (None, ""):
        raise PostError(source, "has no title", 'add title: "..." to the front matter')
    title = " ".join(_text(source, "title", title_value).split())

    key, value = _first(meta, "published")
    if value is None:
        dated = _DATED_NAME.match(PurePosixPath(source).stem)
        if not dated:
            raise PostError(
                source,
                "has no publication date",
                "add published_at: 2026-05-19T15:50:46+00:00 (or date:) to the front matter",
            )
        key, value = "date (from the file name)", dated[1]
    published = _date(source, key, value, config)
    mkey, mvalue = _first(meta, "modified")
    modified = published if mvalue is None else _date(source, mkey, mvalue, config)
    warnings: list[str] = []
    if modified < published:
        warnings.append(
            f"{source}: '{mkey}' ({mvalue}) is before the publication date; "
            "the publication date is used as the last change"
        )
        modified = published

    slug = _slug(meta, source)
    url = _post_url(meta, source, slug, published, config)
    raw_id = "" if meta.get("id") in (None, "") else _text(source, "id", meta["id"]).strip()
    if raw_id:
        identity = raw_id
    elif meta.get("url") not in (None, ""):
        identity = url
    elif meta.get("slug") not in (None, ""):
        identity = slug
    else:
        identity = source

    is_affiliate = affiliate_matcher(config.affiliate_hosts)
    stripped = strip_chrome(parse_blocks(body), title, published, config.site.timezone)
    blocks = stripped.blocks
    author_key, author_value = _first(meta, "author")
    if isinstance(author_value, list) and author_value:
        author_value = author_value[0]
    if author_value is not None:
        author = _text(source, author_key, author_value)
    else:
        author = stripped.author or config.site.author
    body_disclosures: list[tuple[int, Disclosure]] = []
    for index, block in enumerate(blocks):
        found = _disclosure(block, url, is_affiliate, "body")
        if found:
            body_disclosures.append((index, found))
    given = _front_matter_disclosures(source, meta.get("disclosures"), url, is_affiliate)

    # Affiliate links in the kept blocks, resolved as the sanitizer will resolve them.
    first_affiliate = next(
        (
            i
            for i, block in enumerate(blocks)
            if any(is_affiliate(urljoin(url, h)) for h in _hrefs(block))
        ),
        None,
    )
    lead: list[Disclosure] = list(given)  # shown before the body
    kept = list(blocks)
    if first_affiliate is not None and not any(d.kind == "affiliate" for d in given):
        late = [
            (i, d) for i, d in body_disclosures if d.kind == "affiliate" and i > first_affiliate
        ]
        early = [d for i, d in body_disclosures if d.kind == "affiliate" and i < first_affiliate]
        if late and not early:
            # Compliance first: the disclosure must be read before the first affiliate link.
            index, moved = late[0]
            lead.append(moved)
            kept = [b for i, b in enumerate(blocks) if i != index]
    disclosures = list(given) + [d for _, d in body_disclosures]
    fragment = sanitize(render_blocks(kept), url)
    fragment = add_rel(fragment, lambda href: "sponsored" if is_affiliate(href) else None)
    affiliate_links = tuple(h for h in anchor_hrefs(fragment) if is_affiliate(h))
    if affiliate_links and not any(d.kind == "affiliate" for d in disclosures):
        default = parse_disclosure(config.affiliate_disclosure, url, is_affiliate, "site default")
        lead.append(default)
        disclosures.append(default)
        warnings.append(
            f"{source}: has affiliate links but no affiliate disclosure; "
            "the site's default disclosure is added (write your own: a paragraph starting "
            "**Affiliate disclosure:**)"
        )
    lead_html = "".join(f"<p>{d.html}</p>\n" for d in lead)

    excerpt_key, excerpt_value = _first(meta, "excerpt")
    if excerpt_value is not None:
        excerpt = _text(source, excerpt_key, excerpt_value).strip()
    else:
        disclosed = {i for i, _ in body_disclosures}
        paragraphs = [
            b.text for i, b in enumerate(blocks) if b.kind == "paragraph" and i not in disclosed
        ]
        excerpt = make_excerpt(paragraphs, config.excerpt_length)

    ckey, categories = _first(meta, "categories")
    tkey, tags = _first(meta, "tags")
    return Post(
        identity=identity,
        source=source,
        content_hash=hashlib.sha256(raw).hexdigest(),
        title=title,
        url=url,
        entry_id=make_entry_id(config.feed.entry_id, config.site.url, raw_id, identity, url),
        published=published,
        modified=modified,
        draft=_is_unpublished(meta),
        categories=_names(source, ckey, categories),
        tags=_names(source, tkey, tags),
        author=" ".join(author.split()),
        excerpt=excerpt,
        html=lead_html + fragment,
        disclosures=tuple(disclosures),
        affiliate_links=affiliate_links,
        warnings=tuple(warnings),
    )


def _hrefs(block: Block) -> list[str]:
    found = list(block.hrefs)
    for token in block.tokens:
        if token.type == "html_block":
            found.extend(_RAW_HREF.findall(token.content))
        for child in token.children or ():
            if child.type == "html_inline":
                found.extend(_RAW_HREF.findall(child.content))
    return found


def _disclosure_label(block: Block) -> str | None:
    """The bold label if the paragraph is a disclosure (after an optional emoji)."""
    if block.kind != "paragraph":
        return None
    children = block.inline
    start = 0
    if (
        children
        and children[0].type == "text"
        and not any(c.isalnum() for c in children[0].content)
    ):
        start = 1
    if start >= len(children) or children[start].type != "strong_open":
        return None
    close = next(
        (i for i in range(start + 1, len(children)) if children[i].type == "strong_close"), None
    )
    if close is None:
        return None
    label = inline_text(children[start + 1 : close])
    return label if _DISCLOSURE_WORD.search(label) else None


def _kind(words: str) -> str:
    lowered = words.lower()
    if "affiliate" in lowered or "sponsor" in lowered or "commission" in lowered:
        return "affiliate"
    if "medical" in lowered or "health" in lowered:
        return "medical"
    return "other"


def _disclosure(block: Block, base_url: str, is_affiliate: Any, origin: str) -> Disclosure | None:
    label = _disclosure_label(block)
    if label is None:
        return None
    return _make_disclosure(block, label, base_url, is_affiliate, origin)


def _make_disclosure(
    block: Block, label: str, base_url: str, is_affiliate: Any, origin: str
) -> Disclosure:
    inner = sanitize(render_inline(block), base_url)
    inner = add_rel(inner, lambda href: "sponsored" if is_affiliate(href) else None)
    text = inline_text(block.inline, urls=True)
    return Disclosure(kind=_kind(label or text), label=label, html=inner, text=text, origin=origin)


def parse_disclosure(markdown: str, base_url: str, is_affiliate: Any, origin: str) -> Disclosure:
    """A disclosure written as one Markdown paragraph (front matter or configuration)."""
    blocks = [b for b in parse_blocks(markdown) if b.kind == "paragraph"]
    if len(blocks) != 1:
        raise ValueError("a disclosure must be one paragraph of text")
    label = _disclosure_label(blocks[0]) or ""
    return _make_disclosure(blocks[0], label, base_url, is_affiliate, origin)


def _front_matter_disclosures(
    source: str, value: Any, base_url: str, is_affiliate: Any
) -> list[Disclosure]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise PostError(
            source,
            "'disclosures' must be a list of paragraphs",
            'write disclosures: ["**Affiliate disclosure:** This post contains affiliate links."]',
        )
    found = []
    for item in items:
        try:
            found.append(parse_disclosure(item, base_url, is_affiliate, "front matter"))
        except ValueError as exc:
            raise PostError(
                source, f"'disclosures': {exc}", "write each as one paragraph"
            ) from None
    return found


def make_excerpt(paragraphs: Sequence[str], length: int) -> str:
    """The first paragraphs, cut at a word boundary near `length`, ending in `…`.

    Text that fits whole is returned as it is: the `…` only ever marks a cut.
    """
    text = ""
    for paragraph in paragraphs:
        text = f"{text} {paragraph}" if text else paragraph
        if len(text) > length:
            break
    else:
        return text
    head = text[: length + 1].rpartition(" ")[0] or text[:length]
    return head.rstrip(" ,;:—–-") + "…"


def affiliate_matcher(patterns: Sequence[str]) -> Any:
    """A predicate on URLs from patterns like `amzn.to` or `amazon.*?tag`.

    A pattern is a host (subdomains match too; `*` matches one label) and, after
    `?`, a query parameter that must be present.
    """
    rules = []
    for pattern in patterns:
        host, _, param = pattern.lower().partition("?")
        rules.append((host, param))

    def is_affiliate(url: str) -> bool:
        parts = urlsplit(url)
        hostname = (parts.hostname or "").lower()
        if not hostname:
            return False
        labels = hostname.split(".")
        for host, param in rules:
            size = host.count(".") + 1
            for start in range(len(labels) - size + 1):
                candidate = ".".join(labels[start : start + size])
                tail_ok = start + size == len(labels)
                if fnmatch(candidate, host) and (tail_ok or host.endswith("*")):
                    if not param or param in parse_qs(parts.query):
                        return True
        return False

    return is_affiliate
