"""Store: the outbox, one row per (email, recipient), in the ledger file.

States: queued -> sending -> sent; deferred (tried again later, then failed);
failed (with the server's reply); unknown (handed to the server, outcome lost);
skipped (the recipient unsubscribed after the email was queued). Every change is
its own committed transaction, and `sending` is committed durably before the
message is handed to the server: a message a crash left in `sending` is reported
as unknown, never resent by a plain `send`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.core.audience import key_of
from pipeline.core.dates import rfc3339
from pipeline.core.errors import OutputError
from pipeline.store import subscribers
from pipeline.store.sqlite import tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_emails (
    email_id TEXT PRIMARY KEY,
    audience TEXT NOT NULL,  -- fixed when the email is first queued
    queued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    email_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_try TEXT NOT NULL DEFAULT '',
    next_try TEXT NOT NULL DEFAULT '',
    reply TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (email_id, recipient)
);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state, next_try);
"""
# Sending, unless the email goes to subscribers and this one is no longer active.
_START = """
UPDATE outbox SET
    state = CASE WHEN go.ok THEN 'sending' ELSE 'skipped' END,
    reply = CASE WHEN go.ok THEN reply ELSE 'unsubscribed' END,
    attempts = attempts + go.ok,
    first_try = CASE WHEN go.ok AND first_try = '' THEN ?3 ELSE first_try END,
    updated_at = ?4
FROM (SELECT (?1 = 0 OR EXISTS (
    SELECT 1 FROM subscribers WHERE key = ?2 AND status = 'active')) AS ok) AS go
WHERE email_id = ?5 AND recipient = ?6
RETURNING state
"""


@dataclass(frozen=True)
class Item:
    """One message to one recipient, as the outbox holds it."""

    email_id: str
    recipient: str
    message_id: str
    state: str
    attempts: int
    first_try: str
    next_try: str
    reply: str


_COLUMNS = "email_id, recipient, message_id, state, attempts, first_try, next_try, reply"
DUE_PAGE = 500
_DUE = "(state = 'queued' OR (state = 'deferred' AND next_try <= ?))"
_DUE_PAGE = (
    f"SELECT rowid, {_COLUMNS} FROM outbox WHERE email_id = ? AND {_DUE} "  # noqa: S608
    f"AND rowid > ? ORDER BY rowid LIMIT {DUE_PAGE}"
)


class Outbox:
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    def hand_over(self) -> subscribers.HandOver:
        """The guard of the final dot, for messages to subscribers."""
        return subscribers.HandOver(self.path)

    def _write(self, statement: str, values: Iterable[object] = (), durable: bool = False) -> int:
        db = self._db
        db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        db.execute("BEGIN IMMEDIATE")
        try:
            changed = db.execute(statement, tuple(values)).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    def audiences(self) -> dict[str, str]:
        """email id -> its audience, for every email ever queued."""
        return dict(self._db.execute("SELECT email_id, audience FROM outbox_emails"))

    def queue(
        self, email_id: str, audience: str, recipients: Iterable[tuple[str, str]], now: datetime
    ) -> int:
        """Queue an email for (recipient, message id) pairs, once: the email's
        audience is fixed by its first queueing. Returns the rows queued."""
        db, stamp = self._db, rfc3339(now)
        db.execute("PRAGMA synchronous = FULL")
        db.execute("BEGIN IMMEDIATE")
        try:
            fresh = db.execute(
                "INSERT OR IGNORE INTO outbox_emails VALUES (?, ?, ?)", (email_id, audience, stamp)
            ).rowcount
            count = 0
            if fresh:
                count = db.executemany(
                    "INSERT OR IGNORE INTO outbox (email_id, recipient, message_id, state, "
                    "updated_at) VALUES (?, ?, ?, 'queued', ?)",
                    ((email_id, r, m, stamp) for r, m in recipients),
                ).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return count

    def interrupted(self, now: datetime) -> int:
        """Messages a crash left in `sending` become unknown; returns how many."""
        return self._write(
            "UPDATE outbox SET state = 'unknown', reply = 'the send was interrupted while "
            "the server had this message; it may have been delivered', updated_at = ? "
            "WHERE state = 'sending'",
            (rfc3339(now),),
            durable=True,
        )

    def retry_unknown(self, now: datetime) -> int:
        """--retry-unknown: the unknown messages are queued again (same Message-ID)."""
        return self._write(
            "UPDATE outbox SET state = 'queued', updated_at = ? WHERE state = 'unknown'",
            (rfc3339(now),),
            durable=True,
        )

    def due(self, now: datetime) -> Iterator[Item]:
        """Queued and deferred messages whose time has come, oldest email first,
        read a page at a time (memory stays flat however long the list)."""
        stamp = rfc3339(now)
        emails = self._db.execute(
            "SELECT email_id FROM outbox_emails ORDER BY queued_at, email_id"
        ).fetchall()
        for (email_id,) in emails:
            after = 0
            while True:
                rows = self._db.execute(_DUE_PAGE, (email_id, stamp, after)).fetchall()
                for row in rows:
                    yield Item(*row[1:])
                if len(rows) < DUE_PAGE:
                    break
                after = rows[-1][0]

    def due_count(self, now: datetime) -> int:
        query = "SELECT COUNT(*) FROM outbox WHERE " + _DUE  # noqa: S608 (a constant)
        return int(self._db.execute(query, (rfc3339(now),)).fetchone()[0])

    def start(self, item: Item, now: datetime, check_active: bool) -> bool:
        """Mark the message as being handed to the server, durably, before it is
        (one statement: its own transaction, fsynced). False (and `skipped`) when
        its recipient has unsubscribed since the email was queued."""
        stamp = rfc3339(now)
        db = self._db
        values = (int(check_active), key_of(item.recipient), stamp, stamp)
        db.execute("PRAGMA synchronous = FULL")
        rows = db.execute(_START, (*values, item.email_id, item.recipient)).fetchall()
        return rows == [("sending",)]  # all fetched: the statement, and so its commit, done

    def finish(self, item: Item, state: str, reply: str, next_try: str, now: datetime) -> None:
        """Record the outcome of one attempt (its own transaction)."""
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(
            "UPDATE outbox SET state = ?, reply = ?, next_try = ?, updated_at = ? "
            "WHERE email_id = ? AND recipient = ?",
            (state, reply, next_try, rfc3339(now), item.email_id, item.recipient),
        )

    def items(self, states: Iterable[str]) -> list[Item]:
        wanted = tuple(states)
        marks = ",".join("?" * len(wanted))
        query = f"SELECT {_COLUMNS} FROM outbox WHERE state IN ({marks}) ORDER BY email_id, rowid"  # noqa: S608
        return [Item(*row) for row in self._db.execute(query, wanted)]

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))


@contextmanager
def open_outbox(path: Path) -> Iterator[Outbox]:
    """The outbox of the ledger at `path` (WAL: a build or the unsubscribe server may
    use the file meanwhile)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, isolation_level=None, timeout=30)) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
            db.execute(subscribers.SCHEMA)
            yield Outbox(db, path)
    except sqlite3.Error as exc:
        raise OutputError(f"the ledger {path} cannot be used for sending: {exc}") from None


def read_only_counts(path: Path) -> tuple[dict[str, int], list[Item]]:
    """For `status`: the outbox's counts and its problem messages (no writes)."""
    if not path.exists():
        return {}, []
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if "outbox" not in tables(db):
                return {}, []
            counts = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state IN "  # noqa: S608
                "('deferred', 'failed', 'unknown') ORDER BY email_id, rowid"
            ).fetchall()
    except sqlite3.Error:
        return {}, []
    return counts, [Item(*row) for row in rows]
