"""Feeds as validators, browsers and real readers see them."""

from __future__ import annotations

import calendar
import json
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import feedparser
import pytest

from tests.conftest import FIXTURE, REPO, SITE_TOML, Site
from tests.feedcheck import atom_problems, rss_problems
from tests.realtools import dump_dom, require, serve

NOW = "2026-11-24T08:00:00+00:00"


def sample_site(root: Path) -> Site:
    site = Site(root, (REPO / "newsletter.toml").read_text(encoding="utf-8"))
    shutil.copytree(REPO / "content", site.content, dirs_exist_ok=True)
    if FIXTURE.is_file():
        site.write("gut-health-and-sleep.md", FIXTURE.read_bytes())
    site.build("--since", "2026-10-01", now=NOW)
    return site


def awkward_site(root: Path) -> Site:
    """Titles, names and URLs that trip feed generators up."""
    site = Site(root, SITE_TOML + "\n[feed]\ntag_feeds = true\n")
    site.post(
        "amp.md",
        "Fish & chips <b>bold</b> [a café](</café menu/?q=a b&c=d>).",
        date="2026-05-01T10:00:00+05:45",
        slug="amp",
        title="Salt & Pepper <3 — Q&A",
        excerpt="Tom & Jerry say 1 < 2 & “quotes”.",
        categories=["Food & Drink", "../../etc"],
        tags=["café", "C++", "c", "C"],
        url="https://blog.example/überblick/",
    )
    site.post("plain.md", "Body.", date="2026-05-02T00:00:00-03:30", slug="plain", title="Plain")
    site.build(now="2026-06-01T00:00:00+00:00")
    return site


def _all_problems(site: Site, now: str) -> dict[str, list[str]]:
    moment = datetime.fromisoformat(now)
    found = {}
    for name, data in site.files().items():
        if name.endswith("feed.xml"):
            found[name] = rss_problems(data, moment)
        elif name.endswith("atom.xml"):
            found[name] = atom_problems(data, moment)
    assert found
    return found


def test_sample_site_and_fixture_feeds_pass_every_validator_rule(tmp_path: Path) -> None:
    site = sample_site(tmp_path / "site")
    problems = _all_problems(site, NOW)
    assert {name: p for name, p in problems.items() if p} == {}
    assert "category/sleep/feed.xml" in problems


def test_awkward_names_and_urls_still_pass(tmp_path: Path) -> None:
    site = awkward_site(tmp_path / "site")
    problems = _all_problems(site, "2026-06-01T00:00:00+00:00")
    assert {name: p for name, p in problems.items() if p} == {}
    names = set(site.files())
    assert "category/food-drink/feed.xml" in names and "category/etc/atom.xml" in names
    assert {"tag/cafe/feed.xml", "tag/c/feed.xml"} <= names
    assert any(n.startswith("tag/c-") for n in names)  # "C++" and "c" do not collide
    for name in names:
        assert ".." not in name and not name.startswith("/")
    entry = feedparser.parse(site.read("atom.xml")).entries[-1]
    assert entry.title == "Salt & Pepper <3 — Q&A"
    assert entry.link == "https://blog.example/%C3%BCberblick/"
    assert 'href="https://blog.example/caf%C3%A9%20menu/?q=a%20b&amp;c=d"' in entry.content[0].value
    rss_item = feedparser.parse(site.read("feed.xml")).entries[-1]
    assert rss_item.title == "Salt & Pepper <3 — Q&A"
    assert rss_item.summary == "Tom &amp; Jerry say 1 &lt; 2 &amp; “quotes”."  # HTML, shown as text
    assert rss_item.published == "Fri, 01 May 2026 04:15:00 +0000"  # +05:45 given, UTC written


def test_each_feed_links_to_itself_and_main_feeds_advertise_the_others(tmp_path: Path) -> None:
    site = sample_site(tmp_path / "site")
    for name in ("category/sleep/feed.xml", "category/sleep/atom.xml"):
        links = {link.rel: link.href for link in feedparser.parse(site.read(name)).feed.links}
        assert links["self"] == f"https://driftly.blog/{name}"
    related = [
        link.href
        for link in feedparser.parse(site.read("atom.xml")).feed.links
        if link.rel == "related"
    ]
    assert related == [
        "https://driftly.blog/category/sleep/atom.xml",
        "https://driftly.blog/category/wellness/atom.xml",
        "https://driftly.blog/feeds.opml",
    ]
    assert 'rel="related"' in site.read("feed.xml")
    opml = site.read("feeds.opml")
    for name in ("feed.xml", "category/sleep/feed.xml", "category/wellness/feed.xml"):
        assert f'xmlUrl="https://driftly.blog/{name}"' in opml


def test_json_feed_1_1_fields(tmp_path: Path) -> None:
    site = sample_site(tmp_path / "site")
    feed = json.loads(site.read("feed.json"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["home_page_url"] == "https://driftly.blog/"
    assert feed["feed_url"] == "https://driftly.blog/feed.json"
    assert feed["language"] == "en"
    item = feed["items"][0]
    assert set(item) == {
        "id",
        "url",
        "title",
        "content_html",
        "summary",
        "date_published",
        "date_modified",
        "tags",
        "authors",
        "language",
    }
    assert item["authors"] == [{"name": "Marina"}]


def test_sponsored_links_and_disclosure_first_in_every_format(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    site.post(
        "aff.md",
        "Intro with [a mug](https://amzn.to/mug).\n\n"
        "🔗 **Affiliate disclosure:** I earn a commission from some links.",
        date="2026-05-01T00:00:00+00:00",
        slug="aff",
    )
    site.build()
    contents = [
        feedparser.parse(site.read("feed.xml")).entries[0].content[0].value,
        feedparser.parse(site.read("atom.xml")).entries[0].content[0].value,
        json.loads(site.read("feed.json"))["items"][0]["content_html"],
    ]
    for html in contents:
        assert '<a href="https://amzn.to/mug" rel="sponsored">' in html
        assert html.index("Affiliate disclosure:") < html.index("amzn.to")


def test_ids_survive_edits_slug_and_url_changes(site: Site) -> None:
    site.post("p.md", "One.", id=7, date="2026-05-01T00:00:00+00:00", slug="first", title="T")
    site.post("q.md", "Two.", date="2026-05-02T00:00:00+00:00", slug="q", title="Q")
    site.build()

    def ids() -> list[list[str]]:
        return [
            [e.id for e in feedparser.parse(site.read("feed.xml")).entries],
            [e.id for e in feedparser.parse(site.read("atom.xml")).entries],
            [i["id"] for i in json.loads(site.read("feed.json"))["items"]],
        ]

    before = ids()
    assert before[0] == before[1] == before[2]
    assert "https://blog.example/?p=7" in before[0]
    site.post(
        "p.md",
        "One, edited.",
        id=7,
        date="2026-05-01T00:00:00+00:00",
        slug="renamed",
        url="https://blog.example/elsewhere/",
        title="T2",
        modified_at="2026-05-20T00:00:00+00:00",
    )
    site.post("q.md", "Two, edited.", date="2026-05-02T00:00:00+00:00", slug="q", title="Q2")
    site.build()
    assert ids() == before


def test_edit_bumps_updated_and_date_modified_never_published(site: Site) -> None:
    site.post("p.md", "One.", id=7, date="2026-05-01T00:00:00+00:00", title="T")
    site.post("o.md", "Old.", id=8, date="2026-04-01T00:00:00+00:00", title="Old")
    site.build()
    rss_before = site.read("feed.xml")
    site.post(
        "p.md",
        "One+",
        id=7,
        date="2026-05-01T00:00:00+00:00",
        title="T",
        modified_at="2026-05-25T06:00:00+00:00",
    )
    site.build()
    atom = feedparser.parse(site.read("atom.xml"))
    assert atom.entries[0].updated == "2026-05-25T06:00:00+00:00"
    assert atom.entries[0].published == "2026-05-01T00:00:00+00:00"
    assert atom.feed.updated == "2026-05-25T06:00:00+00:00"  # the newest entry's
    item = json.loads(site.read("feed.json"))["items"][0]
    assert (item["date_published"], item["date_modified"]) == (
        "2026-05-01T00:00:00+00:00",
        "2026-05-25T06:00:00+00:00",
    )
    rss = feedparser.parse(site.read("feed.xml"))
    assert rss.entries[0].published == "Fri, 01 May 2026 00:00:00 +0000"
    assert "<pubDate>Fri, 01 May 2026 00:00:00 +0000</pubDate>" in rss_before


def test_byte_budget_drops_content_of_the_oldest_first_then_entries(make_site) -> None:  # type: ignore[no-untyped-def]
    def build(budget: int) -> Site:
        site = make_site(f"b{budget}", SITE_TOML + f"\n[feed]\nmax_bytes = {budget}\n")
        for day in range(1, 7):
            site.post(
                f"p{day}.md",
                ("Long paragraph of text. " * 60),
                date=f"2026-05-0{day}T00:00:00+00:00",
                slug=f"p{day}",
                title=f"P{day}",
            )
        site.build()
        return site

    full = build(0)
    size = len(full.files()["atom.xml"])
    trimmed = build(size * 2 // 3)
    data = trimmed.files()["atom.xml"]
    assert len(data) <= size * 2 // 3
    entries = feedparser.parse(data).entries
    assert len(entries) == 6
    with_content = [e.title for e in entries if "content" in e]
    assert with_content and with_content == [e.title for e in entries][: len(with_content)]
    assert "content" not in entries[-1] and entries[-1].summary
    tiny = build(3000)
    entries = feedparser.parse(tiny.files()["atom.xml"]).entries
    assert 1 <= len(entries) < 6 and entries[0].title == "P6"
    items = json.loads(tiny.files()["feed.json"])["items"]
    assert "content_text" in items[-1] and "content_html" not in items[-1]
    assert len(tiny.files()["feed.json"]) <= 3000


def test_websub_hub_is_advertised(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site(toml=SITE_TOML + '\n[feed]\nwebsub_hub = "https://hub.example/"\n')
    site.post("p.md", date="2026-05-01T00:00:00+00:00", slug="p")
    site.build()
    for name in ("feed.xml", "atom.xml"):
        links = {link.rel: link.href for link in feedparser.parse(site.read(name)).feed.links}
        assert links["hub"] == "https://hub.example/"
    assert json.loads(site.read("feed.json"))["hubs"] == [
        {"type": "WebSub", "url": "https://hub.example/"}
    ]


@pytest.mark.parametrize("name", ["feed.xml", "atom.xml", "category/sleep/feed.xml"])
def test_feed_opened_in_a_browser_is_a_readable_page(tmp_path: Path, name: str) -> None:
    site = sample_site(tmp_path / "site")
    with serve(site.out) as base:
        page = dump_dom(base + name)
    assert "<h1>Driftly" in page
    assert "This is a web feed" in page
    assert "Does Chamomile Tea Actually Help You Sleep?" in page
    assert "Magnesium and Sleep" in page
    assert "&lt;rss" not in page and "<rss" not in page  # transformed, not shown raw


def _newsboat(url: str, home: Path) -> list[tuple[str, int]]:
    """newsboat's own headless run: reload, print-unread; then what its cache kept."""
    binary = require("newsboat")
    home.mkdir()
    (home / "urls").write_text(url + "\n")
    (home / "config").write_text("")
    result = subprocess.run(
        [
            binary,
            "-u",
            "urls",
            "-c",
            "cache.db",
            "-C",
            "config",
            "-x",
            "reload",
            "-x",
            "print-unread",
        ],
        cwd=home,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(home / "cache.db") as db:
        return sorted(db.execute("SELECT guid, pubDate FROM rss_item"))


@pytest.mark.parametrize("name", ["feed.xml", "atom.xml", "category/sleep/atom.xml"])
def test_newsboat_keeps_every_entry_and_reads_dates_as_feedparser_does(
    tmp_path: Path, name: str
) -> None:
    site = sample_site(tmp_path / "site")
    parsed = feedparser.parse(site.read(name))
    expected = sorted((e.id, calendar.timegm(e.published_parsed)) for e in parsed.entries)
    with serve(site.out) as base:
        kept = _newsboat(base + name, tmp_path / "newsboat")
    assert kept == expected
    assert len(kept) == len(parsed.entries) >= 2
