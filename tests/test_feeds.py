"""Feeds as a reader sees them: feedparser on every file, ids, order, limits."""

from __future__ import annotations

import json

import feedparser
import pytest

from pipeline.core.feeds import _hex_references
from pipeline.core.feedsets import slugify, unique_slugs
from tests.conftest import Site


@pytest.fixture
def built(site: Site) -> Site:
    site.post(
        "a.md",
        "Alpha body.",
        date="2026-05-01T00:00:00+00:00",
        slug="a",
        title="Alpha",
        categories=["Sleep", "Food & Drink"],
        tags=["x"],
    )
    site.post(
        "b.md",
        "Beta body.",
        date="2026-05-03T00:00:00+00:00",
        slug="b",
        title="Beta",
        categories=["Sleep"],
        modified_at="2026-05-20T00:00:00+00:00",
    )
    site.post(
        "c.md",
        "Gamma body.",
        date="2026-05-02T00:00:00+02:00",
        slug="c",
        title="Gamma",
        categories=["Ünïcode ✓"],
    )
    site.build()
    return site


def test_every_feed_file_parses_without_bozo(built: Site) -> None:
    feeds = [p for p in built.files() if p.endswith((".xml", ".json"))]
    assert set(feeds) >= {
        "feed.xml",
        "atom.xml",
        "feed.json",
        "category/sleep/feed.xml",
        "category/sleep/atom.xml",
        "category/food-drink/feed.xml",
        "category/unicode/atom.xml",
    }
    for name in feeds:
        if name.endswith(".xml"):
            parsed = feedparser.parse(built.read(name))
            assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
            assert parsed.entries, name
        else:
            assert json.loads(built.read(name))["version"] == "https://jsonfeed.org/version/1.1"


def test_entries_newest_first_and_channel_dates_from_entries(built: Site) -> None:
    rss = feedparser.parse(built.read("feed.xml"))
    assert [e.title for e in rss.entries] == ["Beta", "Gamma", "Alpha"]
    assert rss.feed.updated == "Wed, 20 May 2026 00:00:00 +0000"  # newest change, not the clock
    atom = feedparser.parse(built.read("atom.xml"))
    assert atom.feed.updated == "2026-05-20T00:00:00+00:00"
    assert [e.title for e in feedparser.parse(built.read("category/sleep/atom.xml")).entries] == [
        "Beta",
        "Alpha",
    ]


def test_self_links_and_alternate_links(built: Site) -> None:
    rss = feedparser.parse(built.read("category/sleep/feed.xml"))
    links = {link.rel: link.href for link in rss.feed.links}
    assert links["self"] == "https://blog.example/category/sleep/feed.xml"
    assert links["alternate"] == "https://blog.example/"
    atom = feedparser.parse(built.read("atom.xml"))
    assert {link.rel: link.href for link in atom.feed.links}[
        "self"
    ] == "https://blog.example/atom.xml"


def test_same_id_in_rss_atom_and_json(built: Site) -> None:
    rss = [e.id for e in feedparser.parse(built.read("feed.xml")).entries]
    atom = [e.id for e in feedparser.parse(built.read("atom.xml")).entries]
    jsn = [i["id"] for i in json.loads(built.read("feed.json"))["items"]]
    assert rss == atom == jsn and len(set(rss)) == 3


def test_feed_limit(site: Site) -> None:
    (site.root / "newsletter.toml").write_text(
        (site.root / "newsletter.toml").read_text() + "\n[feed]\nlimit = 2\n"
    )
    for day in range(1, 6):
        site.post(
            f"p{day}.md", date=f"2026-05-0{day}T00:00:00+00:00", slug=f"p{day}", title=f"P{day}"
        )
    site.build()
    assert [e.title for e in feedparser.parse(site.read("feed.xml")).entries] == ["P5", "P4"]
    assert len(json.loads(site.read("feed.json"))["items"]) == 2


def test_no_wall_clock_in_any_file(site: Site) -> None:
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a")
    site.build("--since", "2026-01-01", now="2026-06-01T12:00:00+00:00")
    for name, data in site.files().items():
        assert b"2026-06-01" not in data and b"01 Jun 2026" not in data, name


def test_slugs_are_safe_path_segments() -> None:
    assert slugify("Food & Drink") == "food-drink"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("睡眠").startswith("n-")
    slugs = unique_slugs(["C++", "C", "c", "Sleep", "sleep"])
    assert slugs["C"] == slugs["c"] == "c" and slugs["C++"].startswith("c-")
    assert slugs["Sleep"] == slugs["sleep"] == "sleep"
    assert all("/" not in s and ".." not in s for s in slugs.values())


def test_rss_text_takes_hex_references_and_cdata_stays_as_written() -> None:
    xml = (
        b"<title>Tea &amp; toast &lt;3</title>"
        b"<content:encoded><![CDATA[<p>Tea &amp; <b>toast</b></p>]]></content:encoded>"
        b"<category>A &amp; B</category><![CDATA[&lt;]]>"
    )
    assert _hex_references(xml) == (
        b"<title>Tea &#x26; toast &#x3C;3</title>"
        b"<content:encoded><![CDATA[<p>Tea &amp; <b>toast</b></p>]]></content:encoded>"
        b"<category>A &#x26; B</category><![CDATA[&lt;]]>"
    )
