"""`newsletter build` end to end: real files, a real ledger, the real CLI."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
from pathlib import Path

import feedparser

from pipeline.core.settings import parse_config
from pipeline.shell.lock import exclusive
from pipeline.shell.site import site_of
from tests.conftest import SITE_TOML, Site


def atom_entries(site: Site) -> dict[str, feedparser.FeedParserDict]:
    parsed = feedparser.parse(site.read("atom.xml"))
    assert parsed.bozo == 0, parsed.bozo_exception
    return {entry.id: entry for entry in parsed.entries}


def manifest(folder: Path) -> dict[str, object]:
    return json.loads((folder / "manifest.json").read_text())


def test_first_build_records_and_emails_nothing(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    result = site.build()
    assert "first build: recorded 1 post(s), emailed none" in result.output
    assert site.emails() == []
    assert len(atom_entries(site)) == 1
    assert (site.root / ".newsletter" / "ledger.sqlite").is_file()  # outside out/


def test_first_build_with_since_emails_recent_posts(site: Site) -> None:
    site.post("new.md", date="2026-05-30T00:00:00+00:00", slug="new", title="New one")
    site.post("old.md", date="2026-01-01T00:00:00+00:00", slug="old", title="Old one")
    site.build("--since", "2026-05-01")
    [email] = site.emails()
    assert [p["identity"] for p in manifest(email)["posts"]] == ["new"]  # type: ignore[index]
    assert len(atom_entries(site)) == 2


def test_second_build_with_nothing_changed_writes_nothing(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    site.build("--since", "2026-05-01")
    before = site.files()
    stamps = {p: p.stat().st_mtime_ns for p in site.out.rglob("*") if p.is_file()}
    result = site.build(now="2026-06-02T12:00:00+00:00")
    assert site.files() == before
    assert {p: p.stat().st_mtime_ns for p in site.out.rglob("*") if p.is_file()} == stamps
    assert "nothing changed since the last build; out/ is up to date" in result.output
    full = site.build("--full-scan", now="2026-06-02T12:00:00+00:00")  # no shortcut
    assert "0 file(s) written" in full.output
    assert "nothing new, modified or removed since the last build" in full.output
    assert site.files() == before
    assert {p: p.stat().st_mtime_ns for p in site.out.rglob("*") if p.is_file()} == stamps


def test_new_post_on_a_later_build_is_emailed_once(site: Site) -> None:
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a")
    site.build()
    site.post("b.md", date="2026-05-31T00:00:00+00:00", slug="b", title="Bee")
    site.build()
    [email] = site.emails()
    assert manifest(email)["subject"] == "Bee"
    site.build(now="2026-06-03T00:00:00+00:00")
    assert len(site.emails()) == 1  # never twice


def test_edit_with_later_modified_at_keeps_id_bumps_updated_and_is_in_updated_section(
    site: Site,
) -> None:
    site.post("a.md", id=42, date="2026-05-01T00:00:00+00:00", title="Original")
    site.build()
    entry = atom_entries(site)["https://blog.example/?p=42"]
    assert entry.updated == "2026-05-01T00:00:00+00:00"
    site.post(
        "a.md",
        "New body.",
        id=42,
        date="2026-05-01T00:00:00+00:00",
        modified_at="2026-05-31T09:00:00+00:00",
        title="Original, revised",
        url="https://blog.example/moved/",
    )
    site.build()
    entry = atom_entries(site)["https://blog.example/?p=42"]  # same id despite the new URL
    assert entry.updated == "2026-05-31T09:00:00+00:00"
    assert entry.published == "2026-05-01T00:00:00+00:00"
    assert entry.link == "https://blog.example/moved/"
    [email] = site.emails()
    text = (email / "email.txt").read_text()
    assert "== Updated ==" in text and "Original, revised" in text
    assert manifest(email)["posts"][0]["section"] == "updated"  # type: ignore[index]


def test_scheduled_post_appears_once_its_time_passes(site: Site) -> None:
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a")
    site.post("later.md", date="2026-06-10T08:00:00+00:00", slug="later", title="Later")
    result = site.build()
    assert "scheduled: later.md at 2026-06-10T08:00:00+00:00" in result.output
    assert "Later" not in site.read("feed.xml")
    site.build(now="2026-06-10T08:30:00+00:00")
    assert "Later" in site.read("feed.xml")
    [email] = site.emails()
    assert manifest(email)["subject"] == "Later"


def test_draft_never_appears(site: Site) -> None:
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a")
    site.post("d.md", date="2026-05-20T00:00:00+00:00", slug="d", title="Secret", status="draft")
    site.build("--since", "2026-01-01")
    site.build(now="2026-07-01T00:00:00+00:00")
    for data in site.files().values():
        assert b"Secret" not in data


def test_removed_post_is_dropped_from_the_feeds(site: Site) -> None:
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a", title="Stays")
    gone = site.post("b.md", date="2026-05-02T00:00:00+00:00", slug="b", title="Goes away")
    site.build()
    gone.unlink()
    result = site.build()
    assert "removed: b" in result.output
    for name in ("feed.xml", "atom.xml", "feed.json"):
        assert "Goes away" not in site.read(name) and "Stays" in site.read(name)


def test_bad_post_among_good_ones(site: Site) -> None:
    site.post("good.md", date="2026-05-30T00:00:00+00:00", slug="good", title="Good")
    site.write("bad.md", "---\ntitle: [broken\ndate: 2026-05-30\n---\nBody\n")
    site.post("twin.md", date="2026-05-30T00:00:00+00:00", slug="good", title="Twin")
    result = site.build("--since", "2026-05-01", code=1)
    assert "error: bad.md:3: front matter is not valid YAML" in result.output
    assert "error: twin.md: has the same identity 'good' as good.md" in result.output
    assert "Traceback" not in result.output
    assert "Good" in site.read("feed.xml")
    assert len(site.emails()) == 1


def test_unreadable_post_is_not_treated_as_removed(site: Site) -> None:
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a", title="Fine")
    site.build()
    site.write("a.md", "---\ntitle: [broken\n---\n")
    result = site.build(code=1)
    assert "removed: a" not in result.output
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a", title="Fine")
    site.build()
    assert site.emails() == []  # back, and not announced as new


def test_dry_run_writes_nothing(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    result = site.build("--dry-run", "--since", "2026-05-01", "--json")
    assert not site.out.exists()
    assert not (site.root / ".newsletter").exists()
    summary = json.loads(result.stdout)
    assert summary["dry_run"] is True and summary["new"] == ["a"]
    assert summary["emails"][0]["new"] == ["a"]


def test_json_summary(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    site.post("s.md", date="2026-07-30T00:00:00+00:00", slug="s")
    summary = json.loads(site.build("--json", "--since", "2026-05-01").stdout)
    assert summary["new"] == ["a"]
    assert summary["scheduled"] == [{"identity": "s", "published_at": "2026-07-30T00:00:00+00:00"}]
    assert "feed.xml" in summary["files_written"]


def test_quiet_prints_only_problems(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    assert site.build("-q").output == ""
    site.post("b.md", "[x](https://amzn.to/1)", date="2026-05-30T00:00:00+00:00", slug="b")
    output = site.build("-q").output
    assert output.startswith("warning: b.md: has affiliate links but no affiliate disclosure")


def test_overrides_for_content_out_and_state(site: Site, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    (other / "posts").mkdir(parents=True)
    (other / "posts" / "x.md").write_text("---\ntitle: X\ndate: 2026-05-01\n---\nBody.\n")
    site.build(
        "--content", str(other / "posts"), "--out", str(other / "o"), "--state", str(other / "l.db")
    )
    assert (other / "o" / "feed.xml").is_file() and (other / "l.db").is_file()
    assert not site.out.exists()


def test_bad_configuration_exits_2_naming_every_problem(site: Site) -> None:
    (site.root / "newsletter.toml").write_text(
        '[site]\ntitle = "T"\nurl = "not a url"\n[email]\nmode = "weekly"\n[feeds]\nlimit = 3\n'
    )
    result = site.build(code=2)
    for expected in (
        "[site] url",
        "[email] mode",
        "[feeds]: unknown table",
        "[email] postal_address",
    ):
        assert expected in result.output
    assert "Traceback" not in result.output


def test_missing_configuration_exits_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline.shell.cli import cli

    result = CliRunner().invoke(cli, ["build", "--site", str(tmp_path)])
    assert result.exit_code == 2 and "no configuration file" in result.output


def _hold_lock(
    path: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    with exclusive(Path(path)):
        ready.set()
        release.wait(20)


def test_second_build_exits_75_while_another_holds_the_lock(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    lock = site_of(parse_config(__import__("tomllib").loads(SITE_TOML)), site.root).lock_path
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(lock), ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        started = time.monotonic()
        result = site.build(code=75)
        assert time.monotonic() - started < 10  # exits at once, does not wait
        assert "another build" in result.output
        assert not site.out.exists()
    finally:
        release.set()
        holder.join(20)
    site.build()  # the lock went with its holder


def test_interrupted_build_email_is_adopted_not_sent_twice(site: Site) -> None:
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a")
    site.build()
    site.post("b.md", date="2026-05-31T00:00:00+00:00", slug="b", title="Bee")
    state = site.root / ".newsletter" / "ledger.sqlite"
    saved = state.read_bytes()
    site.build()
    state.write_bytes(saved)  # as if killed after writing out/ but before the commit
    site.post("c.md", date="2026-06-01T06:00:00+00:00", slug="c", title="Sea")
    result = site.build()
    assert "written by an interrupted build" in result.output
    subjects = sorted(str(manifest(e)["subject"]) for e in site.emails())
    assert subjects == ["Bee", "Sea"]  # Bee not repeated in Sea's email
    with sqlite3.connect(state) as db:
        emailed = dict(
            db.execute("SELECT identity, email_id FROM posts WHERE emailed_at IS NOT NULL")
        )
    assert set(emailed) == {"b", "c"}
