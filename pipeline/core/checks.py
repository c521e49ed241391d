"""Pure: everything that could embarrass the author, as findings with file, line, hint.

`check_posts` lints post files (as bytes) with a configuration; `check_outputs`
validates what a build wrote. The shell gathers the files; nothing here touches
the disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from lxml import etree

from pipeline.core.errors import PostError
from pipeline.core.manifest import EMAIL_FOLDER, parse_manifest
from pipeline.core.model import Finding, Header, Post
from pipeline.core.posts.front_matter import clean_text, field, split_front_matter
from pipeline.core.posts.images import featured_image
from pipeline.core.posts.markup import parse_blocks
from pipeline.core.posts.plain import plain_body
from pipeline.core.posts.read import (
    HeaderAndBody,
    read_header,
    read_header_and_body,
    read_post_and_links,
    same_identity,
)
from pipeline.core.posts.templating.lookup import Answers, KnownPosts, Lookup, NoLookup
from pipeline.core.settings import Config

GMAIL_CLIP_BYTES = 102_000
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_ALT = re.compile(r'\balt="([^"]*)"')
_SRC = re.compile(r'\bsrc="([^"]*)"')
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_WEB_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_NO_SCHEME = re.compile(r"^(https?//|https?:/[^/]|www\.)", re.IGNORECASE)


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line where `needle` first occurs in `text`."""
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


TAG_ERRORS = frozenset({"unknown-tag", "unknown-target"})


def lenient(config: Config) -> Config:
    """The configuration `check` reads with: every unresolved tag reported (as an
    error) instead of the first one holding the post back."""
    return replace(config, build=replace(config.build, unknown_tags="strip"))


Seen = tuple[str, str | None, int | None, tuple[Finding, ...]]  # source, identity, line, found


class Checked(NamedTuple):
    """One post file as `check` found it. Kept by content hash: while the file, the
    configuration and the answers in `depends` stay the same, so do its findings.
    (A tuple: 100,000s are made, and sent between processes, by a first check.)"""

    source: str
    url: str | None  # None: its header cannot be read (no other post can link to it)
    identity: str | None  # None: it cannot be read as a post (`findings` says why)
    findings: tuple[Finding, ...]
    depends: Answers = ()  # what reading it asked of the other posts, pages, includes
    id_line: int | None = None  # where a duplicate identity is reported

    @property
    def seen(self) -> Seen:
        return self.source, self.identity, self.id_line, self.findings


def header_url(
    source: str, raw: bytes, config: Config, includes: Lookup | None = None
) -> str | Finding:
    """The post's URL, which other posts' links resolve against, or why its header
    cannot be read. `config` is the `lenient` one."""
    try:
        return read_header(source, raw, config, includes).url
    except PostError as error:
        return error.finding()


def check_post(
    source: str, raw: bytes, url: str, config: Config, lookup: Lookup, in_full: bool = False
) -> Checked:
    """Read one post whose header reads (its `url`) and lint it; `config` is the
    `lenient` one, `lookup` knows every post's URL. A plain body is passed without
    being parsed, unless `in_full` (the reading it must agree with)."""
    try:
        read = read_header_and_body(source, raw, config, lookup)
    except PostError as error:
        return Checked(source, url, None, (error.finding(),))
    return _check_read(source, raw, url, read, config, lookup, in_full or read.templated)


def check_alone(
    source: str, raw: bytes, config: Config, includes: Lookup
) -> tuple[Header | Finding, Checked | None]:
    """A file's first reading: its header (or why it cannot be read) and, when its
    body holds no template syntax, its check. Such a post asks nothing of the other
    files, so it is checked before their URLs are known; the others wait for
    `check_post`. `config` is the `lenient` one, `includes` answers for includes."""
    try:
        read = read_header_and_body(source, raw, config, includes)
    except PostError as error:
        return error.finding(), None
    if read.templated:
        return read.header, None
    return read.header, _check_read(source, raw, read.header.url, read, config, NoLookup(), False)


def _check_read(
    source: str,
    raw: bytes,
    url: str,
    read: HeaderAndBody,
    config: Config,
    lookup: Lookup,
    in_full: bool,
) -> Checked:
    """Lint a post as `read`; `in_full` when its body holds template syntax (or a
    test asks for the full reading)."""
    header = read.header
    line = _line_in(raw, b"id:") or _line_in(raw, b"slug:")
    unparsed = None if in_full else _without_parse(read, raw, config)
    if unparsed is not None:
        return Checked(source, url, header.identity, unparsed, (), line)
    try:
        post, targets = read_post_and_links(source, raw, config, lookup)
    except PostError as error:
        return Checked(source, url, None, (error.finding(),))
    findings = tuple(_lint(post, raw.decode("utf-8-sig", "replace"), targets))
    return Checked(source, url, post.identity, findings, post.depends, line)


def _line_in(raw: bytes, needle: bytes) -> int | None:
    """`line_of` in the file's text, from its bytes (UTF-8: the same lines)."""
    index = raw.find(needle)
    return raw.count(b"\n", 0, index) + 1 if index >= 0 else None


def _without_parse(read: HeaderAndBody, raw: bytes, config: Config) -> tuple[Finding, ...] | None:
    """The findings of a post whose body check can pass unparsed (`plain_body`; it
    holds no template syntax): its header's and its featured image's; None when the
    body must be read in full."""
    header, meta, body = read.header, read.meta, read.body
    from_body = config.build.featured_image_from_body
    if meta.get("disclosures") is not None or (from_body and "![" in body):
        return None
    given = field(meta, "excerpt")[1] is not None
    if _MENTIONS_DISCLOSURE.search(header.excerpt if given else body):
        return None  # an excerpt that could cut a disclosure short
    written = raw if read.as_written else None
    plain = plain_body(body, header.url, config.affiliate.hosts, written)
    if plain is None or any(_links(header.source, "", list(plain.targets))):
        return None
    _image, image_warnings = featured_image(meta, header.source, header.url, "", from_body)
    warnings = header.warnings + tuple(image_warnings)
    if not warnings:
        return ()
    return tuple(_warnings(header.source, warnings, (), raw.decode("utf-8-sig", "replace")))


# What every disclosure's label holds (`DISCLOSURE_WORD`), matched as loosely.
_MENTIONS_DISCLOSURE = re.compile("disclos|disclaim", re.IGNORECASE)


def combine(seen: Iterable[Seen]) -> list[Finding]:
    """Every file's findings in the order given, and the duplicate identities: a later
    file with an identity already taken is an error, naming the first, and is not
    linted (the build's rule, `one_per_identity`). Plain tuples: 100,000 a check."""
    seen = list(seen)
    identities = [identity for _source, identity, _line, _found in seen if identity is not None]
    if len(set(identities)) == len(identities):  # the usual case, decided in C
        return [finding for _source, _identity, _line, found in seen for finding in found]
    first: dict[str, str] = {}
    findings: list[Finding] = []
    for source, identity, id_line, found in seen:
        if identity is not None:
            taken = first.setdefault(identity, source)
            if taken != source:
                error = same_identity(source, identity, taken)
                findings.append(replace(error.finding(), line=id_line))
                continue
        findings.extend(found)
    return findings


def check_posts(
    files: Sequence[tuple[str, bytes]],
    config: Config,
    site_lookup: Callable[[KnownPosts], Lookup] = lambda posts: posts,
) -> list[Finding]:
    """Read and lint every post file, in the order given (a full check, with nothing
    kept from an earlier one). `site_lookup` adds the old site's pages and includes
    to the posts' URLs."""
    config = lenient(config)
    includes = site_lookup(KnownPosts({}))
    urls = {source: header_url(source, raw, config, includes) for source, raw in files}
    lookup = site_lookup(KnownPosts.of((s, u) for s, u in urls.items() if isinstance(u, str)))
    checked = (
        check_post(source, raw, url, config, lookup)
        if isinstance(url := urls[source], str)
        else Checked(source, None, None, (url,))
        for source, raw in files
    )
    return combine(c.seen for c in checked)


def _lint(post: Post, text: str, targets: list[str] | None) -> Iterable[Finding]:
    source = post.source
    yield from _warnings(source, post.header.warnings + post.warnings, post.affiliate_links, text)
    for tag in _IMG_TAG.findall(post.html):
        alt = _ALT.search(tag)
        if alt is None or not alt.group(1).strip():
            src = _SRC.search(tag)
            target = src.group(1) if src else ""
            yield Finding(
                "missing-alt",
                source,
                f"image {target} has no alt text",
                "describe the image: ![what it shows](image.jpg), for screen readers and "
                "for mail clients that block images",
                line=line_of(text, target.rsplit("/", 1)[-1]) if target else None,
                severity="error",
            )
    yield from _links(source, text, targets)
    for disclosure in post.disclosures:
        label = disclosure.label.rstrip(":").strip()
        if label and label in post.excerpt and disclosure.text not in post.excerpt:
            yield Finding(
                "excerpt-cuts-disclosure",
                source,
                f"the excerpt cuts the {label.lower()} short",
                "end the excerpt before the disclosure, or quote it whole: disclosures are "
                "shown in full below every excerpt anyway",
                line=line_of(text, "excerpt:"),
                severity="error",
            )


def _warnings(
    source: str, warnings: Iterable[Finding], affiliate_links: Sequence[str], text: str
) -> Iterable[Finding]:
    """What reading the post warned of, as check's findings."""
    for warning in warnings:
        if warning.kind == "undisclosed-affiliate":
            link = affiliate_links[0]
            yield Finding(
                "undisclosed-affiliate",
                source,
                f"has affiliate links ({link}) but no affiliate disclosure",
                "add a paragraph starting '**Affiliate disclosure:**' before the first "
                "affiliate link (emails would otherwise carry the site's default one)",
                line=line_of(text, link) or line_of(text, _host(link)),
                severity="error",
            )
        elif warning.kind in TAG_ERRORS:
            yield replace(warning, severity="error")
        else:
            yield replace(warning, line=line_of(text, f"{warning.key}:") if warning.key else None)


def _host(url: str) -> str:
    return re.sub(r"^https?://", "", url).split("/")[0]


def _links(source: str, text: str, targets: list[str] | None) -> Iterable[Finding]:
    """Link targets the pipeline cannot turn into a web address, as the body writes
    them (`targets`, when the post's reading parsed the body as written)."""
    if targets is None:
        try:
            _meta, body = split_front_matter(source, clean_text(text))
        except PostError:
            return
        targets = [target for block in parse_blocks(body) for target in block.links(images=True)]
    for target in targets:
        if target.startswith(("https://", "http://")):
            continue  # most are: a web address, and none that _NO_SCHEME takes
        scheme = _SCHEME.match(target)
        problem = ""
        if scheme and scheme.group(1).lower() not in _WEB_SCHEMES:
            problem = f"link {target!r} is not a web address ({scheme.group(1)}:) and is removed"
        elif _NO_SCHEME.match(target):
            problem = f"link {target!r} looks like a web address without its https://"
        if problem:
            yield Finding(
                "not-a-web-address",
                source,
                problem,
                "write the full address, e.g. https://example.com/page",
                line=line_of(text, target),
                severity="error",
            )


def check_outputs(out_files: Mapping[str, bytes], config: Config) -> list[Finding]:
    """What a build wrote: feeds that parse, complete emails within the clipping size."""
    findings: list[Finding] = []
    for name, data in sorted(out_files.items()):
        where = f"out/{name}"
        if name.endswith((".xml", ".opml", ".xsl")):
            try:
                etree.fromstring(data, etree.XMLParser(resolve_entities=False))
            except etree.XMLSyntaxError as exc:
                findings.append(
                    _error("bad-xml", where, f"not well-formed XML: {exc}", line=exc.lineno)
                )
        elif name.endswith(".json") and not name.endswith("manifest.json"):
            try:
                json.loads(data)
            except ValueError as exc:
                findings.append(_error("bad-json", where, f"not valid JSON: {exc}"))
        elif name.endswith("/manifest.json") and name.startswith(f"{EMAIL_FOLDER}/"):
            findings.extend(_check_email(name.rsplit("/", 1)[0], data, out_files))
    return findings


def _error(kind: str, file: str, message: str, hint: str = "", line: int | None = None) -> Finding:
    return Finding(kind, file, message, hint, line=line, severity="error")


def _check_email(
    folder: str, manifest_bytes: bytes, out_files: Mapping[str, bytes]
) -> list[Finding]:
    where = f"out/{folder}/"
    try:
        manifest = parse_manifest(manifest_bytes)
    except ValueError:
        return [_error("bad-manifest", where + "manifest.json", "manifest cannot be read")]
    findings = []
    for name, digest in manifest.files.items():
        data = out_files.get(f"{folder}/{name}")
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            findings.append(
                _error(
                    "email-changed",
                    where + name,
                    "missing or changed since it was written",
                    "run `newsletter build` again, or delete the folder to drop the email",
                )
            )
    html = out_files.get(f"{folder}/email.html", b"")
    if len(html) >= GMAIL_CLIP_BYTES:
        findings.append(
            _error(
                "email-clipped",
                where + "email.html",
                f"{len(html):,} bytes: Gmail clips emails above about {GMAIL_CLIP_BYTES:,}",
                "lower [email] max_bytes or send fewer posts per digest",
            )
        )
    return findings


def secret_findings(config: Config, environ: Mapping[str, str], origin: str) -> list[Finding]:
    """Per-reader links need the signing secret: said by `check`, before a send."""
    name = config.send.secret_env
    if config.send.audience != "subscribers" and not config.subscribe.enabled:
        return []
    if not name:
        return [
            Finding(
                "secret",
                origin,
                "[send] secret_env: missing; per-reader unsubscribe links are signed with it",
                'name the environment variable, e.g. secret_env = "NEWSLETTER_SECRET", and '
                "set it to a long random value (`python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)",
            )
        ]
    if not environ.get(name):
        return [
            Finding(
                "secret",
                origin,
                f"[send] secret_env: the environment variable {name} is not set here",
                "export it where `send` and `serve` run (cron, the systemd unit)",
            )
        ]
    return []


def config_findings(problems: str, origin: str) -> list[Finding]:
    """A ConfigError's message, one finding per problem line."""
    lines = [line.strip()[2:] for line in problems.splitlines() if line.strip().startswith("- ")]
    return [_error("configuration", origin, line) for line in lines or [problems]]
