"""Store: the SQLite ledger of what earlier builds saw and emailed.

Read once at the start of a build (a snapshot, a plain value), written once at the
end in a single transaction, and only after every output is on disk: a build killed
before the commit leaves the ledger as it was, and the next one redoes its work.
This module owns the ledger's tables (`meta` owns the notes table) and their
migrations; other modules see its columns only through `post_states()` and the
values it returns.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.core.dates import rfc3339
from pipeline.core.entry import BuildMarks
from pipeline.core.errors import OutputError
from pipeline.core.model import Changes, LedgerEntry, LedgerSnapshot, Waiting
from pipeline.store import meta
from pipeline.store.sqlite import chunks, marks, tables

SCHEMA_VERSION = 2
SCHEMA = """
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
_WAITING = """
CREATE TABLE IF NOT EXISTS waiting (
    identity TEXT PRIMARY KEY,  -- a post new or changed since the last email, kept
    source TEXT NOT NULL,       -- for the next slot of [email] schedule
    kind TEXT NOT NULL,         -- 'new' or 'updated'
    since TEXT NOT NULL
)
"""
# Version N -> the statements that take a ledger from N to N + 1, run in the commit's
# transaction. Version 1 is the first release's; a new table or column adds an entry.
MIGRATIONS: dict[int, str] = {1: _WAITING}


# A post as the ledger records it: identity, source, content hash, published_at and
# modified_at (RFC 3339).
LedgerRow = tuple[str, str, str, str, str]


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


def _version(db: sqlite3.Connection, present: set[str]) -> int:
    """The schema version of an existing ledger (0: none yet)."""
    if "posts" not in present:
        return 0
    if "meta" not in present:
        return 1
    return meta.schema_version(db) or 1


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the ledger to SCHEMA_VERSION, inside the caller's transaction."""
    version = _version(db, tables(db))
    if version > SCHEMA_VERSION:
        raise OutputError(
            f"the ledger {path} was written by a newer version (schema {version})",
            f"upgrade newsletter-pipeline: this version knows schema {SCHEMA_VERSION} and older",
        )
    for statement in [meta.SCHEMA, *SCHEMA.split(";"), _WAITING]:
        if statement.strip():
            db.execute(statement)
    for step in range(max(version, 1), SCHEMA_VERSION):
        for statement in MIGRATIONS[step].split(";"):
            if statement.strip():
                db.execute(statement)
    meta.set_schema_version(db, SCHEMA_VERSION)


def read_snapshot(path: Path, only: Collection[str] | None = None) -> LedgerSnapshot:
    """The ledger's content; an absent ledger is an empty one (a first build). With
    `only`, just those identities' entries (a cron run reads what it decides on)."""
    if not path.exists():
        return LedgerSnapshot()
    with _connect(path) as db:
        present = tables(db)
        if "posts" not in present:
            return LedgerSnapshot()
        if only is None:
            rows = db.execute(_ENTRIES).fetchall()
        else:
            rows = []
            for chunk in chunks(list(only)):
                query = f"{_ENTRIES} WHERE identity IN ({marks(len(chunk))})"
                rows += db.execute(query, chunk).fetchall()
        entries = {
            row[0]: LedgerEntry(
                identity=row[0],
                source=row[1],
                content_hash=row[2],
                published=datetime.fromisoformat(row[3]),
                modified=datetime.fromisoformat(row[4]),
                removed=row[5] is not None,
            )
            for row in rows
        }
        builds = db.execute("SELECT COUNT(*) FROM builds").fetchone()[0]
        email_ids = frozenset(row[0] for row in db.execute("SELECT email_id FROM emails"))
        noted = meta.marks_of(db) if "meta" in present else BuildMarks()
    return LedgerSnapshot(entries=entries, builds=builds, email_ids=email_ids, marks=noted)


_ENTRIES = "SELECT identity, source, content_hash, published_at, modified_at, removed_at FROM posts"


def post_states(schema: str) -> str:
    """The ledger's posts as a relation (identity, source, content_hash, modified_at,
    removed) for a query that has ATTACHed the ledger as `schema`: the post index
    joins this, never the ledger's own columns."""
    return (
        "(SELECT identity, source, content_hash, modified_at, "  # noqa: S608 (a schema name of ours)
        f"removed_at IS NOT NULL AS removed FROM {schema}.posts)"
    )


def commit(
    path: Path,
    changes: Changes,
    emails: Sequence[EmailRecord],
    now: datetime,
    summary: dict[str, object],
    noted: BuildMarks,
    waiting: Mapping[str, Waiting] | None = None,
    as_is: Iterable[LedgerRow] = (),
) -> None:
    """Record one build: its posts, removals, emails and marks, all or nothing;
    with `waiting`, what now waits for the schedule's next slot (replacing what
    waited before); `as_is`, more posts first seen now, as rows (a first build's
    steady posts, straight from the post index)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = rfc3339(now)
    with _connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            _migrate(db, path)
            meta.write_marks(db, noted)
            seen = changes.new + changes.modified + changes.recorded_only + changes.edited_quietly
            db.executemany(
                """INSERT INTO posts (identity, source, content_hash, published_at,
                           modified_at, first_seen)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT(identity) DO UPDATE SET source = excluded.source,
                           content_hash = excluded.content_hash,
                           published_at = excluded.published_at,
                           modified_at = excluded.modified_at, removed_at = NULL""",
                itertools.chain(
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
                    ((*row, stamp) for row in as_is),
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
                db.executemany(
                    "UPDATE posts SET emailed_at = ?, email_id = ? WHERE identity = ?",
                    ((stamp, email.email_id, identity) for identity in email.identities),
                )
            if waiting is not None:
                db.execute("DELETE FROM waiting")
                db.executemany(
                    "INSERT INTO waiting VALUES (?, ?, ?, ?)",
                    ((i, w.source, w.kind, w.since) for i, w in sorted(waiting.items())),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def read_waiting(path: Path) -> dict[str, Waiting]:
    """identity -> what waits (empty: none, or no ledger yet)."""
    if not path.exists():
        return {}
    with _connect(path) as db:
        if "waiting" not in tables(db):
            return {}
        rows = db.execute("SELECT identity, source, kind, since FROM waiting").fetchall()
    return {identity: Waiting(source, kind, since) for identity, source, kind, since in rows}


def history(path: Path, limit: int = 5) -> list[tuple[str, dict[str, object]]]:
    """The most recent builds, newest first: (ran_at, summary)."""
    if not path.exists():
        return []
    with _connect(path) as db:
        if "builds" not in tables(db):
            return []
        rows = db.execute(
            "SELECT ran_at, summary FROM builds ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    return [(row[0], json.loads(row[1])) for row in rows]


@dataclass(frozen=True)
class RecordedEmail:
    email_id: str
    written_at: datetime
    folder: str  # under out/


def recorded_emails(path: Path) -> list[RecordedEmail]:
    """Every email a build wrote and recorded, oldest first."""
    if not path.exists():
        return []
    with _connect(path) as db:
        if "emails" not in tables(db):
            return []
        rows = db.execute(
            "SELECT email_id, written_at, folder FROM emails ORDER BY written_at, email_id"
        ).fetchall()
    return [RecordedEmail(row[0], datetime.fromisoformat(row[1]), row[2]) for row in rows]
