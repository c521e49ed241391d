"""Pure: which feeds a site has, where they live, and the index that lists them.

The main feeds, one pair per category (on by default) and per tag (when
configured), each under a path made safe from any name; the main feeds link to the
category feeds and to `feeds.opml`, the index a reader can import in one go.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from pipeline.core.model import Header, OutputFile
from pipeline.core.settings import Config

INDEX_NAME = "feeds.opml"
STYLESHEET_NAME = "feed.xsl"


@dataclass(frozen=True)
class Link:
    href: str
    rel: str
    type: str = ""
    title: str = ""


@dataclass(frozen=True)
class FeedSet:
    """One feed (written as RSS and Atom, and JSON for the main one)."""

    title: str
    description: str
    home_url: str
    folder: str  # "" for the main feeds, "category/sleep/" for a category
    base_url: str  # where out/ is served
    language: str
    author: str
    hub: str
    stylesheet: str  # the xml-stylesheet href, relative to the feed, or ""
    related: tuple[Link, ...]
    posts: tuple[Header, ...]  # newest first: the feed's entries are the first `limit`
    names: tuple[str, ...] = ()  # the category or tag names it gathers ("" kind: main)
    kind: str = ""  # "category", "tag" or "" for the main feeds

    def url(self, name: str) -> str:
        return f"{self.base_url}{self.folder}{name}"

    def path(self, name: str) -> str:
        return f"{self.folder}{name}"


FEED_NAMES = ("feed.xml", "atom.xml", "feed.json")


def changed_feed_urls(sets: Sequence[FeedSet], written: Iterable[str]) -> list[str]:
    """The URLs of the feeds whose files a build rewrote: what a WebSub hub is told."""
    done = set(written)
    return [feed.url(name) for feed in sets for name in FEED_NAMES if feed.path(name) in done]


def slugify(name: str) -> str:
    """A safe, readable path segment for any category or tag name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return slug or "n-" + hashlib.sha256(name.encode()).hexdigest()[:10]


def unique_slugs(names: Iterable[str]) -> dict[str, str]:
    """Name -> slug. Names that differ only in case share a slug (one feed); when
    different names collide, the one that is its own slug keeps it (so adding "C++"
    never moves the feed of "c") and the others get a short hash."""
    taken: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        taken.setdefault(slugify(name), []).append(name)
    result = {}
    for slug, owners in taken.items():
        folds = {name.casefold() for name in owners}
        for name in owners:
            plain = len(folds) == 1 or name.casefold() == slug
            suffix = hashlib.sha256(name.casefold().encode()).hexdigest()[:6]
            result[name] = slug if plain else f"{slug}-{suffix}"
    return result


def feed_sets(
    live: Sequence[Header], config: Config, names: Mapping[str, Collection[str]] | None = None
) -> list[FeedSet]:
    """The main feed first, then the category and tag feeds ordered by path.

    `live` is newest first. When it holds only some live posts (a cron run loads each
    written feed's newest), `names` gives every category and tag name the live posts
    carry, by kind, so the set of feeds and their paths are those of the whole site."""
    site = config.site
    base = config.feed.base_url
    groups: list[tuple[str, str]] = []
    if config.feed.category_feeds:
        groups.append(("category", "Category"))
    if config.feed.tag_feeds:
        groups.append(("tag", "Tag"))

    def make(
        title: str,
        description: str,
        folder: str,
        posts: Sequence[Header],
        related: tuple[Link, ...],
        names: tuple[str, ...] = (),
        kind: str = "",
    ) -> FeedSet:
        depth = folder.count("/")
        stylesheet = "../" * depth + STYLESHEET_NAME if config.feed.stylesheet else ""
        return FeedSet(
            title=title,
            description=description,
            home_url=site.url,
            folder=folder,
            base_url=base,
            language=site.language,
            author=site.author,
            hub=config.feed.websub_hub,
            stylesheet=stylesheet,
            related=related,
            posts=tuple(posts),
            names=names,
            kind=kind,
        )

    others: list[FeedSet] = []
    for kind, label in groups:
        members_of: dict[str, list[Header]] = {}  # one pass over the posts, newest first
        for post in live:
            for name in post.names(kind):
                members_of.setdefault(name, []).append(post)
        for name in (names or {}).get(kind, ()):
            members_of.setdefault(name, [])
        slugs = unique_slugs(members_of)
        by_slug: dict[str, list[str]] = {}
        for name, slug in slugs.items():
            by_slug.setdefault(slug, []).append(name)
        for slug, owners in sorted(by_slug.items()):
            name = min(owners)  # "Sleep" before "sleep": the capitalised form names the feed
            if len(owners) == 1:
                members = members_of[name]
            else:
                wanted = set(owners)
                members = [post for post in live if wanted & set(post.names(kind))]
            others.append(
                make(
                    f"{site.title}: {name}",
                    f"{label} “{name}” on {site.title}",
                    f"{kind}/{slug}/",
                    members,
                    (),
                    tuple(owners),
                    kind,
                )
            )
    related = tuple(
        Link(feed.url("atom.xml"), "related", "application/atom+xml", feed.title)
        for feed in others
        if feed.folder.startswith("category/")
    ) + (Link(f"{base}{INDEX_NAME}", "related", "text/x-opml", f"All feeds of {site.title}"),)
    main = make(site.title, site.description, "", live, related)
    return [main, *others]


def _outline(parent: etree._Element, feed: FeedSet, title: str) -> None:
    etree.SubElement(
        parent,
        "outline",
        type="rss",
        text=title,
        title=title,
        xmlUrl=feed.url("feed.xml"),
        htmlUrl=feed.home_url,
    )


def index_files(sets: Sequence[FeedSet], config: Config, stylesheet: bytes) -> list[OutputFile]:
    """feeds.opml (every feed once, importable by any reader) and the stylesheet
    (its bytes are the shell's to read)."""
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = f"{config.site.title}: all feeds"
    etree.SubElement(head, "ownerName").text = config.site.author
    body = etree.SubElement(opml, "body")
    main, *others = sets
    _outline(body, main, main.title)
    for kind, heading in (("category/", "Categories"), ("tag/", "Tags")):
        group = [feed for feed in others if feed.folder.startswith(kind)]
        if group:
            parent = etree.SubElement(body, "outline", text=heading, title=heading)
            for feed in group:
                _outline(parent, feed, feed.title)
    etree.indent(opml, space="  ")
    data = etree.tostring(opml, xml_declaration=True, encoding="UTF-8") + b"\n"
    result = [OutputFile(INDEX_NAME, data)]
    if config.feed.stylesheet:
        result.append(OutputFile(STYLESHEET_NAME, stylesheet))
    return result
