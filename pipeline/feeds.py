"""Pure: posts -> RSS 2.0, Atom and JSON Feed 1.1 bytes (the only feedgen import).

No wall-clock time is written: a feed's updated/lastBuildDate is its newest entry's
change, and the generator string is ours, so the same posts give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from pipeline import __version__
from pipeline.config import Config
from pipeline.dates import rfc3339
from pipeline.model import OutputFile, Post

GENERATOR = "newsletter-pipeline"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the date of an empty feed: never the clock


@dataclass(frozen=True)
class FeedMeta:
    """What one feed says about itself; `folder` is its place under out/."""

    title: str
    description: str
    home_url: str
    folder: str  # "" for the main feeds, "category/sleep/" for a category
    base_url: str  # where out/ is served
    language: str
    author: str

    def url(self, name: str) -> str:
        return f"{self.base_url}{self.folder}{name}"


def slugify(name: str) -> str:
    """A safe, readable path segment for any category or tag name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return slug or "n-" + hashlib.sha256(name.encode()).hexdigest()[:10]


def unique_slugs(names: Iterable[str]) -> dict[str, str]:
    """Name -> slug, with a short hash added where two names share a slug."""
    names = sorted(set(names))
    taken: dict[str, list[str]] = {}
    for name in names:
        taken.setdefault(slugify(name), []).append(name)
    result = {}
    for slug, owners in taken.items():
        for name in owners:
            suffix = hashlib.sha256(name.encode()).hexdigest()[:6]
            result[name] = slug if len(owners) == 1 else f"{slug}-{suffix}"
    return result


def render_feeds(live: Sequence[Post], config: Config) -> list[OutputFile]:
    """Every feed file of the site: the main three, then per category and tag."""
    base = config.feed.base_url
    main = FeedMeta(
        title=config.site.title,
        description=config.site.description,
        home_url=config.site.url,
        folder="",
        base_url=base,
        language=config.site.language,
        author=config.site.author,
    )
    entries = list(live[: config.feed.limit])
    files = [
        OutputFile("feed.xml", rss(entries, main)),
        OutputFile("atom.xml", atom(entries, main)),
        OutputFile("feed.json", json_feed(entries, main)),
    ]
    groups: list[tuple[str, str, Callable[[Post], tuple[str, ...]]]] = []
    if config.feed.category_feeds:
        groups.append(("category", "Category", _categories))
    if config.feed.tag_feeds:
        groups.append(("tag", "Tag", _tags))
    for kind, label, names_of in groups:
        slugs = unique_slugs(name for post in live for name in names_of(post))
        for name, slug in sorted(slugs.items(), key=lambda item: item[1]):
            members = [post for post in live if name in names_of(post)][: config.feed.limit]
            meta = FeedMeta(
                title=f"{config.site.title}: {name}",
                description=f"{label} “{name}” on {config.site.title}",
                home_url=config.site.url,
                folder=f"{kind}/{slug}/",
                base_url=base,
                language=config.site.language,
                author=config.site.author,
            )
            files.append(OutputFile(f"{kind}/{slug}/feed.xml", rss(members, meta)))
            files.append(OutputFile(f"{kind}/{slug}/atom.xml", atom(members, meta)))
    return files


def _categories(post: Post) -> tuple[str, ...]:
    return post.categories


def _tags(post: Post) -> tuple[str, ...]:
    return post.tags


def _newest_change(posts: Sequence[Post]) -> datetime | None:
    return max((post.modified for post in posts), default=None)


def _generator(
    posts: Sequence[Post], meta: FeedMeta, self_name: str, rss_flavour: bool
) -> FeedGenerator:
    fg = FeedGenerator()
    if rss_flavour:
        fg.load_extension("dc", atom=False, rss=True)
    fg.id(meta.home_url)
    fg.title(meta.title)
    fg.description(meta.description)
    fg.subtitle(meta.description)
    # feedgen takes RSS's <link> from the last link given: the home page goes last.
    fg.link(href=meta.url(self_name), rel="self")
    fg.link(href=meta.home_url, rel="alternate")
    fg.language(meta.language)
    fg.author({"name": meta.author})
    fg.generator(GENERATOR, version=__version__)
    newest = _newest_change(posts)
    if newest is not None:
        fg.updated(newest)
        fg.lastBuildDate(newest)
    for post in posts:
        entry = fg.add_entry(order="append")
        entry.id(post.entry_id)
        entry.guid(post.entry_id, permalink=post.entry_id == post.url)
        entry.title(post.title)
        entry.link(href=post.url, rel="alternate")
        entry.published(post.published)
        entry.updated(post.modified)
        entry.description(post.excerpt, isSummary=True)
        # CDATA is RSS's idiom; Atom wants escaped text with type="html".
        cdata = rss_flavour and "]]>" not in post.html
        entry.content(post.html, type="CDATA" if cdata else "html")
        entry.author({"name": post.author})
        if rss_flavour:
            entry.dc.dc_creator(post.author)
        for name in post.categories + tuple(t for t in post.tags if t not in post.categories):
            entry.category(term=name)
    return fg


def rss(posts: Sequence[Post], meta: FeedMeta) -> bytes:
    fg = _generator(posts, meta, "feed.xml", rss_flavour=True)
    if not posts:
        fg.lastBuildDate(EPOCH)
    return bytes(fg.rss_str(pretty=True))


def atom(posts: Sequence[Post], meta: FeedMeta) -> bytes:
    fg = _generator(posts, meta, "atom.xml", rss_flavour=False)
    if not posts:
        fg.updated(EPOCH)
    return bytes(fg.atom_str(pretty=True))


def json_feed(posts: Sequence[Post], meta: FeedMeta) -> bytes:
    """JSON Feed 1.1, written by hand: it is a small dict, and key order is ours."""
    feed = {
        "version": JSON_FEED_VERSION,
        "title": meta.title,
        "home_page_url": meta.home_url,
        "feed_url": meta.url("feed.json"),
        "description": meta.description,
        "language": meta.language,
        "authors": [{"name": meta.author}],
        "items": [
            {
                "id": post.entry_id,
                "url": post.url,
                "title": post.title,
                "content_html": post.html,
                "summary": post.excerpt,
                "date_published": rfc3339(post.published),
                "date_modified": rfc3339(post.modified),
                "tags": list(
                    post.categories + tuple(t for t in post.tags if t not in post.categories)
                ),
                "authors": [{"name": post.author}],
            }
            for post in posts
        ],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
