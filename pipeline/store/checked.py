"""Effect: what `check` found in each post file, in `check.sqlite` beside the cache.

A `check` before every publish must cost what changed: a file whose size and
modification time (or, failing those, content hash) match its row is not read or
linted again. Rows are made with one configuration and code (`key`); another key
starts the table afresh. It is a cache: lost or damaged, it is rebuilt by the next
`check`, which is then a full one. Only `check` opens it; the build never waits on it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Final, NamedTuple

from pipeline.core.checks import Checked
from pipeline.core.codec import findings_from_json, findings_to_json
from pipeline.core.model import Finding
from pipeline.core.posts.templating.lookup import Answers

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS check_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checked (
    source TEXT PRIMARY KEY, stat TEXT NOT NULL, digest TEXT NOT NULL,
    url TEXT, identity TEXT, id_line INTEGER,
    findings TEXT NOT NULL, depends TEXT NOT NULL
);
"""


class Row(NamedTuple):
    """A file as `check` read it this time, to keep."""

    stat: str  # "relative\0size\0mtime_ns", as the scan gives it
    digest: str  # of the file's bytes
    checked: Checked


# A kept row as SQLite gives it, decoded only where needed (100,000s are loaded):
# (source, stat, digest, url, identity, id_line, findings as text, depends as text).
Kept = tuple[str, str, str, str | None, str | None, int | None, str, str]
# Its fields, by index:
STAT: Final = 1
DIGEST: Final = 2
URL: Final = 3
IDENTITY: Final = 4
LINE: Final = 5
FINDINGS: Final = 6
DEPENDS: Final = 7


def load(path: Path, key: str) -> dict[str, Kept]:
    """Every row made under `key`, by file; none when the cache is missing, damaged
    or of another key."""
    if not path.exists():
        return {}
    try:
        with closing(sqlite3.connect(path, timeout=10)) as db:
            found = db.execute("SELECT value FROM check_meta WHERE key = 'key'").fetchone()
            if found is None or found[0] != key:
                return {}
            rows = db.execute(
                "SELECT source, stat, digest, url, identity, id_line, findings, depends "
                "FROM checked"
            )
            return {row[0]: row for row in rows}
    except sqlite3.Error as error:
        logger.warning("%s: the check cache is unusable (%s); checking every post", path, error)
        path.unlink(missing_ok=True)  # a cache: the next save starts it afresh
        return {}


def findings_of(kept: Kept) -> tuple[Finding, ...]:
    """A kept row's findings (ValueError: a row of another shape)."""
    return findings_from_json(kept[FINDINGS])


def depends_of(kept: Kept) -> Answers:
    """What reading the post asked, and was answered."""
    return tuple((q, a) for q, a in json.loads(kept[DEPENDS])) if kept[DEPENDS] else ()


def as_checked(source: str, kept: Kept) -> Checked:
    _source, _stat, _digest, url, identity, line, _found, _depends = kept
    return Checked(source, url, identity, findings_of(kept), depends_of(kept), line)


def save(path: Path, key: str, changed: Iterable[Row], gone: Iterable[str]) -> None:
    """Store the rows of the files read this time and forget the gone ones; rows of
    another key are dropped first. A cache that cannot be written is only a slower
    next `check`: said, never an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, timeout=10)) as db:
            db.execute("PRAGMA synchronous = OFF")  # a cache: a torn write is rebuilt
            with db:
                db.executescript(SCHEMA)
                found = db.execute("SELECT value FROM check_meta WHERE key = 'key'").fetchone()
                if found is None or found[0] != key:
                    db.execute("DELETE FROM checked")
                db.execute("INSERT OR REPLACE INTO check_meta VALUES ('key', ?)", (key,))
                db.executemany(
                    "INSERT OR REPLACE INTO checked VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (
                            r.checked.source,
                            r.stat,
                            r.digest,
                            r.checked.url,
                            r.checked.identity,
                            r.checked.id_line,
                            findings_to_json(r.checked.findings),
                            json.dumps(r.checked.depends) if r.checked.depends else "",
                        )
                        for r in changed
                    ),
                )
                db.executemany("DELETE FROM checked WHERE source = ?", ((s,) for s in gone))
    except (OSError, sqlite3.Error) as error:
        logger.warning(
            "%s: cannot keep what check found (%s); the next check reads every post", path, error
        )
