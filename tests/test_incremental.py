"""The shortcuts that make a cron run cost what changed, and why they are safe."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import feedparser
import pytest

import pipeline.shell.reading
import pipeline.store.rendered
from pipeline.store.rendered import cache_key
from tests.conftest import SITE_TOML, Site, make_config, post_text


def touch_back(path: Path, stat: os.stat_result) -> None:
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_same_size_same_mtime_edit_is_caught_only_by_full_scan(site: Site) -> None:
    post = site.post("a.md", "Body AAAA.", date="2026-05-01T00:00:00+00:00", slug="a", title="Tom")
    site.build()
    stat = post.stat()
    text = post.read_text().replace("Body AAAA.", "Body BBBB.")
    post.write_text(text)
    touch_back(post, stat)
    assert post.stat().st_size == stat.st_size
    site.build()
    assert "Body AAAA." in site.read("feed.xml")  # trusted size and mtime: not re-read
    site.build("--full-scan")
    assert "Body BBBB." in site.read("feed.xml")
    assert site.emails() == []  # a quiet edit: no modified_at bump, nobody emailed


def test_edit_without_modified_at_bump_updates_feeds_but_is_not_announced(site: Site) -> None:
    site.post("a.md", "First version.", date="2026-05-01T00:00:00+00:00", slug="a")
    site.build()
    site.post("a.md", "Second, longer version.", date="2026-05-01T00:00:00+00:00", slug="a")
    result = site.build()
    assert "Second, longer version." in site.read("atom.xml")
    assert "modified:" not in result.output and site.emails() == []


def test_a_new_post_renders_only_itself(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    for day in range(1, 10):
        site.post(
            f"p{day}.md",
            f"Post {day}.",
            date=f"2026-05-0{day}T00:00:00+00:00",
            slug=f"p{day}",
            categories=["Sleep"],
        )
    site.build(now="2026-05-20T00:00:00+00:00")
    rendered: list[str] = []
    headers: list[str] = []
    real_post, real_header = pipeline.shell.reading.read_post, pipeline.shell.reading.read_header
    monkeypatch.setattr(
        pipeline.shell.reading,
        "read_post",
        lambda s, r, c, lookup=None: rendered.append(s) or real_post(s, r, c, lookup),
    )
    monkeypatch.setattr(
        pipeline.shell.reading,
        "read_header",
        lambda s, r, c, i=None: headers.append(s) or real_header(s, r, c, i),
    )
    site.post(
        "new.md", "Brand new.", date="2026-05-21T00:00:00+00:00", slug="new", categories=["Sleep"]
    )
    site.build(now="2026-05-22T00:00:00+00:00")
    assert headers == ["new.md"] and rendered == ["new.md"]
    assert len(feedparser.parse(site.read("feed.xml")).entries) == 10
    assert len(site.emails()) == 1


def test_cached_html_is_invalidated_when_the_configuration_changes(site: Site) -> None:
    site.post(
        "a.md",
        "Buy [oats](https://shop.example/oats).\n\n**Affiliate disclosure:** yes.",
        date="2026-05-01T00:00:00+00:00",
        slug="a",
    )
    site.build()
    assert 'rel="sponsored"' not in site.read("feed.xml")
    (site.root / "newsletter.toml").write_text(
        SITE_TOML + '\n[affiliate]\nhosts = ["shop.example"]\n'
    )
    site.build()
    assert 'rel="sponsored"' in site.read("feed.xml")


def test_cache_key_follows_the_renderer_and_its_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = make_config()
    assert cache_key(base) == cache_key(make_config())
    assert cache_key(base) != cache_key(make_config(build={"excerpt_length": 120}))
    before = cache_key(base)
    current = pipeline.store.rendered.CACHE_FORMAT
    monkeypatch.setattr("pipeline.store.rendered.CACHE_FORMAT", current + 1)
    assert cache_key(base) != before
    monkeypatch.setattr("pipeline.store.rendered.CACHE_FORMAT", current)
    monkeypatch.setattr("pipeline.store.rendered._renderer_versions", lambda: "markdown-it-py 99")
    assert cache_key(base) != before


def test_a_broken_cache_costs_time_not_correctness(site: Site) -> None:
    site.post("a.md", "Body.", date="2026-05-01T00:00:00+00:00", slug="a", title="Alpha")
    site.build()
    (site.root / ".newsletter" / "cache.sqlite").write_bytes(b"garbage" * 100)
    site.post("b.md", "Body.", date="2026-05-02T00:00:00+00:00", slug="b", title="Beta")
    result = site.build()
    assert "cache unreadable" in result.output
    titles = [e.title for e in feedparser.parse(site.read("feed.xml")).entries]
    assert titles == ["Beta", "Alpha"]


@pytest.mark.parametrize("change", ["scheduled", "out", "template", "config", "content"])
def test_the_nothing_changed_exit_is_not_taken_when_something_did(site: Site, change: str) -> None:
    site.post("a.md", "Body.", date="2026-05-01T00:00:00+00:00", slug="a", title="A")
    site.post("later.md", "Later.", date="2026-06-05T00:00:00+00:00", slug="later", title="Later")
    site.build()
    assert "nothing changed" in site.build(now="2026-06-02T00:00:00+00:00").output
    now = "2026-06-02T00:00:00+00:00"
    if change == "scheduled":
        now = "2026-06-05T00:01:00+00:00"
    elif change == "out":
        (site.out / "atom.xml").unlink()
    elif change == "template":
        folder = site.root / "templates" / "email"
        folder.mkdir(parents=True)
        (folder / "digest.txt").write_text("{{ subject }}\n")
    elif change == "config":
        (site.root / "newsletter.toml").write_text(SITE_TOML.replace("Test Blog", "Renamed Blog"))
    else:
        site.post("b.md", "B.", date="2026-05-02T00:00:00+00:00", slug="b", title="B")
    result = site.build(now=now)
    assert "nothing changed" not in result.output
    if change == "scheduled":
        assert "Later" in site.read("feed.xml")
    if change == "out":
        assert (site.out / "atom.xml").is_file()
    if change == "config":
        assert "Renamed Blog" in site.read("feed.xml")


def _titles(site: Site, name: str) -> list[str]:
    return [e.title for e in feedparser.parse(site.read(name)).entries]


def _two_category_site(site: Site) -> None:
    site.post(
        "s.md",
        "S.",
        date="2026-05-01T00:00:00+00:00",
        slug="s",
        title="Sleepy",
        categories=["Sleep"],
    )
    site.post(
        "f.md", "F.", date="2026-05-02T00:00:00+00:00", slug="f", title="Foody", categories=["Food"]
    )
    site.post(
        "m.md",
        "M.",
        date="2026-05-03T00:00:00+00:00",
        slug="m",
        title="Mover",
        categories=["Sleep"],
    )
    site.build()


def test_only_the_touched_category_feeds_are_written(site: Site) -> None:
    _two_category_site(site)
    food = (site.out / "category/food/feed.xml").stat().st_mtime_ns
    site.post(
        "n.md",
        "N.",
        date="2026-05-04T00:00:00+00:00",
        slug="n",
        title="New sleep",
        categories=["Sleep"],
    )
    result = site.build()
    assert "New sleep" in _titles(site, "category/sleep/feed.xml")
    assert (site.out / "category/food/feed.xml").stat().st_mtime_ns == food
    assert "category/food/feed.xml" not in result.output


def test_a_post_moving_category_leaves_the_old_feed_and_joins_the_new(site: Site) -> None:
    _two_category_site(site)
    site.post(
        "m.md", "M.", date="2026-05-03T00:00:00+00:00", slug="m", title="Mover", categories=["Food"]
    )  # a quiet edit: no modified_at bump
    site.build()
    assert _titles(site, "category/sleep/atom.xml") == ["Sleepy"]
    assert _titles(site, "category/food/atom.xml") == ["Mover", "Foody"]


def test_a_deleted_post_leaves_its_category_feed(site: Site) -> None:
    _two_category_site(site)
    (site.content / "m.md").unlink()
    site.build()
    assert _titles(site, "category/sleep/feed.xml") == ["Sleepy"]
    assert _titles(site, "category/food/feed.xml") == ["Foody"]


def test_a_configuration_change_rewrites_every_feed(site: Site) -> None:
    _two_category_site(site)
    (site.root / "newsletter.toml").write_text(SITE_TOML.replace("Test Blog", "Renamed"))
    site.build()
    for name in ("category/food/feed.xml", "category/sleep/atom.xml", "feed.xml"):
        assert feedparser.parse(site.read(name)).feed.title.startswith("Renamed")


def test_a_missing_category_feed_is_written_again(site: Site) -> None:
    _two_category_site(site)
    (site.out / "category/food/atom.xml").unlink()
    site.post("n.md", "N.", date="2026-05-04T00:00:00+00:00", slug="n", categories=["Sleep"])
    site.build()
    assert _titles(site, "category/food/atom.xml") == ["Foody"]


def test_a_fractional_modified_at_is_not_announced_again(site: Site) -> None:
    site.post("a.md", "A.", date="2026-05-01T00:00:00+00:00", slug="a", modified_at=None)
    site.build()
    site.post(
        "a.md",
        "A, edited.",
        date="2026-05-01T00:00:00+00:00",
        slug="a",
        modified_at="2026-05-20T10:00:00.75+00:00",
    )
    assert len(json.loads(site.build("--json").stdout)["modified"]) == 1
    site.write("b.md", post_text("B.", date="2026-05-02T00:00:00+00:00", slug="b"))
    assert json.loads(site.build("--json").stdout)["modified"] == []


# A cron run decides from the post index (only the posts that differ from the ledger
# are loaded); --full-scan decides from every post, and a dry run from every post
# through the index opened read-only. All three must decide alike, and the first
# two write the same bytes.
TWIN_TOML = SITE_TOML + "\n[feed]\nlimit = 3\ntag_feeds = true\n"


def _seed(site: Site) -> None:
    topics = [("Sleep", "night"), ("Food", "oats"), ("Tea", "night"), ("Sleep", "oats")]
    for day in range(1, 9):
        category, tag = topics[day % 4]
        site.post(
            f"p{day}.md",
            f"Post {day}.",
            date=f"2026-05-0{day}T00:00:00+00:00",
            slug=f"p{day}",
            title=f"Post {day}",
            categories=[category],
            tags=[tag],
        )
    site.post("draft.md", "D.", date="2026-05-09T00:00:00+00:00", slug="d", draft=True)
    site.post("soon.md", "S.", date="2026-06-13T00:00:00+00:00", slug="soon", categories=["Tea"])


def _edit(site: Site, name: str, **front: object) -> None:
    day = name[1]
    values: dict[str, object] = {
        "date": f"2026-05-0{day}T00:00:00+00:00",
        "slug": f"p{day}",
        "title": f"Post {day}",
        "categories": ["Sleep"],
    }
    values.update(front)
    body = str(values.pop("body", f"Post {day}, edited."))
    site.post(name, body, **values)


TWIN_STEPS: list[tuple[str, Callable[[Site], object], int]] = [
    (
        "new post",
        lambda s: s.post(
            "n.md",
            "N.",
            date="2026-06-01T09:00:00+00:00",
            slug="n",
            categories=["Food"],
            tags=["night"],
        ),
        0,
    ),
    ("modified", lambda s: _edit(s, "p2.md", modified_at="2026-06-02T00:00:00+00:00"), 0),
    ("quiet edit moving category", lambda s: _edit(s, "p5.md", categories=["Tea"]), 0),
    ("deleted", lambda s: (s.content / "p8.md").unlink(), 0),
    (
        "draft published",
        lambda s: s.post(
            "draft.md", "D.", date="2026-05-09T00:00:00+00:00", slug="d", categories=["Food"]
        ),
        0,
    ),
    ("unpublished", lambda s: _edit(s, "p7.md", draft=True), 0),
    (
        "duplicate identity",
        lambda s: s.post("zz.md", "Z.", date="2026-05-30T00:00:00+00:00", slug="p3"),
        1,
    ),
    ("duplicate removed", lambda s: (s.content / "zz.md").unlink(), 0),
    ("unreadable", lambda s: s.write("p4.md", b"\xff\xfe not text"), 1),
    ("readable again", lambda s: _edit(s, "p4.md", categories=["Food"]), 0),
    ("renamed", lambda s: (s.content / "p1.md").rename(s.content / "p1-renamed.md"), 0),
    ("scheduled post comes due", lambda s: None, 0),
    ("unreadable again", lambda s: s.write("p6.md", b"\xff\xfe not text"), 1),
    ("unreadable, then deleted", lambda s: (s.content / "p6.md").unlink(), 0),
    ("nothing", lambda s: None, 0),
]


def _twins(
    site: Site, tmp_path: Path, step: int, now: str, code: int, label: str
) -> dict[str, object]:
    """Build `site` as cron would, and a copy of it with --full-scan: the same."""
    twin_root = tmp_path / f"twin-{step}"
    shutil.copytree(site.root, twin_root, symlinks=True)
    twin = Site(twin_root, (site.root / "newsletter.toml").read_text())
    lean = json.loads(site.build("--json", now=now, code=code).stdout)
    full = json.loads(twin.build("--json", "--full-scan", now=now, code=code).stdout)
    if not lean.get("unchanged"):  # else: the nothing-changed exit, nothing to compare
        for summary in (lean, full):
            summary.pop("files_written")
            summary.pop("files_unchanged")
        assert lean == full, label
    assert site.files() == twin.files(), label
    shutil.rmtree(twin_root)
    return lean


def test_a_held_edit_reaches_the_feeds_as_a_full_scan_writes_it(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", TWIN_TOML + "\n[build]\nsettle_minutes = 60\n")
    _seed(site)
    site.build(now="2026-06-01T00:00:00+00:00")
    # Edited ten minutes ago, moved to another category: held from the email, but the
    # feeds (its old and new category's too) show it as it is now.
    _edit(site, "p3.md", modified_at="2026-06-02T11:50:00+00:00", categories=["Tea"])
    held = _twins(site, tmp_path, 0, "2026-06-02T12:00:00+00:00", 0, "held")
    assert held["held"] == ["p3"] and held["emails"] == []
    settled = _twins(site, tmp_path, 1, "2026-06-02T13:00:00+00:00", 0, "settled")
    assert settled["modified"] == ["p3"]


def test_a_cron_run_writes_what_a_full_scan_writes(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", TWIN_TOML)
    _seed(site)
    site.build(now="2026-06-01T00:00:00+00:00")
    for step, (label, change, code) in enumerate(TWIN_STEPS):
        change(site)
        now = f"2026-06-{2 + step:02d}T00:00:00+00:00"  # soon.md comes due on the 13th
        dry = json.loads(site.build("--json", "--dry-run", now=now, code=code).stdout)
        lean = _twins(site, tmp_path, step, now, code, label)
        if label == "nothing":
            assert lean == {"unchanged": True, "dry_run": False}
        else:
            for summary in (dry, lean):
                summary.pop("dry_run")
            dry.pop("files_written")
            dry.pop("files_unchanged")
            assert dry == lean, label


_FORKS: list[int] = []  # one per process this test process forks, counted as it forks
os.register_at_fork(before=lambda: _FORKS.append(1))


def test_reading_and_rendering_on_every_core_writes_what_one_core_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = Site(tmp_path / "serial", TWIN_TOML)
    _seed(serial)
    serial.write("broken.md", b"\xff\xfe not text")
    serial.post("dup.md", "Dup.", date="2026-05-20T00:00:00+00:00", slug="p3")
    parallel_root = tmp_path / "parallel"
    shutil.copytree(serial.root, parallel_root)
    parallel = Site(parallel_root, TWIN_TOML)
    first = serial.build("--json", now="2026-06-20T00:00:00+00:00", code=1)
    monkeypatch.setattr(pipeline.shell.reading, "PARALLEL_FROM", 2)
    monkeypatch.setattr(pipeline.shell.reading, "PARALLEL_RENDER_FROM", 2)
    monkeypatch.setattr(pipeline.shell.reading, "PARALLEL_FEEDS_FROM", 2)
    forks_before = len(_FORKS)
    second = parallel.build("--json", now="2026-06-20T00:00:00+00:00", code=1)
    # Reading and rendering share their workers; the feeds fork their own.
    assert len(_FORKS) - forks_before == 2 * pipeline.shell.reading._processes()
    summaries = [json.loads(r.stdout) for r in (first, second)]
    for summary in summaries:
        summary.pop("files_written")
    assert summaries[0] == summaries[1]
    assert [e["file"] for e in summaries[0]["rejected"]] == ["broken.md", "p3.md"]
    assert any(path.startswith("category/") for path in serial.files())  # feeds on both cores
    assert serial.files() == parallel.files()


def test_a_cache_of_an_older_shape_is_made_anew_without_complaint(site: Site) -> None:
    site.post("a.md", "A.", date="2026-05-01T00:00:00+00:00", slug="a", title="Alpha")
    site.build()
    with closing(sqlite3.connect(site.root / ".newsletter" / "cache.sqlite")) as db, db:
        db.executescript(
            "DROP TABLE files; CREATE TABLE files (source TEXT PRIMARY KEY, size INTEGER);"
            "CREATE TABLE headers (source TEXT PRIMARY KEY, post TEXT);"
            "UPDATE index_meta SET value = 'an older version' WHERE key = 'key';"
        )
    site.post("b.md", "B.", date="2026-05-02T00:00:00+00:00", slug="b", title="Beta")
    result = site.build()
    assert "warning:" not in result.output
    assert _titles(site, "feed.xml") == ["Beta", "Alpha"]
    with closing(sqlite3.connect(site.root / ".newsletter" / "cache.sqlite")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(files)")]
        assert "stat" in columns
        assert db.execute("SELECT COUNT(*) FROM files").fetchone() == (2,)


def _ledger_posts(site: Site) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite")) as db:
        return db.execute("SELECT * FROM posts ORDER BY identity").fetchall()


@pytest.mark.parametrize(
    ("flags", "toml"),
    [((), ""), (("--since", "2026-05-06"), ""), ((), "\n[build]\nsettle_minutes = 60\n")],
    ids=["plain", "since", "settle"],
)
def test_a_first_build_from_the_index_decides_as_one_from_every_post(
    tmp_path: Path, flags: tuple[str, ...], toml: str
) -> None:
    """A first build decides only the posts that could be anything but "record it,
    put it in the feeds" and records the rest straight from the index; one whose
    cache is unusable decides every post: the same summary, out/ and ledger, and
    the same next build."""
    lean = Site(tmp_path / "lean", TWIN_TOML + toml)
    _seed(lean)
    lean.post("dup.md", "Dup.", date="2026-05-20T00:00:00+00:00", slug="p3")
    lean.post(
        "odd.md", "O.", date="2026-05-04T00:00:00+00:00", modified_at="2026-05-01", slug="odd"
    )
    lean.post("fresh.md", "F.", date="2026-06-01T11:30:00+00:00", slug="fresh")
    lean.write("broken.md", b"\xff\xfe not text")
    shutil.copytree(lean.root, tmp_path / "full")
    full = Site(tmp_path / "full", TWIN_TOML + toml)
    (full.root / ".newsletter").mkdir()
    (full.root / ".newsletter" / "cache.sqlite").write_bytes(b"garbage" * 100)
    for step, now in enumerate(["2026-06-01T12:00:00+00:00", "2026-06-14T12:00:00+00:00"]):
        first, second = (
            json.loads(site.build("--json", *flags, now=now, code=1).stdout)
            for site in (lean, full)
        )
        for summary in (first, second):
            summary.pop("files_written")
            summary.pop("files_unchanged")
        assert first == second
        assert lean.files() == full.files()
        assert _ledger_posts(lean) == _ledger_posts(full)
        if step == 0:
            assert first["first_build"] and len(first["recorded_only"]) >= 5
            assert bool(first["new"]) == bool(flags)  # --since emails the recent posts
            assert first["held"] == (["fresh"] if toml else [])
            assert [r["file"] for r in first["rejected"]] == ["broken.md", "p3.md"]
            assert any("odd.md" in w for w in first["warnings"])
        flags = ()
