"""Effect: the post index, every post file's header by file, in `cache.sqlite`.

A cron run after one publish must cost what changed, not the archive's size. So
the headers of all posts live here, with the columns deciding needs (identity,
dates, state, content hash, categories and tags), and a build asks by queries:
which files changed (size or modification time), which posts differ from the
ledger (the candidates: only they are loaded and decided), and each written feed's
newest entries among the rest (the steady posts: published, unchanged, recorded).

The index is a cache: it is checked against every file's size and modification time
and rebuilt when it is lost, damaged or made with another configuration or code.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast
from urllib.parse import quote

from pipeline.core.codec import header_from_json, header_to_json
from pipeline.core.dates import rfc3339
from pipeline.core.model import Header
from pipeline.core.posts.templating.lookup import file_stem
from pipeline.core.settings import Config
from pipeline.store.ledger import LedgerRow, post_states
from pipeline.store.sqlite import chunks, marks, tables

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY, stat TEXT NOT NULL,
    identity TEXT NOT NULL, content_hash TEXT NOT NULL,
    published_us INTEGER NOT NULL, published TEXT NOT NULL,
    modified TEXT NOT NULL, modified_us INTEGER NOT NULL, draft INTEGER NOT NULL,
    warned INTEGER NOT NULL, post TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_identity ON files (identity);
CREATE INDEX IF NOT EXISTS files_newest ON files (published_us DESC, identity);
CREATE INDEX IF NOT EXISTS files_stats ON files (stat);
CREATE INDEX IF NOT EXISTS files_warned ON files (source) WHERE warned > 0;
CREATE TABLE IF NOT EXISTS terms (
    kind TEXT NOT NULL, name TEXT NOT NULL, published_us INTEGER NOT NULL,
    identity TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (kind, name, published_us DESC, identity, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS terms_by_source ON terms (source);
CREATE TABLE IF NOT EXISTS names (
    kind TEXT NOT NULL, name TEXT NOT NULL, posts INTEGER NOT NULL, PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS pending (source TEXT PRIMARY KEY);
"""

_SECONDARY = (
    "files_by_identity",
    "files_newest",
    "files_stats",
    "files_warned",
    "terms_by_source",
)
_TERMS_AT_ONCE = 2000  # category and tag rows stored together, as the files' rows arrive
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def microseconds(moment: datetime) -> int:
    """An instant as an integer that sorts as the datetimes do (offsets included)."""
    return (moment - _EPOCH) // _MICROSECOND


# identity, content hash, published (microseconds, RFC 3339), modified (RFC 3339,
# microseconds), draft, how many warnings: the columns deciding reads.
Columns = tuple[str, str, int, str, str, int, int, int]


class Row(NamedTuple):
    """A header as the index stores it, made where the file was read (in a worker):
    its JSON `text`, its columns and its category and tag names, all plain values in
    a tuple (a fifth of a dataclass's cost to send back), so the main process stores
    100,000 of them without decoding one. The Header is decoded when asked for."""

    stat: str  # the file's Entry.stat when it was read
    text: str
    columns: Columns
    terms: tuple[tuple[str, str], ...]  # (kind, name), every kind

    @property
    def post(self) -> Header:
        return header_from_json(self.text)

    @property
    def identity(self) -> str:
        return self.columns[0]


def row_for(stat: str, post: Header) -> Row:
    dates = rfc3339(post.published), rfc3339(post.modified)
    columns = (
        post.identity,
        post.content_hash,
        microseconds(post.published),
        *dates,
        microseconds(post.modified),
        int(post.draft),
        len(post.warnings),
    )
    return Row(stat, header_to_json(post, dates), columns, tuple(post.terms()))


class IndexFailure(Exception):
    """The index failed in the middle of a build; the build starts again without it."""

    def __init__(self, path: Path, error: sqlite3.Error) -> None:
        super().__init__(str(error))
        self.path = path


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """sqlite3 errors become IndexFailure, naming the file."""

    @functools.wraps(method)
    def wrapper(self: PostIndex | Steady, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise IndexFailure(self.path, exc) from None

    return cast(F, wrapper)


class PostIndex:
    """An open index. `complete` is False when it cannot tell what a re-read post
    was before (it was just made, or a build changed it and was stopped before
    recording): the build then rewrites every feed."""

    def __init__(
        self,
        db: sqlite3.Connection,
        path: Path,
        complete: bool,
        writable: bool,
        kinds: tuple[str, ...] = ("category", "tag"),
    ) -> None:
        self._db = db
        self.path = path
        self.complete = complete
        self.writable = writable
        self.kinds = kinds  # the kinds of names that have feeds: only they are indexed

    @_guarded
    def stats(self) -> set[str]:
        """Every indexed file's `Entry.stat` ("relative\0size\0mtime_ns")."""
        return {row[0] for row in self._db.execute(_STATS)}

    @_guarded
    def headers(self, sources: Iterable[str]) -> dict[str, Header]:
        """The stored headers of these files (those indexed)."""
        found: dict[str, Header] = {}
        for chunk in chunks(list(sources)):
            query = f"SELECT source, post FROM files WHERE source IN ({marks(len(chunk))})"  # noqa: S608 (only "?" marks)
            found.update(
                (source, header_from_json(text)) for source, text in self._db.execute(query, chunk)
            )
        return found

    @_guarded
    def sources_of(self, identities: Iterable[str]) -> set[str]:
        """The indexed files whose post has one of these identities."""
        found: set[str] = set()
        for chunk in chunks(list(identities)):
            query = f"SELECT source FROM files WHERE identity IN ({marks(len(chunk))})"  # noqa: S608 (only "?" marks)
            found.update(row[0] for row in self._db.execute(query, chunk))
        return found

    @_guarded
    def update(
        self, rows: Iterable[tuple[str, Row]], dropped: Collection[str], replaced: Collection[str]
    ) -> None:
        """Store re-read headers as `rows` yields them (`replaced`: the files that had
        a row), and forget files that are gone, in one transaction marked as not yet
        recorded by the ledger. A replaced file that yields no row (it cannot be read
        now) keeps its row: the post's last readable header, which keeps it in the
        feeds until it is fixed, and whose file's old size and time make the next
        build read it again. Into an empty index (a first build), rows go in before
        the secondary indexes are made: several times faster than keeping them
        current. `rows` is consumed in any case."""
        if not self.writable:
            for _ in rows:
                pass
            return
        pending = iter(rows)
        first = next(pending, None)
        if first is None and not dropped:
            return  # nothing changed: no write transaction at all
        db = self._db
        stored: dict[str, Row] = {}
        had_rows = set(replaced)
        kinds = self.kinds  # only names of kinds that have feeds are indexed
        terms: list[tuple[str, str, int, str, str]] = []
        replacing: list[tuple[str]] = []  # files in `terms` whose old names are stored
        affected: set[Any] = set()

        def store_terms() -> None:
            affected.update(self._forget(db, replacing, files=False))  # old names first
            replacing.clear()
            db.executemany("INSERT INTO terms VALUES (?, ?, ?, ?, ?)", terms)
            affected.update({term[:2] for term in terms})
            terms.clear()

        def values() -> Iterator[tuple[object, ...]]:
            """The files' rows; their names go in by the batch meanwhile, while the
            other cores read on (after the end of reading, they cost a first build
            40 ms at 10,000 posts, the other cores idle)."""
            for source, row in itertools.chain([first] if first else [], pending):
                stored[source] = row
                if source in had_rows:
                    replacing.append((source,))
                columns = row.columns
                terms.extend(
                    (kind, name, columns[2], columns[0], source)
                    for kind, name in row.terms
                    if kind in kinds
                )
                if len(terms) >= _TERMS_AT_ONCE:
                    store_terms()
                yield (source, row.stat, *columns, row.text)

        db.execute("BEGIN IMMEDIATE")
        try:
            affected |= self._forget(db, [(source,) for source in dropped], files=True)
            empty = db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None
            bulk = empty and len(replaced) + len(dropped) == 0
            if bulk:
                for name in _SECONDARY:
                    db.execute(f"DROP INDEX IF EXISTS {name}")  # noqa: S608 (constant names)
            db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values()
            )
            store_terms()
            if bulk:
                for statement in SCHEMA.split(";"):
                    if "CREATE INDEX" in statement:
                        db.execute(statement)
            for kind, name in affected:  # how many posts carry each name, kept current
                db.execute(
                    "INSERT OR REPLACE INTO names SELECT ?, ?, COUNT(*) FROM terms "
                    "WHERE kind = ? AND name = ?",
                    (kind, name, kind, name),
                )
            db.execute("DELETE FROM names WHERE posts = 0")
            if stored or dropped:
                db.execute("INSERT OR REPLACE INTO index_meta VALUES ('recorded', '0')")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _forget(db: sqlite3.Connection, sources: list[tuple[str]], files: bool) -> set[Any]:
        """Delete these files' terms (and, with `files`, their rows); returns the
        (kind, name) pairs whose counts change."""
        affected = {
            (kind, name)
            for source in sources
            for kind, name in db.execute("SELECT kind, name FROM terms WHERE source = ?", source)
        }
        if files:
            db.executemany("DELETE FROM files WHERE source = ?", sources)
        db.executemany("DELETE FROM terms WHERE source = ?", sources)
        return affected

    def recorded(
        self, ledger_path: Path, token: str, now: datetime, candidates: Collection[str] | None
    ) -> None:
        """The ledger (now at `token`) agrees with the index: remember which files are
        still candidates, so the next build checks only those and what it re-reads.
        Only this build's `candidates` (None: every file) can still be. Failing here
        only makes the next build ask the ledger about every file."""
        if not self.writable:
            return
        db = self._db
        try:
            pending, _ = self._ask_ledger(ledger_path, now, candidates, vanished=False)
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM pending")
            db.executemany("INSERT INTO pending VALUES (?)", ((s,) for s in sorted(pending)))
            for key, value in (
                ("recorded", "1"),
                ("ledger_token", token),
                ("synced_now", str(microseconds(now))),
            ):
                db.execute("INSERT OR REPLACE INTO index_meta VALUES (?, ?)", (key, value))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            logger.warning("%s: cannot update the cache (%s)", self.path, exc)

    def close(self) -> None:
        self._db.close()

    @_guarded
    def candidates(
        self, ledger_path: Path, now: datetime, token: str, changed: Collection[str]
    ) -> tuple[set[str], set[str]]:
        """(files whose post the ledger does not already hold as published and
        unchanged, ledger identities no indexed file has any more).

        When the ledger is the one this index last agreed with (`token`), and time
        has not gone back, only the files pending then and the `changed` ones can
        differ; else every file is compared with the ledger. The vanished ones are
        always asked of every row (a post kept while its file was unreadable can
        vanish with no row of its own to say so)."""
        meta = dict(self._db.execute("SELECT key, value FROM index_meta"))
        known = (
            self.complete
            and token != ""
            and meta.get("ledger_token") == token
            and microseconds(now) >= int(meta.get("synced_now", "0") or "0")
        )
        if not known:
            return self._ask_ledger(ledger_path, now, None)
        pending = {row[0] for row in self._db.execute("SELECT source FROM pending")}
        return self._ask_ledger(ledger_path, now, pending | set(changed))

    def _ask_ledger(
        self,
        ledger_path: Path,
        now: datetime,
        only: Collection[str] | None,
        vanished: bool = True,
    ) -> tuple[set[str], set[str]]:
        """The candidate query, over every file or `only` these (and the files that
        share an identity with them); and, when asked, the vanished query."""
        db = self._db
        db.execute("ATTACH DATABASE ? AS ledger", (f"file:{ledger_path}?mode=ro",))
        try:
            if only is None:
                sources = {row[0] for row in db.execute(_CANDIDATES, (microseconds(now),))}
            else:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS checked (source TEXT PRIMARY KEY)")
                db.execute("BEGIN")
                db.execute("DELETE FROM temp.checked")
                db.executemany(
                    "INSERT OR IGNORE INTO temp.checked VALUES (?)", ((s,) for s in only)
                )
                db.execute("COMMIT")
                query = _CANDIDATES_OF_CHECKED
                sources = {row[0] for row in db.execute(query, (microseconds(now),))}
            gone = {row[0] for row in db.execute(_VANISHED)} if vanished else set()
            return sources, gone
        finally:
            db.execute("DETACH DATABASE ledger")

    @_guarded
    def first_candidates(
        self, now: datetime, since: datetime | None, settle_minutes: int
    ) -> set[str]:
        """On a first build (an empty ledger): the files deciding must look at one by
        one: drafts, scheduled posts, posts to email (published `since`), posts
        changed within the settle window, and those sharing an identity. Every other
        post is recorded as it is and goes into the feeds: steady from the start, so
        a first build of 100,000 posts decides a handful, as a cron run does."""
        never = 2**63 - 1
        now_us = microseconds(now)
        settled = now_us - settle_minutes * 60_000_000 if settle_minutes else never
        since_us = microseconds(since) if since is not None else never
        rows = self._db.execute(_FIRST_CANDIDATES, (now_us, since_us, settled))
        return {row[0] for row in rows}

    @_guarded
    def steady(self, candidates: Iterable[str]) -> Steady:
        """The indexed posts other than `candidates`: published, unchanged, recorded."""
        db = self._db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS candidates (source TEXT PRIMARY KEY)")
        db.execute("BEGIN")
        db.execute("DELETE FROM temp.candidates")
        db.executemany("INSERT INTO temp.candidates VALUES (?)", ((s,) for s in candidates))
        db.execute("COMMIT")
        return Steady(db, self.path)


class Steady:
    """Queries over the steady posts (see `PostIndex.steady`)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @_guarded
    def count(self) -> int:
        return int(self._db.execute(_STEADY_COUNT).fetchone()[0])

    @_guarded
    def names(self) -> dict[str, set[str]]:
        """Every category and tag name a steady post carries, by kind."""
        counts = {(kind, name): posts for kind, name, posts in self._db.execute(_NAMES)}
        for kind, name, posts in self._db.execute(_CANDIDATE_NAMES):
            counts[kind, name] -= posts
        found: dict[str, set[str]] = {"category": set(), "tag": set()}
        for (kind, name), posts in counts.items():
            if posts > 0:
                found.setdefault(kind, set()).add(name)
        return found

    @_guarded
    def newest(self, kind: str, names: Iterable[str], limit: int) -> list[str]:
        """The files of the `limit` newest steady posts of a feed (kind "" is the
        main feed; else those carrying any of `names`), newest first."""
        if not kind:
            return [row[0] for row in self._db.execute(_STEADY_NEWEST, (limit,))]
        wanted = sorted(set(names))
        query = _STEADY_NEWEST_OF.format(marks=marks(len(wanted)))
        return [row[0] for row in self._db.execute(query, (kind, *wanted, limit))]

    @_guarded
    def as_recorded(self) -> list[LedgerRow]:
        """The steady posts as the ledger records a post, newest first (a first
        build records them as they are)."""
        return list(self._db.execute(_STEADY_RECORDED))

    @_guarded
    def warned(self) -> list[str]:
        """The files of steady posts whose header carries warnings."""
        return [row[0] for row in self._db.execute(_STEADY_WARNED)]


_STATS = "SELECT stat FROM files"
# A steady post: the ledger holds it, not removed, with this very file, hash and
# last change, and it is published (no draft, not scheduled) under its own identity.
_LEDGER = post_states("ledger")  # the ledger's columns are the ledger module's
_DUPLICATES = "SELECT identity FROM files GROUP BY identity HAVING COUNT(*) > 1"
_CANDIDATES = f"""
SELECT f.source FROM files AS f LEFT JOIN {_LEDGER} AS p ON p.identity = f.identity
WHERE p.identity IS NULL OR p.removed OR f.draft OR f.published_us > ?
   OR p.modified_at IS NOT f.modified OR p.content_hash IS NOT f.content_hash
   OR p.source IS NOT f.source
UNION
SELECT source FROM files WHERE identity IN ({_DUPLICATES})
"""  # noqa: S608 (constants)
_CANDIDATES_OF_CHECKED = f"""
SELECT f.source FROM files AS f LEFT JOIN {_LEDGER} AS p ON p.identity = f.identity
WHERE f.source IN (SELECT source FROM temp.checked) AND (
   p.identity IS NULL OR p.removed OR f.draft OR f.published_us > ?
   OR p.modified_at IS NOT f.modified OR p.content_hash IS NOT f.content_hash
   OR p.source IS NOT f.source)
UNION
SELECT f.source FROM files AS f
WHERE f.identity IN (SELECT identity FROM files WHERE source IN (SELECT source FROM temp.checked))
  AND (SELECT COUNT(*) FROM files AS g WHERE g.identity = f.identity) > 1
"""  # noqa: S608 (constants)
_FIRST_CANDIDATES = f"""
SELECT source FROM files WHERE draft OR published_us > ? OR published_us >= ? OR modified_us > ?
UNION
SELECT source FROM files WHERE identity IN ({_DUPLICATES})
"""  # noqa: S608 (constants)
_VANISHED = f"""
SELECT identity FROM {_LEDGER} WHERE NOT removed
   AND identity NOT IN (SELECT identity FROM main.files)
"""  # noqa: S608 (constants)
_NOT_CANDIDATE = "source NOT IN (SELECT source FROM temp.candidates)"
# No NOT IN scan of every row: the candidates that are rows (a dry run's new files
# are not) are counted by their keys.
_STEADY_COUNT = (
    "SELECT (SELECT COUNT(*) FROM files) - (SELECT COUNT(*) FROM temp.candidates AS c "
    "WHERE EXISTS (SELECT 1 FROM files WHERE files.source = c.source))"
)
_NAMES = "SELECT kind, name, posts FROM names"
_CANDIDATE_NAMES = (
    "SELECT kind, name, COUNT(*) FROM terms "
    "WHERE source IN (SELECT source FROM temp.candidates) GROUP BY kind, name"
)
_STEADY_RECORDED = (
    "SELECT identity, source, content_hash, published, modified FROM files "  # noqa: S608
    f"WHERE {_NOT_CANDIDATE} ORDER BY published_us DESC, identity"
)
_STEADY_WARNED = f"SELECT source FROM files WHERE warned > 0 AND {_NOT_CANDIDATE} ORDER BY source"  # noqa: S608
_STEADY_NEWEST = (
    f"SELECT source FROM files WHERE {_NOT_CANDIDATE} "  # noqa: S608
    "ORDER BY published_us DESC, identity LIMIT ?"
)
_STEADY_NEWEST_OF = (
    "SELECT DISTINCT source, published_us, identity FROM terms "  # noqa: S608 (constants)
    f"WHERE kind = ? AND name IN ({{marks}}) AND {_NOT_CANDIDATE} "
    "ORDER BY published_us DESC, identity LIMIT ?"
)


def open_index(path: Path, key: str, kinds: tuple[str, ...], writable: bool) -> PostIndex | None:
    """The index for this configuration (emptied when made with another), or None
    when it cannot be used (a warning; the build then reads every post). A dry run
    opens it read-only, and an empty one in memory when there is none."""
    try:
        if writable:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, isolation_level=None)
        elif path.exists():
            db = sqlite3.connect(f"file:{path}?mode=ro", timeout=10, isolation_level=None, uri=True)
        else:
            return _in_memory(path, kinds)
        try:
            return _prepare(db, path, key, writable, kinds)
        except BaseException:
            db.close()
            raise
    except (sqlite3.Error, OSError) as exc:
        logger.warning("%s: cache unreadable (%s); reading every post", path, exc)
        return None


def kinds_of(config: Config) -> tuple[str, ...]:
    """The kinds of names that have feeds: only they are indexed."""
    feeds = (("category", config.feed.category_feeds), ("tag", config.feed.tag_feeds))
    return tuple(kind for kind, on in feeds if on)


def _in_memory(path: Path, kinds: tuple[str, ...]) -> PostIndex:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    return PostIndex(db, path, complete=False, writable=False, kinds=kinds)


def _prepare(
    db: sqlite3.Connection, path: Path, key: str, writable: bool, kinds: tuple[str, ...]
) -> PostIndex:
    """The index as it is when made with this key; else (another configuration, code
    or cache format) its tables made anew, in the shape this code writes."""
    if writable:
        # A cache: a power cut may damage it (the build then rebuilds it, with a
        # warning); a killed build cannot. Not waiting for the disk saves seconds.
        db.execute("PRAGMA synchronous = OFF")
    present = tables(db)
    meta = dict(db.execute("SELECT key, value FROM index_meta")) if "index_meta" in present else {}
    if meta.get("key") == key and "files" in present:
        recorded = meta.get("recorded") == "1"
        return PostIndex(db, path, complete=recorded, writable=writable, kinds=kinds)
    if not writable:
        db.close()
        return _in_memory(path, kinds)
    db.execute("BEGIN IMMEDIATE")
    for table in ("files", "terms", "names", "pending", "headers", "index_meta"):
        db.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608 (constant names)
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO index_meta VALUES ('key', ?)", (key,))
    db.execute("INSERT INTO index_meta VALUES ('recorded', '0')")
    db.execute("COMMIT")
    return PostIndex(db, path, complete=False, writable=True, kinds=kinds)


class IndexedPosts:
    """The posts' URLs by file, asked of the index (a Lookup's post half): a link in
    one post costs a query, not the archive's headers. Opens its own read-only
    connection in each process, so forked workers can ask too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path, "_db": None, "_pid": 0}

    def _connection(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():
            uri = f"file:{quote(str(self.path))}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=10)
            self._pid = os.getpid()
        return self._db

    def post_url(self, source: str) -> str | None:
        try:
            row = (
                self._connection()
                .execute("SELECT post FROM files WHERE source = ?", (source,))
                .fetchone()
            )
        except sqlite3.Error:
            return None
        return header_from_json(row[0]).url if row else None

    def posts_named(self, stem: str) -> tuple[str, ...]:
        pattern = "%" + stem.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"
        try:
            rows = self._connection().execute(
                "SELECT source FROM files WHERE source LIKE ? ESCAPE '\\'", (pattern,)
            )
            sources = [source for (source,) in rows]
        except sqlite3.Error:
            return ()
        return tuple(sorted(s for s in sources if file_stem(s) == stem))
