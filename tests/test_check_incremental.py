"""`check` keeps what it found in each post and, after an edit, reads again only
what the edit can change: the edited file, the posts whose links or includes now
answer otherwise, and the duplicate identities over every file. Over a sequence of
edits its findings are always those of a full check (nothing kept), as the build's
differential test holds the incremental build to a full one."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.shell import check_posts
from pipeline.shell.cli import cli
from tests.test_archives import copy_site

POSTS = "_posts"
WELCOME = f"{POSTS}/2024-01-10-welcome.md"
TARGET = f"{POSTS}/2024-02-14-liquid-in-code.md"  # the welcome post's post_url names it


def check(root: Path) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["check", "--json", "--site", str(root)])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def full_check(root: Path) -> dict[str, object]:
    """The same check with nothing kept; the kept findings are put back afterwards."""
    kept = root / ".newsletter" / "check.sqlite"
    aside = kept.with_name("aside.sqlite")
    shutil.move(kept, aside)
    try:
        return check(root)
    finally:
        shutil.move(aside, kept)


def post(root: Path, name: str, body: str, **front: str) -> None:
    lines = "".join(f"{key}: {value}\n" for key, value in front.items())
    (root / POSTS / name).write_text(f"---\n{lines}---\n{body}\n")


def append(root: Path, name: str, text: str) -> None:
    path = root / name
    path.write_text(path.read_text() + text)


def touch(root: Path, name: str) -> None:
    path = root / name
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))


PRISTINE = Path(__file__).parent / "archives" / "jekyll-site"


def same_id_twice(root: Path) -> None:
    post(root, "2024-04-02-a.md", "A.", title="A", date="2024-04-02", id="7")
    post(root, "2024-04-03-b.md", "[x](ftp://b)", title="B", date="2024-04-03", id="7")


def break_yaml(root: Path) -> None:
    path = root / WELCOME
    text = path.read_text()
    path.write_text(text.replace('title: "Welcome to Gemstone Notes"', "title: [Welcome"))


STEPS: list[tuple[str, Callable[[Path], object], int | None]] = [
    # (what the author does, the edit, how many posts check reads again; None: all)
    ("nothing", lambda root: None, 0),
    (
        "a post with an image without alt text",
        lambda root: post(root, "2024-04-01-pics.md", "![](/p.png)", title="P", date="2024-04-01"),
        1,
    ),
    ("a second post with the id of another", same_id_twice, 2),
    ("a file touched, not changed", lambda root: touch(root, WELCOME), 0),
    ("the post_url target removed", lambda root: (root / TARGET).unlink(), 1),
    ("the target back", lambda root: shutil.copy(PRISTINE / TARGET, root / TARGET), 2),
    (
        "an include given Liquid of its own",
        lambda root: append(root, "_includes/note.html", "{% if page.x %}x{% endif %}\n"),
        1,
    ),
    (
        "the first of the two with one id gone",
        lambda r: (r / POSTS / "2024-04-02-a.md").unlink(),
        0,
    ),
    ("YAML broken", break_yaml, 2),  # and the post whose post_url names it
    (
        "an undisclosed affiliate link",
        lambda root: append(root, TARGET, "\n[o](https://amzn.to/x)\n"),
        1,
    ),
    (
        "the configuration changed",
        lambda root: append(root, "newsletter.toml", "\n[build]\nexcerpt_length = 99\n"),
        None,
    ),
]


@pytest.mark.parametrize("parallel", [False, True], ids=["one-process", "every-core"])
def test_an_incremental_check_finds_what_a_full_check_finds_after_every_edit(
    parallel: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if parallel:  # the workers' path, which a large archive takes
        monkeypatch.setattr(check_posts, "PARALLEL_FROM", 1)
        monkeypatch.setattr(check_posts, "PARALLEL_RENDER_FROM", 1)
        monkeypatch.setattr(check_posts, "_ROWS_AT_ONCE", 1)  # a row stored as each arrives
    root = copy_site("jekyll-site", tmp_path)
    first = check(root)
    assert first["posts_read"] == first["posts_checked"] == 3
    seen_kinds: set[str] = set()
    for label, edit, read_again in STEPS:
        edit(root)
        incremental = check(root)
        full = full_check(root)
        assert incremental["findings"] == full["findings"], label
        assert incremental["posts_checked"] == full["posts_checked"], label
        if read_again is not None:
            assert incremental["posts_read"] == read_again, label
        seen_kinds.update(str(f["kind"]) for f in incremental["findings"])  # type: ignore[attr-defined]
    # the sequence made each kind of finding that depends on another file
    assert {"missing-alt", "unreadable", "unknown-target", "unknown-tag"} <= seen_kinds


@pytest.mark.parametrize("damage", [b"not a database", b""], ids=["garbage", "empty"])
def test_a_damaged_check_cache_is_rebuilt_by_a_full_check(damage: bytes, tmp_path: Path) -> None:
    root = copy_site("jekyll-site", tmp_path)
    post(root, "2024-04-01-pics.md", "![](/p.png)", title="P", date="2024-04-01")
    first = check(root)
    kept = root / ".newsletter" / "check.sqlite"
    kept.write_bytes(damage)
    again = check(root)
    assert again["findings"] == first["findings"] and again["posts_read"] == 4
    assert check(root)["posts_read"] == 0, "and kept again"


def test_a_kept_row_of_another_shape_is_read_again(tmp_path: Path) -> None:
    import sqlite3

    root = copy_site("jekyll-site", tmp_path)
    post(root, "2024-04-01-pics.md", "![](/p.png)", title="P", date="2024-04-01")
    first = check(root)
    with sqlite3.connect(root / ".newsletter" / "check.sqlite") as db:
        db.execute("UPDATE checked SET findings = '[[1, 2]]' WHERE findings != ''")
    assert check(root)["findings"] == first["findings"]


def test_a_cache_that_cannot_be_written_is_said_and_the_findings_stand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from pipeline.store import checked

    monkeypatch.setattr(checked, "WAIT_FOR_LOCK", 0.05)
    root = copy_site("jekyll-site", tmp_path)
    post(root, "2024-04-01-pics.md", "![](/p.png)", title="P", date="2024-04-01")
    first = check(root)
    append(root, WELCOME, "\n![](/q.png)\n")
    with sqlite3.connect(root / ".newsletter" / "check.sqlite", isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")  # another check, still writing
        result = CliRunner().invoke(cli, ["check", "--json", "--site", str(root)])
        other.execute("ROLLBACK")
    assert "cannot keep what check found" in result.stderr
    locked = json.loads(result.stdout)
    assert locked["posts_read"] == 1
    assert len(locked["findings"]) == len(first["findings"]) + 1  # type: ignore[arg-type]
    again = check(root)
    assert again["findings"] == locked["findings"] and again["posts_read"] == 1, "kept nothing"


def test_a_check_that_fails_keeps_nothing_half_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_site("jekyll-site", tmp_path)
    first = check(root)

    def broken(_seen: object) -> None:
        raise RuntimeError("a bug after the rows were stored")

    append(root, WELCOME, "\n![](/q.png)\n")
    with monkeypatch.context() as patched:
        patched.setattr(check_posts, "combine", broken)
        failed = CliRunner().invoke(cli, ["check", "--json", "--site", str(root)])
    assert failed.exit_code == 70 and "internal error" in failed.output
    again = check(root)
    assert again["posts_read"] == 1, "the edited post's row was not kept by the failed check"
    assert len(again["findings"]) == len(first["findings"]) + 1  # type: ignore[arg-type]
