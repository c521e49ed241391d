"""The web archive: each email as a page anyone can open or share, an index of
every issue, and a feed of issues; each email links to its page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from tests.conftest import SITE_TOML, Site
from tests.feedcheck import rss_problems
from tests.test_email_clients import check


def issue_site(root: Path, toml: str = SITE_TOML) -> Site:
    site = Site(root, toml)
    site.post(
        "a.md",
        "First post body.",
        date="2026-05-30T00:00:00+00:00",
        slug="a",
        title="First <issue> & more",
        image={"path": "/img/a.jpg", "alt": "A cup of tea"},
    )
    site.build("--since", "2026-05-01")
    return site


def test_each_email_gets_a_page_without_anything_of_a_reader(tmp_path: Path) -> None:
    site = issue_site(tmp_path / "site")
    [folder] = site.emails()
    url = f"https://blog.example/archive/{folder.name}/"
    email_html = (folder / "email.html").read_text(encoding="utf-8")
    assert f'<a href="{url}"' in email_html and "View in browser" in email_html
    assert f"View in browser: {url}\n" in (folder / "email.txt").read_text(encoding="utf-8")
    page = site.read(f"archive/{folder.name}/index.html")
    assert "<title>First &lt;issue&gt; &amp; more</title>" in page
    assert f'<link rel="canonical" href="{url}">' in page
    assert '<meta property="og:title" content="First &lt;issue&gt; &amp; more">' in page
    assert '<meta property="og:image" content="https://blog.example/img/a.jpg">' in page
    assert "First post body" in page or "First post body" in email_html
    assert "unsubscribe" not in page.lower() and "View in browser" not in page
    assert re.search(r'href="https://blog.example/archive/"[^>]*>Every issue</a>', page)
    report = check(site.out / "archive" / folder.name / "index.html")
    assert report["htmlValidate"] == {"valid": True, "messages": []}


def test_the_index_and_feed_list_every_issue_newest_first(tmp_path: Path) -> None:
    site = issue_site(tmp_path / "site")
    [first] = site.emails()
    first_page = site.read(f"archive/{first.name}/index.html")
    site.post("b.md", date="2026-06-01T09:00:00+00:00", slug="b", title="Second issue")
    site.build(now="2026-06-01T12:30:00+00:00")
    second = next(e for e in site.emails() if e.name != first.name)
    index = site.read("archive/index.html")
    links = re.findall(r'<h2><a href="([^"]+)">', index)
    base = "https://blog.example/archive/"
    assert links == [f"{base}{second.name}/", f"{base}{first.name}/"]
    assert site.read(f"archive/{first.name}/index.html") == first_page  # left as it was
    raw = site.read("archive/feed.xml").encode()
    parsed = feedparser.parse(raw)
    assert parsed.bozo == 0 and [e.link for e in parsed.entries] == links
    assert [e.title for e in parsed.entries] == ["Second issue", "First <issue> & more"]
    assert rss_problems(raw, datetime(2026, 6, 2, tzinfo=UTC)) == []
    assert check(site.out / "archive" / "index.html")["htmlValidate"]["valid"] is True
    before = site.files()
    site.build(now="2026-06-01T13:00:00+00:00")  # nothing new: nothing rewritten
    assert site.files() == before


def test_the_archive_can_be_switched_off(tmp_path: Path) -> None:
    site = issue_site(tmp_path / "site", SITE_TOML + "\n[archive]\nenabled = false\n")
    [folder] = site.emails()
    assert not (site.out / "archive").exists()
    assert "View in browser" not in (folder / "email.html").read_text(encoding="utf-8")


def test_a_site_without_emails_has_no_archive(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="A")
    site.build()  # a first build emails nothing
    assert not (site.out / "archive").exists()
