"""The store: the ledger's schema and migrations, chunked queries, the post index's
queries, and the upgrade from the ledger and cache today's release writes."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.core.entry import BuildMarks
from pipeline.core.errors import OutputError
from pipeline.core.model import Changes, Header
from pipeline.store import ledger, meta
from pipeline.store.postindex import kinds_of, open_index, row_for
from pipeline.store.sqlite import chunks, marks, tables
from tests.conftest import REPO, Site, make_config
from tests.test_golden import GOLDEN, NOW

RELEASE = Path(__file__).parent / "store" / "release-0.1.0"  # what 0.1.0 wrote, as SQL
WHEN = datetime(2026, 6, 1, tzinfo=UTC)


def restore(name: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript((RELEASE / f"{name}.sql").read_text(encoding="utf-8"))
    return path


def header(name: str, day: int = 1, **kw: object) -> Header:
    values: dict[str, object] = dict(
        identity=name,
        source=f"{name}.md",
        content_hash=f"hash-{name}",
        title=name,
        url=f"https://blog.example/{name}/",
        entry_id=name,
        published=datetime(2026, 5, day, tzinfo=UTC),
        modified=datetime(2026, 5, day, tzinfo=UTC),
        draft=False,
        categories=("Sleep",),
        tags=(),
        author="Ada",
        excerpt="",
    )
    values.update(kw)
    return Header(**values)  # type: ignore[arg-type]


def changes(new: tuple[Header, ...] = (), removed: tuple[str, ...] = ()) -> Changes:
    return Changes(new, new, (), (), (), removed, (), (), False)


def test_chunks_and_marks() -> None:
    assert [len(c) for c in chunks(list(range(1201)))] == [500, 500, 201]
    assert list(chunks([])) == []
    assert marks(3) == "?,?,?"


def test_the_release_ledger_is_read_and_migrated_in_place(tmp_path: Path) -> None:
    path = restore("ledger", tmp_path / "ledger.sqlite")
    snapshot = ledger.read_snapshot(path)
    assert snapshot.builds == 1 and snapshot.email_ids == {"2026-11-20-7f26532873"}
    assert set(snapshot.entries) == {"433", "418", "412", "401", "301"}
    assert snapshot.marks.feeds_key == "519d8a269932aa03" and snapshot.marks.fingerprint
    assert meta.read_marks(path) == snapshot.marks
    ledger.commit(path, changes(removed=("301",)), [], WHEN, {}, BuildMarks(next_due="x"))
    again = ledger.read_snapshot(path)
    assert again.entries["301"].removed and not again.entries["433"].removed
    assert again.marks == BuildMarks(next_due="x")  # empty marks are removed
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(ledger.SCHEMA_VERSION),)


def test_a_ledger_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = restore("ledger", tmp_path / "ledger.sqlite")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    before = path.read_bytes()
    with pytest.raises(OutputError, match="written by a newer version"):
        ledger.commit(path, changes(), [], WHEN, {}, BuildMarks())
    assert path.read_bytes() == before


def test_reading_only_some_entries_works_past_the_parameter_limit(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    many = tuple(header(f"p{i}") for i in range(1200))
    ledger.commit(path, changes(new=many), [], WHEN, {}, BuildMarks())
    wanted = {f"p{i}" for i in range(0, 1200, 2)} | {"absent"}
    assert set(ledger.read_snapshot(path, only=wanted).entries) == wanted - {"absent"}
    assert ledger.read_snapshot(path, only=()).builds == 1


def test_the_index_answers_candidates_and_the_steady_posts(tmp_path: Path) -> None:
    config = make_config()
    ledger_path = tmp_path / "ledger.sqlite"
    recorded = (header("a", 1), header("b", 2, categories=("Tea",)))
    noted = BuildMarks(build_token="t1")  # noqa: S106 (not a password)
    ledger.commit(ledger_path, changes(new=recorded), [], WHEN, {}, noted)
    index = open_index(tmp_path / "cache.sqlite", "key", kinds_of(config), writable=True)
    assert index is not None
    rows = [*recorded, header("c", 3), header("b2", 4, identity="b"), header("d", 5, draft=True)]
    index.update(((h.source, row_for(f"{h.source}\0stat", h)) for h in rows), (), ())
    assert index.stats() == {f"{h.source}\0stat" for h in rows}
    chosen, vanished = index.candidates(ledger_path, WHEN, "t1", changed=())
    # c is new, b and b2 share an identity, d is a draft; a is steady
    assert chosen == {"c.md", "b.md", "b2.md", "d.md"} and vanished == set()
    steady = index.steady(chosen)
    assert steady.count() == 1 and steady.newest("", (), 10) == ["a.md"]
    assert steady.newest("category", ["Sleep"], 10) == ["a.md"]
    assert steady.names() == {"category": {"Sleep"}, "tag": set()}
    assert index.headers(["a.md"])["a.md"] == recorded[0]
    index.close()


def test_a_site_built_by_the_release_builds_on_without_a_word(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", (REPO / "newsletter.toml").read_text(encoding="utf-8"))
    shutil.copytree(REPO / "content", site.content, dirs_exist_ok=True)
    restore("ledger", site.root / ".newsletter" / "ledger.sqlite")
    restore("cache", site.root / ".newsletter" / "cache.sqlite")
    result = site.build(now=NOW)
    assert "warning" not in result.output and "error" not in result.output
    assert "nothing new, modified or removed" in result.output
    assert site.emails() == []  # the release emailed these posts already
    for name in ("feed.xml", "atom.xml", "feed.json", "category/sleep/feed.xml"):
        assert site.read(name) == (GOLDEN / name).read_text(encoding="utf-8"), name
    with sqlite3.connect(site.root / ".newsletter" / "cache.sqlite") as db:
        assert "files" in tables(db)
