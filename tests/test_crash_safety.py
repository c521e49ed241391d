"""Crashes, failing disks, broken ledgers and a second copy of the build."""

from __future__ import annotations

import errno
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SITE_TOML, Site

HARNESS = Path(__file__).parent / "crash_harness.py"
NOW = "2026-06-01T12:00:00+00:00"


def command(site: Site, mode: str, value: str, *extra: str) -> list[str]:
    """`newsletter build` on `site` under the crash harness (see crash_harness.py)."""
    build = ["build", "--site", str(site.root), "--now", NOW, *extra]
    return [sys.executable, str(HARNESS), mode, value, "--", *build]


def harness(site: Site, mode: str, value: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(site, mode, value, *extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).parent.parent,
    )


def pending_site(root: Path) -> Site:
    """A site whose next build writes feeds and an email: two new posts, one edited."""
    site = Site(root, SITE_TOML + "\n[feed]\ncategory_feeds = false\nstylesheet = false\n")
    for day in (1, 2, 3):
        site.post(
            f"old-{day}.md",
            f"Old {day}.",
            date=f"2026-05-0{day}T00:00:00+00:00",
            slug=f"old-{day}",
            title=f"Old {day}",
            categories=["Sleep"],
        )
    site.build(now="2026-05-10T00:00:00+00:00")
    site.post(
        "old-1.md",
        "Old 1, revised.",
        date="2026-05-01T00:00:00+00:00",
        slug="old-1",
        title="Old 1 (revised)",
        categories=["Sleep"],
        modified_at="2026-05-30T00:00:00+00:00",
    )
    site.post(
        "new-1.md",
        "New one.",
        date="2026-05-29T00:00:00+00:00",
        slug="new-1",
        title="New 1",
        categories=["Sleep", "Food"],
    )
    site.post(
        "new-2.md",
        "New two.",
        date="2026-05-31T00:00:00+00:00",
        slug="new-2",
        title="New 2",
        categories=["Wellness"],
    )
    return site


def copy_site(site: Site, root: Path) -> Site:
    shutil.copytree(site.root, root)
    return Site(root, (root / "newsletter.toml").read_text())


def visible(site: Site) -> dict[str, bytes]:
    """out/ as readers see it (a killed build may leave hidden temporary files)."""
    return {
        name: data for name, data in site.files().items() if not Path(name).name.startswith(".")
    }


def emailed(site: Site) -> dict[str, str]:
    with sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite") as db:
        return dict(db.execute("SELECT identity, email_id FROM posts WHERE email_id IS NOT NULL"))


def test_killed_at_every_write_point_then_rerun_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    pending = pending_site(tmp_path / "pending")
    before = visible(pending)
    clean = copy_site(pending, tmp_path / "clean")
    counter = tmp_path / "count"
    assert harness(clean, "count", str(counter)).returncode == 0
    after = visible(clean)
    expected_emails = emailed(clean)
    points = int(counter.read_text())
    assert points > 12 and len(clean.emails()) == 1
    for point in range(1, points + 1):
        site = copy_site(pending, tmp_path / f"kill-{point}")
        killed = harness(site, "kill", str(point))
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        for name, data in visible(site).items():  # every file whole: old or new
            assert data in (before.get(name), after.get(name)), (point, name)
        with sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rerun = harness(site, "count", str(tmp_path / "ignored"))
        assert rerun.returncode == 0, (point, rerun.stderr)
        assert visible(site) == after, point  # nothing lost, nothing different
        assert [p for p in site.files() if Path(p).name.startswith(".")] == []
        assert emailed(site) == expected_emails, point  # each post in exactly one email
        assert len(site.emails()) == 1
        shutil.rmtree(site.root)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("at", [1, 6, "commit"])
def test_a_failing_disk_is_reported_and_nothing_is_recorded(
    tmp_path: Path, code: int, at: object
) -> None:
    pending = pending_site(tmp_path / "pending")
    clean = copy_site(pending, tmp_path / "clean")
    counter = tmp_path / "count"
    harness(clean, "count", str(counter))
    point = int(counter.read_text()) if at == "commit" else int(str(at))
    site = copy_site(pending, tmp_path / "site")
    ledger_before = (site.root / ".newsletter" / "ledger.sqlite").read_bytes()
    result = harness(site, "fail", f"{point}:{code}")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "error: " in result.stderr and (
        "No space left" in result.stderr or "Read-only" in result.stderr
    )
    assert (
        "the next build redoes this one" in result.stderr or "run the build again" in result.stderr
    )
    assert (site.root / ".newsletter" / "ledger.sqlite").read_bytes() == ledger_before
    assert harness(site, "count", str(tmp_path / "x")).returncode == 0
    assert visible(site) == visible(clean) and emailed(site) == emailed(clean)


def holding_build(site: Site, seconds: int) -> subprocess.Popen[str]:
    """A build that holds the lock for `seconds`; returns once it holds it."""
    process = subprocess.Popen(
        command(site, "hold", str(seconds)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    lock = site.root / ".newsletter" / "ledger.sqlite.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip() == str(process.pid)):
        assert time.monotonic() < deadline, "the holding build never took the lock"
        time.sleep(0.05)
    return process


def test_two_builds_at_once_one_runs_the_other_exits_75_and_writes_nothing(tmp_path: Path) -> None:
    site = pending_site(tmp_path / "site")
    before = visible(site)
    first = holding_build(site, 4)
    second = harness(site, "count", str(tmp_path / "c"))
    assert second.returncode == 75
    assert f"error: another build (pid {first.pid}) holds" in second.stderr
    assert visible(site) == before  # the second wrote nothing
    _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert len(site.emails()) == 1


def test_a_stale_lock_from_a_killed_build_does_not_block(tmp_path: Path) -> None:
    site = pending_site(tmp_path / "site")
    first = holding_build(site, 30)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert (site.root / ".newsletter" / "ledger.sqlite.lock").exists()  # left, and harmless
    assert harness(site, "count", str(tmp_path / "c")).returncode == 0
    assert len(site.emails()) == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "directory"])
def test_a_broken_ledger_is_a_clear_error_and_nothing_is_written(
    tmp_path: Path, damage: str
) -> None:
    site = pending_site(tmp_path / "site")
    before = visible(site)
    ledger = site.root / ".newsletter" / "ledger.sqlite"
    if damage == "garbage":
        ledger.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        ledger.write_bytes(ledger.read_bytes()[:1500])
    else:
        ledger.unlink()
        ledger.mkdir()
    result = site.build(code=1)
    assert f"error: the ledger {ledger} cannot be used" in result.output
    assert "hint: if it is damaged, move it aside" in result.output
    assert visible(site) == before


def test_dry_run_works_while_a_build_holds_the_lock(tmp_path: Path) -> None:
    site = pending_site(tmp_path / "site")
    holder = holding_build(site, 5)
    try:
        result = site.build("--dry-run", "--json")
        assert json.loads(result.stdout)["new"] == ["new-2", "new-1"]
    finally:
        holder.communicate(timeout=60)
