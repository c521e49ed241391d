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
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Final

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


# A kept row as SQLite gives and takes it, decoded only where needed (100,000s are
# loaded): (source, stat, digest, url, identity, id_line, findings as text, depends
# as text). `stat` is "relative\0size\0mtime_ns", as the scan gives it; `digest`,
# of the file's bytes.
Kept = tuple[str, str, str, str | None, str | None, int | None, str, str]
WAIT_FOR_LOCK = 10.0  # seconds another check may hold the cache before this one keeps nothing
# A check as a row keeps it, from the URL on (`encoded`: made in the workers).
Encoded = tuple[str | None, str | None, int | None, str, str]
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


def encoded(checked: Checked) -> Encoded:
    """What a check found, as its row keeps it after the source, stat and digest."""
    depends = json.dumps(checked.depends) if checked.depends else ""
    return (
        checked.url,
        checked.identity,
        checked.id_line,
        findings_to_json(checked.findings),
        depends,
    )


def row_of(stat: str, digest: str, checked: Checked) -> Kept:
    return (checked.source, stat, digest, *encoded(checked))


class Keeper:
    """The rows of one `check`, stored as they are made (in batches, while the
    workers still read, not all at the end) and committed when it is done; rows of
    another key are dropped first. A cache that cannot be written is only a slower
    next `check`: said once, never an error; a check that fails keeps nothing."""

    def __init__(self, path: Path, key: str) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=WAIT_FOR_LOCK, isolation_level=None)
            self._db.execute("PRAGMA synchronous = OFF")  # a cache: a torn write is rebuilt
        except (OSError, sqlite3.Error) as error:
            self._failed(error)
            return
        self._do(self._start, key)

    def _start(self, db: sqlite3.Connection, key: str) -> None:
        db.executescript(SCHEMA)
        db.execute("BEGIN")  # one transaction to the end: a failed check keeps nothing
        found = db.execute("SELECT value FROM check_meta WHERE key = 'key'").fetchone()
        if found is None or found[0] != key:
            db.execute("DELETE FROM checked")
        db.execute("INSERT OR REPLACE INTO check_meta VALUES ('key', ?)", (key,))

    def keep(self, rows: Iterable[Kept]) -> None:
        self._do(
            lambda db: db.executemany(
                "INSERT OR REPLACE INTO checked VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        )

    def forget(self, sources: Iterable[str]) -> None:
        self._do(
            lambda db: db.executemany(
                "DELETE FROM checked WHERE source = ?", ((s,) for s in sources)
            )
        )

    def __enter__(self) -> Keeper:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_rest: object) -> None:
        if error_type is None:
            self._do(lambda db: db.execute("COMMIT"))
        if self._db is not None:
            self._db.close()  # uncommitted rows are rolled back
            self._db = None

    def _do(self, step: Callable[..., object], *args: object) -> None:
        if self._db is None:
            return
        try:
            step(self._db, *args)
        except (OSError, sqlite3.Error) as error:
            self._db.close()
            self._failed(error)

    def _failed(self, error: Exception) -> None:
        self._db = None
        logger.warning(
            "%s: cannot keep what check found (%s); the next check reads every post",
            self._path,
            error,
        )
