"""A post file's bytes -> Post: identity, URL, dates, state, body, excerpt.

Pure: takes the bytes and the configuration, returns a Post or raises PostError
naming the file, the field and what to change. The front matter is read by
`metadata`, the body's chrome removed by `chrome`, its disclosures placed by
`disclosures`.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import posixpath
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

from pipeline.core.dates import DateError, parse_date
from pipeline.core.errors import PostError
from pipeline.core.model import Finding, Header, Post
from pipeline.core.posts.chrome import strip_chrome
from pipeline.core.posts.disclosures import arrange_body
from pipeline.core.posts.front_matter import (
    as_names,
    as_text,
    clean_text,
    field,
    is_clean,
    split_front_matter,
)
from pipeline.core.posts.images import featured_image
from pipeline.core.posts.markup import Block, parse_blocks, to_uri
from pipeline.core.posts.permalinks import Facts, expand
from pipeline.core.posts.templating.lookup import Lookup, NoLookup, Recorder
from pipeline.core.posts.templating.quick import has_template_syntax, may_leave_tags
from pipeline.core.posts.templating.work import Place, Resolved, TagProblem
from pipeline.core.settings import Config

PUBLISHED_STATUSES = frozenset({"publish", "published"})
NOT_POSTS = frozenset({"page", "attachment", "nav_menu_item", "revision"})
_DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)$")


def read_post(source: str, raw: bytes, config: Config, lookup: Lookup | None = None) -> Post:
    """Read one post file, body and all. `source` is its path under content/; the
    `lookup` answers for the other posts its links name."""
    meta, body, first_line = _split(source, raw)
    header = _header(source, meta, raw, config, body, first_line, includes=lookup)
    return _render(header, meta, clean_text(body), first_line, config, lookup or NoLookup())


def read_post_and_links(
    source: str, raw: bytes, config: Config, lookup: Lookup | None = None
) -> tuple[Post, list[str] | None]:
    """The post, and the link and image targets as its body writes them (before the
    chrome is taken away and links are made absolute), for `check`'s rules, from the
    same parse; None when the body had template syntax (what was parsed was the
    resolved text, not the written one)."""
    meta, body, first_line = _split(source, raw)
    header = _header(source, meta, raw, config, body, first_line, includes=lookup)
    targets: list[str] = []
    seen: list[bool] = []

    def written(blocks: list[Block]) -> None:
        seen.append(True)
        targets.extend(target for block in blocks for target in block.links(images=True))

    post = _render(
        header, meta, clean_text(body), first_line, config, lookup or NoLookup(), written
    )
    return post, targets if seen else None


def read_header(source: str, raw: bytes, config: Config, includes: Lookup | None = None) -> Header:
    """Read what deciding needs (front matter, identity, dates, state), not the whole
    body: only whether its template syntax can be resolved (`includes` answers for
    the include files; links to other posts are the rendering's to resolve). Every
    error `read_post` raises for the front matter, this raises too."""
    meta, body, first_line, start = _split_at(source, raw)
    leaves = _leaves(raw, body, start)
    return _header(source, meta, raw, config, body, first_line, includes=includes, leaves=leaves)


class HeaderAndBody(NamedTuple):
    """What `check` looks at before deciding to render a post."""

    header: Header
    meta: dict[str, Any]  # the front matter
    body: str  # cleaned as rendering cleans it
    templated: bool  # whether the body could hold template syntax
    as_written: bool  # whether the file's bytes hold the body unchanged (no CR, clean)


def read_header_and_body(
    source: str, raw: bytes, config: Config, includes: Lookup | None = None
) -> HeaderAndBody:
    """The header, with the front matter and the body it was read from."""
    meta, body, first_line, start = _split_at(source, raw)
    leaves = _leaves(raw, body, start)
    header = _header(source, meta, raw, config, body, first_line, includes=includes, leaves=leaves)
    if is_clean(raw):  # nearly always: the body as it is, and what was found in it
        as_written = start >= 0  # no newline unified: the bytes hold the body
        templated = has_template_syntax(body, leaves, raw if as_written else None, start)
        return HeaderAndBody(header, meta, body, templated, as_written)
    body = clean_text(body)
    return HeaderAndBody(header, meta, body, has_template_syntax(body), False)


def template_tags(source: str, raw: bytes, config: Config, lookup: Lookup) -> Resolved:
    """The post's template syntax, resolved against the site (for `check`)."""
    meta, body, first_line = _split(source, raw)
    from pipeline.core.posts.templating.resolve import resolve  # only posts that need it

    header = _header(source, meta, raw, config, body, first_line, strict=False)
    return resolve(clean_text(body), _place(header, meta, first_line, config), lookup)


def _split(source: str, raw: bytes) -> tuple[dict[str, Any], str, int]:
    meta, body, first_line, _start = _split_at(source, raw)
    return meta, body, first_line


def _split_at(source: str, raw: bytes) -> tuple[dict[str, Any], str, int, int]:
    """(front matter, body, the body's first line, where the body starts in `raw`:
    -1 when newlines were unified, so the bytes are not the body's). The body is
    always the end of the decoded text: every form of front matter is split off
    its start."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PostError(
            source,
            f"is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#x})",
            "save the file as UTF-8 in your editor",
        ) from None
    # Newlines unified here; XML-illegal characters are removed from the front matter
    # by split_front_matter, and from the body only when it is rendered.
    unified = b"\r" in raw  # a scan of the bytes: the text's copies cost 4x with an emoji
    if unified:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta, body = split_front_matter(source, text)
    head = len(text) - len(body)
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    start = -1 if unified else bom + len(text[:head].encode())
    return meta, body, text.count("\n", 0, head) + 1, start


def _leaves(raw: bytes, body: str, start: int) -> bool:
    """`may_leave_tags(body)`, searching the file's bytes from `start` when they
    hold the body as it is."""
    return may_leave_tags(body) if start < 0 else may_leave_tags(body, raw, start)


def _date(source: str, key: str, value: Any, config: Config, warnings: list[Finding]) -> datetime:
    try:
        moment, naive = parse_date(value, config.site.timezone)
    except DateError as exc:
        raise PostError(
            source,
            f"'{key}' {exc}",
            f"write {key}: 2026-05-19T15:50:46+00:00 (ISO 8601, offset optional)",
        ) from None
    if naive and config.site.timezone is None:
        warnings.append(
            Finding(
                "naive-date",
                source,
                f"'{key}' has no time zone and [site] timezone is not set, so it is "
                "read as UTC; set timezone in newsletter.toml (or write an offset)",
                key=key,
            )
        )
    # Whole seconds, as the ledger and every feed store them: a fraction kept here
    # would make the post look modified again at every build.
    return moment.replace(microsecond=0)


def _is_unpublished(meta: Mapping[str, Any]) -> bool:
    status = meta.get("status")
    if status is not None and str(status).strip().lower() not in PUBLISHED_STATUSES:
        return True
    draft = meta.get("draft")
    if draft is True or (isinstance(draft, str) and draft.strip().lower() in ("true", "yes")):
        return True
    return str(meta.get("type", "")).strip().lower() in NOT_POSTS


def _stem(source: str) -> str:
    """The file name without its suffix (a path under content/, "/"-separated)."""
    return posixpath.splitext(posixpath.basename(source))[0]


def _slug(meta: Mapping[str, Any], source: str) -> str:
    if meta.get("slug") not in (None, ""):
        return as_text(source, "slug", meta["slug"]).strip().strip("/")
    stem = _stem(source)
    if stem in ("index", "_index") and "/" in source:  # a Hugo page bundle: its folder
        stem = posixpath.basename(posixpath.dirname(source))
    match = _DATED_NAME.match(stem)
    return match[2] if match else stem


# An absolute http(s) URL of plain characters only: joining, encoding and checking
# would give it back unchanged (a test holds the two paths equal), so it skips them.
PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?")


def _post_url(meta: Mapping[str, Any], source: str, facts: Facts, config: Config) -> str:
    site_url = config.site.url
    for key in ("url", "permalink"):  # the post's own, then the site's pattern
        if meta.get(key) not in (None, ""):
            given = as_text(source, key, meta[key]).strip()
            if PLAIN_URL.fullmatch(given):
                return given
            if key == "url" or "://" in given:
                return _checked_url(source, urljoin(site_url, given))
            pattern = given
            break
    else:
        pattern = config.site.permalink
    url = expand(pattern, config.site.permalink_style, site_url, facts, config.site.timezone)
    if PLAIN_URL.fullmatch(url):
        return url
    return _checked_url(source, url)


def _checked_url(source: str, url: str) -> str:
    """Any other URL: made a URI (encoded, IDNA), and refused unless absolute http(s)."""
    url = to_uri(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PostError(
            source, f"url {url!r} is not an absolute http(s) URL", "write url: https://..."
        )
    return url


def make_entry_id(pattern: str, site_url: str, raw_id: str, identity: str, url: str) -> str:
    """The feed id of a post; stable because it depends on the identity only."""
    if pattern == "wordpress":
        if raw_id.isdigit():
            return f"{site_url}?p={raw_id}"  # WordPress's own guid: old subscribers see no repeats
        if urlsplit(identity).scheme in ("http", "https"):
            return identity
        return _stable_uuid(site_url, identity)
    stable_uuid = _stable_uuid(site_url, identity) if "{uuid}" in pattern else ""
    return pattern.format(
        site_url=site_url, id=raw_id, identity=identity, url=url, uuid=stable_uuid
    )


def _stable_uuid(site_url: str, identity: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, site_url + '#' + identity)}"


def _header(
    source: str,
    meta: dict[str, Any],
    raw: bytes,
    config: Config,
    body: str,
    first_line: int,
    strict: bool = True,
    includes: Lookup | None = None,
    leaves: bool | None = None,
) -> Header:
    """`leaves`: what `may_leave_tags` said of the body, when known."""
    title_value = meta.get("title")
    if title_value in (None, ""):
        raise PostError(source, "has no title", 'add title: "..." to the front matter')
    title = " ".join(as_text(source, "title", title_value).split())
    if not title:
        raise PostError(source, "has an empty title", 'write the title: title: "..."')

    key, value = field(meta, "published")
    if value is None:
        dated = _DATED_NAME.match(_stem(source))
        if not dated:
            raise PostError(
                source,
                "has no publication date",
                "add published_at: 2026-05-19T15:50:46+00:00 (or date:) to the front matter",
            )
        key, value = "date (from the file name)", dated[1]
    warnings: list[Finding] = []
    published = _date(source, key, value, config, warnings)
    mkey, mvalue = field(meta, "modified")
    modified = published if mvalue is None else _date(source, mkey, mvalue, config, warnings)
    if modified < published:
        warnings.append(
            Finding(
                "modified-before-published",
                source,
                f"'{mkey}' ({mvalue}) is before the publication date; "
                "the publication date is used as the last change",
                key=mkey,
            )
        )
        modified = published

    slug = _slug(meta, source)
    ckey, categories = field(meta, "categories")
    category_names = as_names(source, ckey, categories)
    facts = Facts(
        slug, meta.get("slug") not in (None, ""), title, published, category_names, source
    )
    url = _post_url(meta, source, facts, config)
    raw_id = "" if meta.get("id") in (None, "") else as_text(source, "id", meta["id"]).strip()
    if raw_id:
        identity = raw_id
    elif meta.get("url") not in (None, ""):
        identity = url
    elif meta.get("slug") not in (None, ""):
        identity = slug
    else:
        identity = source

    author_key, author_value = field(meta, "author")
    if isinstance(author_value, list) and author_value:
        author_value = author_value[0]
    author = "" if author_value is None else as_text(source, author_key, author_value)
    excerpt_key, excerpt_value = field(meta, "excerpt")
    excerpt = "" if excerpt_value is None else as_text(source, excerpt_key, excerpt_value).strip()
    given = meta.get("disclosures")
    if given is not None and not (
        isinstance(given, str)
        or (isinstance(given, list) and all(isinstance(g, str) for g in given))
    ):
        raise PostError(
            source,
            "'disclosures' must be a list of paragraphs",
            'write disclosures: ["**Affiliate disclosure:** This post contains affiliate links."]',
        )
    tkey, tags = field(meta, "tags")
    header = Header(
        identity=identity,
        source=source,
        content_hash=hashlib.sha256(raw).hexdigest(),
        title=title,
        url=url,
        entry_id=make_entry_id(config.feed.entry_id, config.site.url, raw_id, identity, url),
        published=published,
        modified=modified,
        draft=_is_unpublished(meta),
        categories=category_names,
        tags=as_names(source, tkey, tags),
        author=" ".join((author or config.site.author).split()),
        excerpt=excerpt,
        warnings=tuple(warnings),
    )
    if not strict or not (may_leave_tags(body) if leaves is None else leaves):
        return header
    from pipeline.core.posts.templating.resolve import resolve  # only posts that need it

    left = resolve(body, _place(header, meta, first_line, config), includes or NoLookup()).left
    if left and config.build.unknown_tags == "reject":
        first = left[0]
        more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
        raise PostError(source, f"{first.message}: {first.tag}{more}", first.hint, line=first.line)
    return replace(header, warnings=header.warnings + tuple(_tag_warning(source, p) for p in left))


def _resolved(body: str, place: Place, lookup: Lookup) -> Resolved:
    if not has_template_syntax(body):
        return Resolved(body, (), (), (), ())
    from pipeline.core.posts.templating.resolve import resolve  # only posts that need it

    return resolve(body, place, lookup)


def _tag_warning(source: str, problem: TagProblem, kind: str = "unknown-tag") -> Finding:
    return Finding(kind, source, f"{problem.message}: {problem.tag}", problem.hint, problem.line)


def _place(header: Header, meta: dict[str, Any], first_line: int, config: Config) -> Place:
    site = config.site
    return Place(
        header.source, header.url, site.url, meta, first_line, site.title, site.description
    )


def _render(
    header: Header,
    meta: dict[str, Any],
    body: str,
    first_line: int,
    config: Config,
    lookup: Lookup,
    written: Callable[[list[Block]], None] | None = None,
) -> Post:
    """The header completed with its body: template syntax resolved, cleaned HTML,
    disclosures, excerpt. `written` is shown the blocks when they are the body as
    written (no template syntax)."""
    source = header.source
    recorder = Recorder(lookup)
    known = set(header.warnings)  # the tags reading the header found are reported there
    resolved = _resolved(body, _place(header, meta, first_line, config), recorder)
    blocks = parse_blocks(resolved.markdown)
    if written is not None and resolved.markdown == body:
        written(blocks)
    stripped = strip_chrome(blocks, header.title, header.published, config.site.timezone)
    arranged = arrange_body(source, stripped.blocks, meta.get("disclosures"), header.url, config)
    excerpt = header.excerpt
    if field(meta, "excerpt")[1] is None:
        paragraphs = [
            b.text
            for i, b in enumerate(stripped.blocks)
            if b.kind == "paragraph" and i not in arranged.disclosure_blocks
        ]
        excerpt = make_excerpt(paragraphs, config.build.excerpt_length)
    author = header.author
    if field(meta, "author")[1] is None and stripped.author:
        author = " ".join(stripped.author.split())
    image, image_warnings = featured_image(
        meta, source, header.url, arranged.html, config.build.featured_image_from_body
    )
    return Post(
        header=header,
        author=author,
        excerpt=excerpt,
        html=arranged.html,
        disclosures=arranged.disclosures,
        affiliate_links=arranged.affiliate_links,
        warnings=arranged.warnings
        + tuple(image_warnings)
        + tuple(_tag_warning(source, p, "unknown-target") for p in resolved.unresolved)
        + tuple(w for w in map(partial(_tag_warning, source), resolved.left) if w not in known),
        image=image,
        enclosures=resolved.enclosures,
        depends=recorder.answers(),
    )


def outline(header: Header) -> Post:
    """A post as its header alone shows it: the title, link and excerpt, no body."""
    paragraph = f"<p>{html.escape(header.excerpt, quote=False)}</p>" if header.excerpt else ""
    warning = Finding(
        "outline-only",
        header.source,
        "its last published body is no longer cached: the feeds show its title, link "
        "and excerpt until the file can be read again",
    )
    return Post(header, header.author, header.excerpt, paragraph, (), (), (warning,))


class Identified(Protocol):
    @property
    def identity(self) -> str: ...
    @property
    def source(self) -> str: ...


P = TypeVar("P", bound=Identified)


def one_per_identity(posts: Iterable[P]) -> tuple[list[P], list[PostError]]:
    """The posts in the order given; a later one with an identity already taken is
    rejected, naming the first (one rule for the build and for `check`)."""
    first: dict[str, str] = {}
    kept: list[P] = []
    rejected: list[PostError] = []
    for post in posts:
        if post.identity in first:
            rejected.append(same_identity(post.source, post.identity, first[post.identity]))
            continue
        first[post.identity] = post.source
        kept.append(post)
    return kept, rejected


def same_identity(source: str, identity: str, first: str) -> PostError:
    """The error of a post whose identity the file `first` already has."""
    return PostError(
        source,
        f"has the same identity {identity!r} as {first}",
        "give one of them its own id (or url/slug) in the front matter",
    )


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
