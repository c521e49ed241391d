"""Store: the subscribers, in the ledger file (this module owns their table).

An address is active or suppressed. Removed and unsubscribed addresses stay, as
suppressed: no import brings them back and no send reaches them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.core.audience import Row, key_of
from pipeline.core.dates import rfc3339
from pipeline.core.errors import OutputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
    key TEXT PRIMARY KEY,  -- the address in lower case: what suppression matches
    address TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,  -- 'active' or 'suppressed'
    reason TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL,
    changed_at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Subscriber:
    address: str
    name: str
    status: str
    reason: str
    added_at: str


@dataclass
class Imported:
    added: int = 0
    already: int = 0  # active before, left as it was
    kept_suppressed: int = 0  # suppressed before: not brought back
    suppressed: int = 0  # marked as gone in the export: imported as suppressed


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """The ledger file, in WAL mode (a send, a build and the unsubscribe server may
    use it at once), with its subscribers table."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, isolation_level=None, timeout=30)) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute(SCHEMA)
            yield db
    except sqlite3.Error as exc:
        raise OutputError(f"the ledger {path} cannot be used: {exc}") from None


def import_rows(path: Path, rows: Iterable[Row], now: datetime, reason: str) -> Imported:
    """Add the rows, all in one transaction; idempotent."""
    counts = Imported()
    stamp = rfc3339(now)
    with connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                key = key_of(row.address)
                found = db.execute(
                    "SELECT status FROM subscribers WHERE key = ?", (key,)
                ).fetchone()
                if found is not None and found[0] == "suppressed":
                    counts.kept_suppressed += 1
                elif row.suppressed:
                    _suppress(db, key, row.address, row.name, f"{reason}: marked gone", stamp)
                    counts.suppressed += 1
                elif found is not None:
                    counts.already += 1
                else:
                    db.execute(
                        "INSERT INTO subscribers VALUES (?, ?, ?, 'active', '', ?, ?)",
                        (key, row.address, row.name, stamp, stamp),
                    )
                    counts.added += 1
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return counts


def _suppress(
    db: sqlite3.Connection, key: str, address: str, name: str, reason: str, stamp: str
) -> None:
    db.execute(
        """INSERT INTO subscribers VALUES (?, ?, ?, 'suppressed', ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET status = 'suppressed', reason = excluded.reason,
               changed_at = excluded.changed_at""",
        (key, address, name, reason, stamp, stamp),
    )


def suppress(path: Path, address: str, now: datetime, reason: str) -> bool:
    """Suppress the address (kept, so no import brings it back). True when it was
    active before."""
    key = key_of(address)
    with connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            found = db.execute("SELECT status FROM subscribers WHERE key = ?", (key,)).fetchone()
            _suppress(db, key, address, "", reason, rfc3339(now))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return found is not None and found[0] == "active"


def everyone(path: Path) -> list[Subscriber]:
    if not path.exists():
        return []
    with connect(path) as db:
        rows = db.execute(
            "SELECT address, name, status, reason, added_at FROM subscribers ORDER BY key"
        ).fetchall()
    return [Subscriber(*row) for row in rows]


def active(path: Path) -> list[str]:
    """The addresses a send reaches, in a stable order."""
    if not path.exists():
        return []
    with connect(path) as db:
        rows = db.execute("SELECT address FROM subscribers WHERE status = 'active' ORDER BY key")
        return [row[0] for row in rows]
