"""Effect: the SQLite ledger of what earlier builds saw and emailed.

Read once at the start of a build (a snapshot, a plain value), written once at the
end in a single transaction, and only after every output is on disk: a build killed
before the commit leaves the ledger as it was, and the next one redoes its work.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.core.dates import rfc3339
from pipeline.core.errors import OutputError
from pipeline.core.model import Changes, LedgerEntry, LedgerSnapshot

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS posts (
    identity TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    published_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    emailed_at TEXT,
    email_id TEXT,
    removed_at TEXT
);
CREATE TABLE IF NOT EXISTS builds (
    id INTEGER PRIMARY KEY,
    ran_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS emails (
    email_id TEXT PRIMARY KEY,
    build_id INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    subject TEXT NOT NULL,
    folder TEXT NOT NULL,
    posts TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class EmailRecord:
    """An email on disk, to be recorded with the posts it carries."""

    email_id: str
    subject: str
    folder: str
    identities: tuple[str, ...]


def _broken(path: Path, exc: Exception) -> OutputError:
    return OutputError(
        f"the ledger {path} cannot be used: {exc}",
        "if it is damaged, move it aside: the next build then records every post again "
        "and emails none (use --since to choose what to email)",
    )


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    try:
        with closing(sqlite3.connect(path, isolation_level=None, timeout=10)) as db:
            db.execute("PRAGMA synchronous = FULL")
            yield db
    except sqlite3.Error as exc:
        raise _broken(path, exc) from None


def read_snapshot(path: Path, only: Collection[str] | None = None) -> LedgerSnapshot:
    """The ledger's content; an absent ledger is an empty one (a first build). With
    `only`, just those identities' entries (a cron run reads what it decides on)."""
    if not path.exists():
        return LedgerSnapshot()
    with _connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "posts" not in tables:
            return LedgerSnapshot()
        if only is None:
            rows = db.execute(_ENTRIES).fetchall()
        else:
            wanted = list(only)
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += db.execute(f"{_ENTRIES} WHERE identity IN ({marks})", chunk).fetchall()
        entries = {
            row[0]: LedgerEntry(
                identity=row[0],
                source=row[1],
                content_hash=row[2],
                published=datetime.fromisoformat(row[3]),
                modified=datetime.fromisoformat(row[4]),
                first_seen=datetime.fromisoformat(row[5]),
                emailed_at=datetime.fromisoformat(row[6]) if row[6] else None,
                removed=row[7] is not None,
            )
            for row in rows
        }
        builds = db.execute("SELECT COUNT(*) FROM builds").fetchone()[0]
        email_ids = frozenset(row[0] for row in db.execute("SELECT email_id FROM emails"))
        meta = dict(db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
    return LedgerSnapshot(entries=entries, builds=builds, email_ids=email_ids, meta=meta)


_ENTRIES = (
    "SELECT identity, source, content_hash, published_at, modified_at, first_seen,"
    " emailed_at, removed_at FROM posts"
)


def commit(
    path: Path,
    changes: Changes,
    emails: Sequence[EmailRecord],
    now: datetime,
    summary: dict[str, object],
    meta: Mapping[str, str] | None = None,
) -> None:
    """Record one build: its posts, removals and emails, all or nothing. `meta` holds
    what the nothing-changed exit compares with (empty values are removed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = rfc3339(now)
    with _connect(path) as db:
        db.executescript(SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            for key, value in (meta or {}).items():
                if value:
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
                else:
                    db.execute("DELETE FROM meta WHERE key = ?", (key,))
            seen = changes.new + changes.modified + changes.recorded_only + changes.edited_quietly
            db.executemany(
                """INSERT INTO posts (identity, source, content_hash, published_at,
                           modified_at, first_seen)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT(identity) DO UPDATE SET source = excluded.source,
                           content_hash = excluded.content_hash,
                           published_at = excluded.published_at,
                           modified_at = excluded.modified_at, removed_at = NULL""",
                (
                    (
                        post.identity,
                        post.source,
                        post.content_hash,
                        rfc3339(post.published),
                        rfc3339(post.modified),
                        stamp,
                    )
                    for post in seen
                ),
            )
            db.executemany(
                "UPDATE posts SET removed_at = ? WHERE identity = ?",
                ((stamp, identity) for identity in changes.removed),
            )
            build_id = db.execute(
                "INSERT INTO builds (ran_at, summary) VALUES (?, ?)",
                (stamp, json.dumps(summary, sort_keys=True)),
            ).lastrowid
            for email in emails:
                db.execute(
                    "INSERT OR IGNORE INTO emails VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        email.email_id,
                        build_id,
                        stamp,
                        email.subject,
                        email.folder,
                        json.dumps(list(email.identities)),
                    ),
                )
                for identity in email.identities:
                    db.execute(
                        "UPDATE posts SET emailed_at = ?, email_id = ? WHERE identity = ?",
                        (stamp, email.email_id, identity),
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def history(path: Path, limit: int = 5) -> list[tuple[str, dict[str, object]]]:
    """The most recent builds, newest first: (ran_at, summary)."""
    if not path.exists():
        return []
    with _connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "builds" not in tables:
            return []
        rows = db.execute(
            "SELECT ran_at, summary FROM builds ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    return [(row[0], json.loads(row[1])) for row in rows]
