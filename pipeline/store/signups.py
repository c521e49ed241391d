"""Store: the sign-up requests of the last day, for the rate limits (this module
owns their table, in the ledger file).

Each request that would send a confirmation email is a row for its address and
one for the client it came from; a request beyond either limit sends nothing.
Rows older than a day are dropped as new ones come.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.core.audience import key_of
from pipeline.core.dates import rfc3339
from pipeline.store.subscribers import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS signup_requests (
    what TEXT NOT NULL,  -- 'address:<key>' or 'client:<ip>'
    at TEXT NOT NULL
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS signup_requests_by_what ON signup_requests (what, at)"


@dataclass(frozen=True)
class Limits:
    per_address_day: int
    per_client_hour: int


def request(path: Path, address: str, client: str, now: datetime, limits: Limits) -> str:
    """ "send" (recorded: send the confirmation), "active" (already subscribed:
    send nothing), "address-limit" or "client-limit"; one transaction, so two
    requests at once cannot both pass a limit."""
    by_address, by_client = f"address:{key_of(address)}", f"client:{client}"
    with connect(path) as db:
        db.execute(SCHEMA)
        db.execute(_INDEX)
        db.execute("BEGIN IMMEDIATE")
        try:
            verdict = _verdict(db, address, by_address, by_client, now, limits)
            if verdict == "send":
                db.executemany(
                    "INSERT INTO signup_requests VALUES (?, ?)",
                    [(by_address, rfc3339(now)), (by_client, rfc3339(now))],
                )
            elif verdict == "active":
                db.execute("INSERT INTO signup_requests VALUES (?, ?)", (by_client, rfc3339(now)))
            db.execute(
                "DELETE FROM signup_requests WHERE at < ?", (rfc3339(now - timedelta(days=1)),)
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return verdict


def _verdict(
    db: sqlite3.Connection,
    address: str,
    by_address: str,
    by_client: str,
    now: datetime,
    limits: Limits,
) -> str:
    def since(what: str, window: timedelta) -> int:
        row = db.execute(
            "SELECT COUNT(*) FROM signup_requests WHERE what = ? AND at > ?",
            (what, rfc3339(now - window)),
        ).fetchone()
        return int(row[0])

    if since(by_client, timedelta(hours=1)) >= limits.per_client_hour:
        return "client-limit"
    status = db.execute(
        "SELECT status FROM subscribers WHERE key = ?", (key_of(address),)
    ).fetchone()
    if status is not None and status[0] == "active":
        return "active"
    if since(by_address, timedelta(days=1)) >= limits.per_address_day:
        return "address-limit"
    return "send"
