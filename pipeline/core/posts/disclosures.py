"""Disclosures and affiliate links: found, carried verbatim, placed where the law wants.

A disclosure is a paragraph whose leading bold label says "disclosure" or
"disclaimer" (after an optional emoji), or an entry of the front-matter
`disclosures` list. Links to affiliate hosts get rel="sponsored", and the post's
affiliate disclosure always stands before its first affiliate link; a post with
affiliate links and no disclosure of its own gets the site's default one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from pipeline.core.errors import PostError
from pipeline.core.model import Disclosure, Finding
from pipeline.core.posts.markup import (
    Block,
    add_rel,
    anchor_hrefs,
    inline_text,
    parse_blocks,
    render_blocks,
    render_inline,
    sanitize,
)
from pipeline.core.settings import Config

AffiliateTest = Callable[[str], bool]


DISCLOSURE_WORD = re.compile(r"\b(disclosures?|disclaimers?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Body:
    """A post body with its disclosures in place, ready for every output."""

    html: str  # sanitized, absolute links, rel="sponsored", disclosures before affiliate links
    disclosures: tuple[Disclosure, ...]  # front matter, then body, then the site default
    affiliate_links: tuple[str, ...]
    disclosure_blocks: frozenset[int]  # indexes of the body's disclosure paragraphs
    warnings: tuple[Finding, ...]


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
    return label if DISCLOSURE_WORD.search(label) else None


def disclosure_kind(words: str) -> str:
    """What a disclosure is about, from its label (or its text)."""
    lowered = words.lower()
    if "affiliate" in lowered or "sponsor" in lowered or "commission" in lowered:
        return "affiliate"
    if "medical" in lowered or "health" in lowered:
        return "medical"
    return "other"


def _disclosure(
    block: Block, base_url: str, is_affiliate: AffiliateTest, origin: str
) -> Disclosure | None:
    label = _disclosure_label(block)
    if label is None:
        return None
    return _make_disclosure(block, label, base_url, is_affiliate, origin)


def _make_disclosure(
    block: Block, label: str, base_url: str, is_affiliate: AffiliateTest, origin: str
) -> Disclosure:
    inner = sanitize(render_inline(block), base_url)
    inner = add_rel(inner, lambda href: "sponsored" if is_affiliate(href) else None)
    text = inline_text(block.inline, urls=True)
    return Disclosure(
        kind=disclosure_kind(label or text), label=label, html=inner, text=text, origin=origin
    )


def parse_disclosure(
    markdown: str, base_url: str, is_affiliate: AffiliateTest, origin: str
) -> Disclosure:
    """A disclosure written as one Markdown paragraph (front matter or configuration)."""
    blocks = [b for b in parse_blocks(markdown) if b.kind == "paragraph"]
    if len(blocks) != 1:
        raise ValueError("a disclosure must be one paragraph of text")
    label = _disclosure_label(blocks[0]) or ""
    return _make_disclosure(blocks[0], label, base_url, is_affiliate, origin)


def front_matter_disclosures(
    source: str, value: Any, base_url: str, is_affiliate: AffiliateTest
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


_HOSTS_KEPT = 4096  # hosts whose rules one matcher remembers
# An http(s) URL whose host is plain letters, digits, dots and hyphens, ended by its
# path, query, fragment or the URL's end: that host is urlsplit's hostname.
_PLAIN_HOST = re.compile(r"(?i:https?)://([A-Za-z0-9.-]+)(?=[/?#]|\Z)")


def affiliate_matcher(patterns: Sequence[str]) -> AffiliateTest:
    """A predicate on URLs from patterns like `amzn.to` or `amazon.*?tag`.

    A pattern is a host (subdomains match too; `*` matches one label) and, after
    `?`, a query parameter that must be present.
    """
    rules = []
    for pattern in patterns:
        host, _, param = pattern.lower().partition("?")
        rules.append((host, param))
    by_host: dict[str, frozenset[str]] = {}  # 100,000s of links name a few hosts

    def params_for(hostname: str) -> frozenset[str]:
        """The query parameters of the rules that match the host, one of which a
        link must hold ("": none needed); empty when no rule matches it."""
        labels = hostname.split(".")
        params = set()
        for host, param in rules:
            size = host.count(".") + 1
            for start in range(len(labels) - size + 1):
                candidate = ".".join(labels[start : start + size])
                tail_ok = start + size == len(labels)
                if fnmatch(candidate, host) and (tail_ok or host.endswith("*")):
                    params.add(param)
        return frozenset(params)

    def is_affiliate(url: str) -> bool:
        # urlsplit only where the host is not plain: its cache keeps 128 URLs, and
        # a check asks of 100,000s (2.5 us each, four times the rest).
        plain = _PLAIN_HOST.match(url)
        hostname = plain[1].lower() if plain else (urlsplit(url).hostname or "").lower()
        if not hostname:
            return False
        params = by_host.get(hostname)
        if params is None:
            if len(by_host) >= _HOSTS_KEPT:
                by_host.clear()
            params = by_host[hostname] = params_for(hostname)
        if not params:
            return False
        return "" in params or not params.isdisjoint(parse_qs(urlsplit(url).query))

    return is_affiliate


def arrange_body(
    source: str, blocks: Sequence[Block], given: Any, url: str, config: Config
) -> Body:
    """Render the body's blocks with every disclosure found and placed.

    `given` is the front-matter `disclosures` value; those lead the content.
    """
    is_affiliate = affiliate_matcher(config.affiliate.hosts)
    in_body: list[tuple[int, Disclosure]] = []
    for index, block in enumerate(blocks):
        found = _disclosure(block, url, is_affiliate, "body")
        if found:
            in_body.append((index, found))
    declared = front_matter_disclosures(source, given, url, is_affiliate)

    # Affiliate links in the blocks, resolved as the sanitizer will resolve them.
    first_affiliate = next(
        (
            i
            for i, block in enumerate(blocks)
            if any(is_affiliate(urljoin(url, h)) for h in block.links())
        ),
        None,
    )
    lead: list[Disclosure] = list(declared)  # shown before the body
    kept = list(blocks)
    if first_affiliate is not None and not any(d.kind == "affiliate" for d in declared):
        affiliate = [(i, d) for i, d in in_body if d.kind == "affiliate"]
        if affiliate and all(i > first_affiliate for i, _ in affiliate):
            # Compliance first: the disclosure must be read before the first affiliate link.
            index, moved = affiliate[0]
            lead.append(moved)
            kept = [b for i, b in enumerate(blocks) if i != index]
    disclosures = list(declared) + [d for _, d in in_body]
    fragment = sanitize(render_blocks(kept), url)
    fragment = add_rel(fragment, lambda href: "sponsored" if is_affiliate(href) else None)
    affiliate_links = tuple(h for h in anchor_hrefs(fragment) if is_affiliate(h))
    warnings: list[Finding] = []
    if affiliate_links and not any(d.kind == "affiliate" for d in disclosures):
        default = parse_disclosure(
            config.affiliate.default_disclosure, url, is_affiliate, "site default"
        )
        lead.append(default)
        disclosures.append(default)
        warnings.append(
            Finding(
                "undisclosed-affiliate",
                source,
                "has affiliate links but no affiliate disclosure; the site's default "
                "disclosure is added (write your own: a paragraph starting "
                "**Affiliate disclosure:**)",
            )
        )
    return Body(
        html="".join(f"<p>{d.html}</p>\n" for d in lead) + fragment,
        disclosures=tuple(disclosures),
        affiliate_links=affiliate_links,
        disclosure_blocks=frozenset(i for i, _ in in_body),
        warnings=tuple(warnings),
    )
