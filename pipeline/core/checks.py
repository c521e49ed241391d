"""Pure: everything that could embarrass the author, as findings with file, line, hint.

`check_posts` lints post files (as bytes) with a configuration; `check_outputs`
validates what a build wrote. The shell gathers the files; nothing here touches
the disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from lxml import etree

from pipeline.core.errors import PostError
from pipeline.core.model import Post
from pipeline.core.posts.front_matter import clean_text, split_front_matter
from pipeline.core.posts.markup import parse_blocks
from pipeline.core.posts.read import read_post
from pipeline.core.settings import Config

GMAIL_CLIP_BYTES = 102_000
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_ALT = re.compile(r'\balt="([^"]*)"')
_SRC = re.compile(r'\bsrc="([^"]*)"')
_RAW_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_WEB_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, what is wrong, what to change."""

    file: str
    line: int | None
    severity: str  # "error" or "warning"
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.severity}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line where `needle` first occurs in `text`."""
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


def check_posts(
    files: Sequence[tuple[str, bytes]], config: Config
) -> tuple[list[Post], list[Finding]]:
    """Read and lint every post file; returns the readable posts and the findings."""
    findings: list[Finding] = []
    posts: list[Post] = []
    owners: dict[str, str] = {}
    for source, raw in files:
        try:
            post = read_post(source, raw, config)
        except PostError as error:
            findings.append(Finding(source, error.line, "error", error.message, error.hint))
            continue
        text = raw.decode("utf-8-sig", "replace")
        if post.identity in owners:
            findings.append(
                Finding(
                    source,
                    line_of(text, "id:") or line_of(text, "slug:"),
                    "error",
                    f"has the same identity {post.identity!r} as {owners[post.identity]}",
                    "give one of them its own id (or url/slug) in the front matter",
                )
            )
            continue
        owners[post.identity] = source
        posts.append(post)
        findings.extend(_lint(post, text))
    return posts, findings


def _lint(post: Post, text: str) -> Iterable[Finding]:
    source = post.source
    for warning in post.warnings:
        message = warning.removeprefix(f"{source}: ")
        if "affiliate links but no affiliate disclosure" in message:
            link = post.affiliate_links[0]
            yield Finding(
                source,
                line_of(text, link) or line_of(text, _host(link)),
                "error",
                f"has affiliate links ({link}) but no affiliate disclosure",
                "add a paragraph starting '**Affiliate disclosure:**' before the first "
                "affiliate link (emails would otherwise carry the site's default one)",
            )
        else:
            key = re.search(r"'([a-z_]+)'", message)
            line = line_of(text, f"{key.group(1)}:") if key else None
            yield Finding(source, line, "warning", message)
    for tag in _IMG_TAG.findall(post.html):
        alt = _ALT.search(tag)
        if alt is None or not alt.group(1).strip():
            src = _SRC.search(tag)
            target = src.group(1) if src else ""
            yield Finding(
                source,
                line_of(text, target.rsplit("/", 1)[-1]) if target else None,
                "error",
                f"image {target} has no alt text",
                "describe the image: ![what it shows](image.jpg), for screen readers and "
                "for mail clients that block images",
            )
    yield from _links(source, text)
    for disclosure in post.disclosures:
        label = disclosure.label.rstrip(":").strip()
        if label and label in post.excerpt and disclosure.text not in post.excerpt:
            yield Finding(
                source,
                line_of(text, "excerpt:"),
                "error",
                f"the excerpt cuts the {label.lower()} short",
                "end the excerpt before the disclosure, or quote it whole: disclosures are "
                "shown in full below every excerpt anyway",
            )


def _host(url: str) -> str:
    return re.sub(r"^https?://", "", url).split("/")[0]


def _links(source: str, text: str) -> Iterable[Finding]:
    """Link targets the pipeline cannot turn into a web address."""
    try:
        _meta, body = split_front_matter(source, clean_text(text))
    except PostError:
        return
    targets: list[str] = []
    for block in parse_blocks(body):
        targets.extend(block.hrefs)
        for token in block.tokens:
            if token.type == "html_block":
                targets.extend(_RAW_LINK.findall(token.content))
            for child in token.children or ():
                if child.type == "image":
                    targets.append(str(child.attrGet("src") or ""))
                elif child.type == "html_inline":
                    targets.extend(_RAW_LINK.findall(child.content))
    for target in targets:
        scheme = _SCHEME.match(target)
        problem = ""
        if scheme and scheme.group(1).lower() not in _WEB_SCHEMES:
            problem = f"link {target!r} is not a web address ({scheme.group(1)}:) and is removed"
        elif re.match(r"^(https?//|https?:/[^/]|www\.)", target, re.IGNORECASE):
            problem = f"link {target!r} looks like a web address without its https://"
        if problem:
            yield Finding(
                source,
                line_of(text, target),
                "error",
                problem,
                "write the full address, e.g. https://example.com/page",
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
                findings.append(Finding(where, exc.lineno, "error", f"not well-formed XML: {exc}"))
        elif name.endswith(".json") and not name.endswith("manifest.json"):
            try:
                json.loads(data)
            except ValueError as exc:
                findings.append(Finding(where, None, "error", f"not valid JSON: {exc}"))
        elif name.endswith("/manifest.json") and name.startswith("email/"):
            findings.extend(_check_email(name.rsplit("/", 1)[0], data, out_files, config))
    return findings


def _check_email(
    folder: str, manifest_bytes: bytes, out_files: Mapping[str, bytes], config: Config
) -> list[Finding]:
    where = f"out/{folder}/"
    try:
        manifest = json.loads(manifest_bytes)
        hashes = dict(manifest["files"])
    except (ValueError, KeyError, TypeError):
        return [Finding(where + "manifest.json", None, "error", "manifest cannot be read")]
    findings = []
    for name, digest in hashes.items():
        data = out_files.get(f"{folder}/{name}")
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            findings.append(
                Finding(
                    where + name,
                    None,
                    "error",
                    "missing or changed since it was written",
                    "run `newsletter build` again, or delete the folder to drop the email",
                )
            )
    html = out_files.get(f"{folder}/email.html", b"")
    if len(html) >= GMAIL_CLIP_BYTES:
        findings.append(
            Finding(
                where + "email.html",
                None,
                "error",
                f"{len(html):,} bytes: Gmail clips emails above about {GMAIL_CLIP_BYTES:,}",
                "lower [email] max_bytes or send fewer posts per digest",
            )
        )
    return findings


def config_findings(problems: str, origin: str) -> list[Finding]:
    """A ConfigError's message, one finding per problem line."""
    lines = [line.strip()[2:] for line in problems.splitlines() if line.strip().startswith("- ")]
    return [Finding(origin, None, "error", line) for line in lines or [problems]]
