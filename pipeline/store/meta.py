"""Store: the ledger's `meta` table, its notes by key: the schema version and the
build marks. Standard library only: the nothing-changed exit reads the marks
before anything heavy is imported. The ledger module writes them in its commit.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from pipeline.core.entry import BuildMarks

SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
MARKS = BuildMarks._fields
_READ_MARKS = f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(MARKS))})"  # noqa: S608


def marks_of(db: sqlite3.Connection) -> BuildMarks:
    found = dict(db.execute(_READ_MARKS, MARKS))
    return BuildMarks(*(str(found.get(name, "")) for name in MARKS))


def read_marks(path: Path) -> BuildMarks | None:
    """What the last build noted, read-only; None when there is no ledger or it
    cannot be read (the full build then says why)."""
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return marks_of(db)
    except sqlite3.Error:
        return None


def write_marks(db: sqlite3.Connection, marks: BuildMarks) -> None:
    """Inside the caller's transaction; an empty mark is removed."""
    for key, value in zip(MARKS, marks, strict=True):
        if value:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        else:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))


def schema_version(db: sqlite3.Connection) -> int | None:
    """The version the ledger says it has (None: it does not say)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def set_schema_version(db: sqlite3.Connection, version: int) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version),))
