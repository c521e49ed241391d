"""Featured images: read from the front matter as each tool writes it, carried by
the feeds as Media RSS and JSON Feed's `image`, shown above each post in emails."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner

from pipeline.core.posts.read import read_post
from pipeline.shell.cli import cli
from tests.conftest import SITE_TOML, Site, make_config, post_text
from tests.feedcheck import atom_problems, rss_problems
from tests.realtools import require, serve

POST_URL = "https://blog.example/a/"


def image_of(front: dict[str, Any], body: str = "Body.", **config: Any) -> Any:
    raw = post_text(body, slug="a", url=POST_URL, **front).encode()
    return read_post("a.md", raw, make_config(**config))


@pytest.mark.parametrize(
    ("front", "url", "alt"),
    [
        ({"featured_image": "https://cdn.example/a.jpg"}, "https://cdn.example/a.jpg", ""),
        (
            {"image": "/assets/a.jpg", "image_alt": "A cup"},
            "https://blog.example/assets/a.jpg",
            "A cup",
        ),
        ({"image": {"path": "a.jpg", "alt": "Tea"}}, "https://blog.example/a/a.jpg", "Tea"),
        ({"cover": {"image": "/c.png", "alt": "Cover"}}, "https://blog.example/c.png", "Cover"),
        ({"images": ["/one.jpg", "/two.jpg"]}, "https://blog.example/one.jpg", ""),
        ({"thumbnail": "https://blog.example/t.webp"}, "https://blog.example/t.webp", ""),
    ],
)
def test_the_featured_image_is_found_where_each_tool_writes_it(
    front: dict[str, Any], url: str, alt: str
) -> None:
    post = image_of(front)
    assert post.image is not None
    assert (post.image.url, post.image.alt) == (url, alt)
    assert any(w.kind == "featured-image-alt" for w in post.warnings) == (not alt)


def test_pelican_image_header_and_the_body_fallback() -> None:
    raw = b"Title: A\nDate: 2026-05-01 10:00\nImage: /images/p.jpg\n\nBody.\n"
    post = read_post("a.md", raw, make_config())
    assert post.image is not None and post.image.url.endswith("/images/p.jpg")
    body = "Words.\n\n![Steam over a cup](/img/cup.jpg)\n"
    assert image_of({}, body).image is None  # off unless configured
    found = image_of({}, body, build={"featured_image_from_body": True}).image
    assert (found.url, found.alt) == ("https://blog.example/img/cup.jpg", "Steam over a cup")


@pytest.mark.parametrize(
    "bad", ["javascript:alert(1)", "data:image/png;base64,AAAA", 'x" onerror="y', ""]
)
def test_an_image_that_is_not_a_web_address_is_left_out_with_a_warning(bad: str) -> None:
    post = image_of({"image": bad} if bad else {"image": {"alt": "no address"}})
    assert post.image is None
    if bad:
        assert [w.kind for w in post.warnings] == ["featured-image"]


def pictured_site(root: Path) -> Site:
    site = Site(root)
    site.post(
        "a.md",
        date="2026-05-30T00:00:00+00:00",
        slug="a",
        title="A",
        image={"path": "/img/a.jpg", "alt": "A bowl of oats", "width": 1200, "height": 800},
    )
    site.post("b.md", date="2026-05-29T00:00:00+00:00", slug="b", title="B")
    site.build("--since", "2026-05-01")
    return site


def test_feeds_carry_the_image_as_media_rss_and_json_feed_image(tmp_path: Path) -> None:
    site = pictured_site(tmp_path / "site")
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for name in ("feed.xml", "atom.xml"):
        raw = site.read(name).encode()
        parsed = feedparser.parse(raw)
        assert parsed.bozo == 0
        pictured, plain = parsed.entries
        assert pictured.media_content[0]["url"] == "https://blog.example/img/a.jpg"
        assert pictured.media_content[0]["medium"] == "image"
        assert pictured.media_thumbnail[0]["url"] == "https://blog.example/img/a.jpg"
        assert "media_content" not in plain
        assert (rss_problems if name == "feed.xml" else atom_problems)(raw, now) == []
    items = json.loads(site.read("feed.json"))["items"]
    assert [item.get("image") for item in items] == ["https://blog.example/img/a.jpg", None]


def test_a_feed_without_images_declares_no_media_namespace(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    site.post("b.md", date="2026-05-29T00:00:00+00:00", slug="b", title="B")
    site.build("--since", "2026-05-01")
    assert "media" not in site.read("feed.xml") and "media" not in site.read("atom.xml")


def test_newsboat_reads_every_entry_of_a_feed_with_media_elements(tmp_path: Path) -> None:
    """newsboat (2.21) keeps no Media RSS image of its own; what matters is that the
    elements cost it nothing: every entry read, as feedparser reads them."""
    binary = require("newsboat")
    site = pictured_site(tmp_path / "site")
    home = tmp_path / "newsboat"
    home.mkdir()
    (home / "config").write_text("")
    with serve(site.out) as base:
        (home / "urls").write_text(base + "feed.xml\n")
        subprocess.run(
            [binary, "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"],
            cwd=home,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=60,
            check=True,
        )
    with sqlite3.connect(home / "cache.db") as db:
        kept = sorted(db.execute("SELECT guid, title FROM rss_item"))
    parsed = feedparser.parse(site.read("feed.xml"))
    assert kept == sorted((entry.id, entry.title) for entry in parsed.entries)
    assert len(kept) == 2


def test_the_email_shows_the_image_above_the_title_linked_to_the_post(tmp_path: Path) -> None:
    site = pictured_site(tmp_path / "site")
    [folder] = site.emails()
    html = (folder / "email.html").read_text(encoding="utf-8")
    image = html.index('class="featured-image"')
    assert html.index('href="https://blog.example/a/" class="featured-link"') < image
    assert image < html.index(">A</a></h2>")  # above its post's title
    assert 'alt="A bowl of oats" width="536" height="357"' in html  # scaled to the column
    assert html.count('class="featured-image"') == 1  # the post without one has none
    assert "img/a.jpg" not in (folder / "email.txt").read_text(encoding="utf-8")


def test_check_warns_of_a_featured_image_without_alt_or_address(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", SITE_TOML)
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="A", image="/x.jpg")
    site.post("b.md", date="2026-05-30T00:00:00+00:00", slug="b", title="B", image="ftp://x/y")
    said = CliRunner().invoke(cli, ["check", "--site", str(site.root)]).output
    assert "warning: the featured image https://blog.example/x.jpg has no alt text" in said
    assert "warning: the featured image 'ftp://x/y' ('image') is not a web address" in said
    assert said.count("a.md:") == 1 and said.count("b.md:") == 1
