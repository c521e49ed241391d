"""Pure: posts -> RSS 2.0, Atom and JSON Feed 1.1 bytes (the only feedgen import).

feedgen builds each document; a small finishing pass adds what it cannot write
(RSS's atom:link hub/related links, the xml-stylesheet instruction, the RSS
Profile's hexadecimal references). No wall-clock time is written: a feed's
updated/lastBuildDate is its newest entry's change, and the generator string is
ours, so the same posts give the same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from feedgen.feed import FeedGenerator
from lxml import etree

from pipeline import __version__
from pipeline.core.budget import largest_fitting
from pipeline.core.dates import rfc3339
from pipeline.core.feedsets import FeedSet, Link, index_files
from pipeline.core.model import Image, OutputFile, Post
from pipeline.core.settings import Config

GENERATOR = "newsletter-pipeline"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM_NS = "http://www.w3.org/2005/Atom"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the date of an empty feed: never the clock
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
JSON_TYPE = "application/feed+json"


Render = Callable[[Sequence[Post], int], bytes]  # (posts, how many carry full content)


FeedFiles = Callable[[FeedSet], list[OutputFile]]
Mapper = Callable[[FeedFiles, Sequence[FeedSet]], Iterable[list[OutputFile]]]


def render_feed_sets(
    sets: Sequence[FeedSet],
    rendered: Mapping[str, Post],
    config: Config,
    stylesheet: bytes,
    touched: Callable[[FeedSet], bool] | None = None,
    each: Mapper = map,
) -> list[OutputFile]:
    """The feed files of these feeds (`feed_sets`), the feed index and the stylesheet.
    `rendered` holds each entry's rendered post by identity. With `touched`, a
    category or tag feed it declines is left out (it is up to date on disk). `each`
    maps the feeds to their files in order (the shell's may use every core)."""
    written = [feed for feed in sets if not feed.kind or touched is None or touched(feed)]
    files = [f for group in each(partial(feed_files, rendered, config), written) for f in group]
    return files + index_files(sets, config, stylesheet)


def feed_files(rendered: Mapping[str, Post], config: Config, feed: FeedSet) -> list[OutputFile]:
    """One feed's RSS and Atom files (and the main feed's JSON Feed)."""
    budget = config.feed.max_bytes
    posts = [rendered[header.identity] for header in feed.posts[: config.feed.limit]]
    files = [
        OutputFile(feed.path("feed.xml"), fit(posts, _rss(feed), budget)),
        OutputFile(feed.path("atom.xml"), fit(posts, _atom(feed), budget)),
    ]
    if feed.folder == "":
        files.append(OutputFile(feed.path("feed.json"), fit(posts, _json(feed), budget)))
    return files


def fit(posts: Sequence[Post], render: Render, budget: int) -> bytes:
    """The feed within `budget` bytes: the oldest entries fall to summary-only
    first, then out (the newest entry always stays). A budget of 0 is no limit."""
    count = len(posts)
    data = render(posts, count)
    if not budget or len(data) <= budget:
        return data
    full = largest_fitting(0, count - 1, lambda n: len(render(posts, n)) <= budget)
    if full is not None:
        return render(posts, full)
    kept = largest_fitting(1, count - 1, lambda n: len(render(posts[:n], 0)) <= budget)
    return render(posts[: kept or 1], 0)


def _newest_change(posts: Sequence[Post]) -> datetime:
    return max((post.modified for post in posts), default=EPOCH)


def _categories(post: Post) -> tuple[str, ...]:
    return post.categories + tuple(tag for tag in post.tags if tag not in post.categories)


def _generator(feed: FeedSet, posts: Sequence[Post], full: int, rss_flavour: bool) -> FeedGenerator:
    # RSS dates are written in UTC: RFC 822 zones like +0545 upset validators.
    def when(moment: datetime) -> datetime:
        return moment.astimezone(UTC) if rss_flavour else moment

    self_name, self_type = ("feed.xml", RSS_TYPE) if rss_flavour else ("atom.xml", ATOM_TYPE)
    fg = FeedGenerator()
    if rss_flavour:
        fg.load_extension("dc", atom=False, rss=True)
    pictured = any(post.image for post in posts)
    if pictured:  # only then: a feed without images keeps its bytes
        fg.load_extension("media", atom=True, rss=True)
    fg.id(feed.home_url)
    fg.title(feed.title)
    fg.description(feed.description)
    fg.subtitle(feed.description)
    # feedgen takes RSS's <link> from the last link given: the home page goes last.
    fg.link(href=feed.url(self_name), rel="self", type=self_type)
    if not rss_flavour:
        for link in _extra_links(feed):
            fg.link(href=link.href, rel=link.rel, type=link.type, title=link.title)
    fg.link(href=feed.home_url, rel="alternate", type="text/html")
    fg.language(feed.language)
    fg.author({"name": feed.author})
    fg.generator(GENERATOR, version=__version__)
    fg.updated(when(_newest_change(posts)))
    fg.lastBuildDate(when(_newest_change(posts)))
    for index, post in enumerate(posts):
        entry = fg.add_entry(order="append")
        entry.id(post.entry_id)
        entry.guid(post.entry_id, permalink=post.entry_id == post.url)
        entry.title(post.title)
        entry.link(href=post.url, rel="alternate", type="text/html")
        entry.published(when(post.published))
        entry.updated(when(post.modified))
        # RSS's description is HTML; the excerpt is text, so it is escaped once more.
        summary = html.escape(post.excerpt, quote=False) if rss_flavour else post.excerpt
        entry.description(summary, isSummary=True)
        if index < full:
            # CDATA is RSS's idiom; Atom wants escaped text with type="html".
            cdata = rss_flavour and "]]>" not in post.html
            entry.content(post.html, type="CDATA" if cdata else "html")
        entry.author({"name": post.author})
        if rss_flavour:
            entry.dc.dc_creator(post.author)
        for name in _categories(post):
            entry.category(term=name)
        if post.image:
            _media(entry, post.image)
        if rss_flavour and post.enclosures:  # RSS holds one: the first file it links
            first = post.enclosures[0]
            entry.enclosure(first.url, 0, first.type)  # 0: the size is unknown
    return fg


def _media(entry: Any, image: Image) -> None:
    """Media RSS, as jekyll-feed writes it: the image, and the same as thumbnail."""
    size = {"width": str(image.width)} if image.width else {}
    if image.height:
        size["height"] = str(image.height)
    entry.media.content(url=image.url, medium="image", group=None, **size)
    entry.media.thumbnail(url=image.url, group=None, **size)


def _extra_links(feed: FeedSet) -> list[Link]:
    links = list(feed.related)
    if feed.hub:
        links.insert(0, Link(feed.hub, "hub"))
    return links


def _finish(xml: bytes, feed: FeedSet, rss_flavour: bool, posts: Sequence[Post] = ()) -> bytes:
    """Add what feedgen cannot: the stylesheet, RSS's extra atom:links, and Atom's
    enclosure links (feedgen drops the rel of an Atom entry's links)."""
    parser = etree.XMLParser(strip_cdata=False, remove_blank_text=True, resolve_entities=False)
    root = etree.fromstring(xml, parser)
    if not rss_flavour and any(post.enclosures for post in posts):
        _atom_enclosures(root, posts)
    if rss_flavour:
        channel = root.find("channel")
        anchor = channel.find(f"{{{ATOM_NS}}}link")  # feedgen's self link
        for link in reversed(_extra_links(feed)):
            element = etree.Element(f"{{{ATOM_NS}}}link", nsmap={"atom": ATOM_NS})
            element.set("href", link.href)
            element.set("rel", link.rel)
            if link.type:
                element.set("type", link.type)
            if link.title:
                element.set("title", link.title)
            if anchor is not None:
                anchor.addnext(element)
            else:
                channel.insert(0, element)
    if feed.stylesheet:
        instruction = etree.ProcessingInstruction(
            "xml-stylesheet", f'type="text/xsl" href="{feed.stylesheet}"'
        )
        root.addprevious(instruction)
    etree.indent(root, space="  ")
    data = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    # The declaration, the instruction and the root element each on their own line.
    data = data.replace(b"?><", b"?>\n<", 2 if feed.stylesheet else 1)
    return (_hex_references(data) if rss_flavour else data) + b"\n"


def _atom_enclosures(root: Any, posts: Sequence[Post]) -> None:
    by_id = {post.entry_id: post for post in posts}
    for entry in root.iter(f"{{{ATOM_NS}}}entry"):
        post = by_id.get(entry.findtext(f"{{{ATOM_NS}}}id") or "")
        for enclosure in post.enclosures if post else ():
            link = etree.SubElement(entry, f"{{{ATOM_NS}}}link")
            for name, value in (
                ("href", enclosure.url),
                ("rel", "enclosure"),
                ("type", enclosure.type),
                ("length", "0"),
            ):
                link.set(name, value)


def _hex_references(xml: bytes) -> bytes:
    """The RSS Profile's advice: "&" and "<" in plain text as &#x26; and &#x3C;.
    CDATA sections, kept as they are, found by `find` (a regex took 2 ms a feed,
    byte by byte through each entry's content)."""
    parts: list[bytes] = []
    at = 0
    while (start := xml.find(b"<![CDATA[", at)) >= 0 and (end := xml.find(b"]]>", start)) >= 0:
        parts += (_hex_text(xml[at:start]), xml[start : end + 3])
        at = end + 3
    parts.append(_hex_text(xml[at:]))
    return b"".join(parts)


def _hex_text(text: bytes) -> bytes:
    return text.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def _rss(feed: FeedSet) -> Render:
    def render(posts: Sequence[Post], full: int) -> bytes:
        fg = _generator(feed, posts, full, rss_flavour=True)
        return _finish(bytes(fg.rss_str(pretty=False)), feed, rss_flavour=True)

    return render


def _atom(feed: FeedSet) -> Render:
    def render(posts: Sequence[Post], full: int) -> bytes:
        fg = _generator(feed, posts, full, rss_flavour=False)
        return _finish(bytes(fg.atom_str(pretty=False)), feed, rss_flavour=False, posts=posts)

    return render


def _json(feed: FeedSet) -> Render:
    """JSON Feed 1.1, written by hand: it is a small dict, and key order is ours."""

    def render(posts: Sequence[Post], full: int) -> bytes:
        document: dict[str, object] = {
            "version": JSON_FEED_VERSION,
            "title": feed.title,
            "home_page_url": feed.home_url,
            "feed_url": feed.url("feed.json"),
            "description": feed.description,
            "language": feed.language,
            "authors": [{"name": feed.author}],
        }
        if feed.hub:
            document["hubs"] = [{"type": "WebSub", "url": feed.hub}]
        document["items"] = [
            _json_item(post, index < full, feed.language) for index, post in enumerate(posts)
        ]
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    return render


def _json_item(post: Post, full: bool, language: str) -> dict[str, object]:
    item: dict[str, object] = {"id": post.entry_id, "url": post.url, "title": post.title}
    if full:
        item["content_html"] = post.html
    else:
        item["content_text"] = post.excerpt
    item.update(
        {
            "summary": post.excerpt,
            "date_published": rfc3339(post.published),
            "date_modified": rfc3339(post.modified),
            "tags": list(_categories(post)),
            "authors": [{"name": post.author}],
            "language": language,
        }
    )
    if post.image:
        item["image"] = post.image.url
    if post.enclosures:
        item["attachments"] = [{"url": e.url, "mime_type": e.type} for e in post.enclosures]
    return item


def issues_feed(
    entries: Sequence[tuple[str, str, str, datetime]], feed_url: str, config: Config
) -> bytes:
    """RSS 2.0 of the web archive's issues: (page URL, subject, preheader, date),
    newest first; dated by its newest issue, so the same issues give the same bytes."""
    fg = FeedGenerator()
    site = config.site
    fg.id(config.archive.base_url)
    fg.title(f"{site.title}: issues")
    fg.description(f"Every issue of {site.title}'s newsletter")
    fg.link(href=feed_url, rel="self", type=RSS_TYPE)
    fg.link(href=config.archive.base_url, rel="alternate", type="text/html")
    fg.language(site.language)
    fg.generator(GENERATOR, version=__version__)
    newest = max((date for *_rest, date in entries), default=EPOCH).astimezone(UTC)
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for url, subject, preheader, date in entries:
        entry = fg.add_entry(order="append")
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(subject)
        entry.link(href=url, rel="alternate", type="text/html")
        entry.published(date.astimezone(UTC))
        entry.description(html.escape(preheader, quote=False) or html.escape(subject, quote=False))
    xml = bytes(fg.rss_str(pretty=False))
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False))
    etree.indent(root, space="  ")
    data = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    return _hex_references(data.replace(b"?><", b"?>\n<", 1)) + b"\n"
