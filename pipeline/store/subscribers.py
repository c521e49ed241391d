"""Store: the subscribers, in the ledger file (this module owns their table).

An address is active or suppressed. Removed and unsubscribed addresses stay, as
suppressed: no import brings them back and no send reaches them.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.core.audience import key_of
from pipeline.core.csv_exports import Row
from pipeline.core.dates import rfc3339
from pipeline.core.errors import OutputError
from pipeline.store.sqlite import tables

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


def status_lock(path: Path) -> Path:
    """The file whose lock orders status changes against hand-overs (`HandOver`)."""
    return path.with_name(path.name + ".status-lock")


@contextmanager
def _changing(path: Path) -> Iterator[sqlite3.Connection]:
    """One transaction that changes statuses, committed before it returns. It holds
    the status lock exclusively, so no message is handed over meanwhile."""
    with connect(path) as db, _flocked(status_lock(path), fcntl.LOCK_EX):
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


@contextmanager
def _flocked(path: Path, how: int) -> Iterator[None]:
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise OutputError(f"{path} cannot be opened: {exc.strerror}") from None
    try:
        fcntl.flock(descriptor, how)
        yield
    finally:
        os.close(descriptor)  # which releases the lock


def import_rows(path: Path, rows: Iterable[Row], now: datetime, reason: str) -> Imported:
    """Add the rows, all in one transaction; idempotent."""
    counts = Imported()
    stamp = rfc3339(now)
    with _changing(path) as db:
        for row in rows:
            key = key_of(row.address)
            found = db.execute("SELECT status FROM subscribers WHERE key = ?", (key,)).fetchone()
            if found is not None and found[0] == "suppressed":
                counts.kept_suppressed += 1
            elif row.suppressed:
                _suppress(db, key, row.address, row.name, f"{reason}: {row.status}", stamp)
                counts.suppressed += 1
            elif found is not None:
                counts.already += 1
            else:
                db.execute(
                    "INSERT INTO subscribers VALUES (?, ?, ?, 'active', '', ?, ?)",
                    (key, row.address, row.name, stamp, stamp),
                )
                counts.added += 1
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
    with _changing(path) as db:
        found = db.execute("SELECT status FROM subscribers WHERE key = ?", (key,)).fetchone()
        _suppress(db, key, address, "", reason, rfc3339(now))
    return found is not None and found[0] == "active"


def unsubscribe(path: Path, address: str, now: datetime) -> str:
    """A reader's own unsubscribe (the server): "unsubscribed", "already" or
    "unknown" (not on the list: nothing changes). Committed, durably, on return."""
    key, stamp = key_of(address), rfc3339(now)
    with _changing(path) as db:
        found = db.execute("SELECT status FROM subscribers WHERE key = ?", (key,)).fetchone()
        if found is not None and found[0] == "active":
            db.execute(
                "UPDATE subscribers SET status = 'suppressed', reason = ?, changed_at = ? "
                "WHERE key = ?",
                ("unsubscribed by the reader", stamp, key),
            )
    if found is None:
        return "unknown"
    return "unsubscribed" if found[0] == "active" else "already"


def confirm(path: Path, address: str, now: datetime) -> str:
    """A confirmed sign-up: the address becomes active, even one suppressed before,
    since its reader has just asked for it from that mailbox. "subscribed" or
    "already"."""
    key, stamp = key_of(address), rfc3339(now)
    with _changing(path) as db:
        found = db.execute("SELECT status FROM subscribers WHERE key = ?", (key,)).fetchone()
        db.execute(
            """INSERT INTO subscribers VALUES (?, ?, '', 'active', 'confirmed sign-up', ?, ?)
               ON CONFLICT(key) DO UPDATE SET status = 'active',
                   reason = excluded.reason, changed_at = excluded.changed_at
               WHERE status != 'active'""",
            (key, address, stamp, stamp),
        )
    return "already" if found is not None and found[0] == "active" else "subscribed"


class HandOver:
    """Hands a message over only while its recipient is active. The status lock is
    held, shared, from the check to the hand-over (the final dot of DATA: a few
    bytes), and every status change holds it exclusively, so an unsubscribe commits
    either before the check, and the message is not handed over, or after the
    hand-over: nobody receives a message handed over after their unsubscribe was
    committed. Sending threads share the lock with each other, and never wait for
    the outbox's own writes. One connection and one lock handle per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[tuple[sqlite3.Connection, int]] = []
        self._lock = threading.Lock()

    def _handles(self) -> tuple[sqlite3.Connection, int]:
        handles: tuple[sqlite3.Connection, int] | None = getattr(self._local, "handles", None)
        if handles is None:
            # Used by this thread alone; closed by the caller once the threads are done.
            db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            handles = db, os.open(status_lock(self.path), os.O_RDWR | os.O_CREAT, 0o600)
            self._local.handles = handles
            with self._lock:
                self._opened.append(handles)
        return handles

    def __call__(self, recipient: str, hand_over: Callable[[], None]) -> bool:
        db, descriptor = self._handles()
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        try:
            row = db.execute(
                "SELECT status FROM subscribers WHERE key = ?", (key_of(recipient),)
            ).fetchone()
            if row is None or row[0] != "active":
                return False
            hand_over()
            return True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            for db, descriptor in self._opened:
                db.close()
                os.close(descriptor)
            self._opened.clear()


def read_only_counts(path: Path) -> dict[str, int]:
    """For `status`: subscribers by status, and readers who unsubscribed themselves
    (no writes: a missing ledger or table is none)."""
    if not path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if "subscribers" not in tables(db):
                return {}
            counts = dict(db.execute("SELECT status, COUNT(*) FROM subscribers GROUP BY status"))
            left = db.execute(
                "SELECT COUNT(*) FROM subscribers WHERE reason = 'unsubscribed by the reader'"
            ).fetchone()[0]
    except sqlite3.Error:
        return {}
    return {**counts, "unsubscribed by the reader": int(left)} if counts else {}


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
