"""The plan of an incremental build: scan + post index + ledger -> what to read,
what to decide on, what to render and which feeds to rewrite.

A cron run after one publish must cost what changed, not the archive's size:
- a file whose size and modification time match the index is not read again;
- only the *candidates* (posts that differ from the ledger, are not published
  yet, or share an identity) are loaded and decided; the *steady* rest
  (published, unchanged, recorded) stay in the index, which answers each written
  feed's newest entries;
- only the *touched* category and tag feeds (a changed post is in them, or was)
  are rendered and written.
A first build decides, of the index just filled, only the posts that could be
anything but "record it, put it in the feeds" (drafts, scheduled, to email,
settling, sharing an identity): the rest are recorded straight from the index and
are steady from the start. A full scan decides from every post; a dry run
(`status`, `preview`) asks the read-only index as a cron run does, deciding on
what changed.
Nothing here touches the disk but through the store; the shell reads the files
(`read`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.core.dates import rfc3339
from pipeline.core.decide import Policy, newest_first
from pipeline.core.entry import Entry
from pipeline.core.errors import PostError
from pipeline.core.feedsets import FeedSet, feed_sets
from pipeline.core.model import Changes, Finding, Header, LedgerSnapshot
from pipeline.core.posts.read import one_per_identity
from pipeline.core.posts.templating.lookup import KnownPosts, Layered
from pipeline.core.settings import Config
from pipeline.store import ledger
from pipeline.store.ledger import LedgerRow
from pipeline.store.postindex import IndexedPosts, PostIndex, Row, Steady, microseconds

Reader = Callable[[list[Entry]], Iterator[tuple[Entry, Row | PostError]]]
Touched = Callable[[FeedSet], bool]  # is this category or tag feed to be rewritten?
Names = dict[str, set[str]]  # kind -> every name the live posts carry


@dataclass
class Gathered:
    """What a build decides from: the candidate posts (every post, unless `steady`
    stands for the rest), the ledger entries they need, and what changed on disk."""

    posts: list[Header]  # sorted by file, duplicates rejected
    snapshot: LedgerSnapshot
    rejected: list[PostError]
    warnings: list[Finding]  # the headers' warnings, by file
    previous: dict[str, Header]  # the former headers of re-read, gone or unreadable files
    complete: bool  # `previous` is known for every changed file
    steady: Steady | None = None  # the other posts: published, unchanged, recorded
    index: PostIndex | None = None
    candidates: set[str] | None = None  # the files decided on, when not every file
    unreadable: set[str] = field(default_factory=set)
    kept: set[str] = field(default_factory=set)  # unreadable, shown as last read
    steady_new: bool = False  # a first build: the steady posts are not recorded yet


def gather(
    files: list[Entry],
    index: PostIndex | None,
    ledger_path: Path,
    now: datetime,
    full_scan: bool,
    read: Reader,
    policy: Policy | None = None,
) -> Gathered:
    """Read what changed, update the index, and pick the posts to decide on.

    A file whose size and modification time match the index is not opened (unless
    `full_scan`); its front-matter timestamps, kept in the index, still decide. A
    first build with a writable index decides only the posts `policy` could treat
    otherwise than "record it, put it in the feeds"; the rest are `steady_new`."""
    stats = index.stats() if index is not None else set()
    stale, replaced, gone = changed_files(files, stats, full_scan)
    complete = index is not None and index.complete and not full_scan
    previous = index.headers([*replaced, *gone]) if index is not None and complete else {}
    head = ledger.read_snapshot(ledger_path, only=())
    rows, errors = _read_into_index(stale, gone, replaced, index, read)
    unreadable = {error.source for error in errors}
    steady = None
    chosen: set[str] | None = None
    queried = index is not None and (index.writable or index.complete)
    first = head.first_build and index is not None and index.writable
    if index is not None and first:
        policy = policy or Policy()
        chosen = index.first_candidates(now, policy.since, policy.settle_minutes)
        headers = {s: rows[s].post for s in chosen if s in rows}
        headers.update(index.headers(chosen - headers.keys()))
        snapshot = head
        steady = index.steady(chosen)
        warned = index.headers(steady.warned())
    elif index is not None and queried and not full_scan and not head.first_build:
        chosen, vanished = index.candidates(
            ledger_path, now, head.marks.build_token, changed=rows.keys()
        )
        # A dry run's index is read-only: it still holds the changed files as they
        # were and the gone ones. Both are decided on, as read now or as removed,
        # with the files that share an identity with what was read.
        was = set()
        if not index.writable:
            was = set(previous)
            shared = {row.identity for row in rows.values()}
            shared |= {post.identity for post in previous.values()}
            chosen |= rows.keys() | index.sources_of(shared)
        chosen |= was
        headers = {s: rows[s].post for s in chosen if s in rows}
        headers.update(index.headers(chosen - headers.keys() - gone))
        identities = {post.identity for post in headers.values()} | vanished
        identities |= {previous[s].identity for s in was}
        snapshot = ledger.read_snapshot(ledger_path, only=identities)
        steady = index.steady(chosen)
        warned = index.headers(steady.warned())
    else:  # every post: the unchanged from the index, the rest as just read
        valid = [e.relative for e in files if e.relative not in rows and e.stat in stats]
        valid += sorted(unreadable)  # their last readable headers, where the index has them
        headers = index.headers(valid) if index is not None else {}
        headers.update((source, row.post) for source, row in rows.items())
        snapshot = ledger.read_snapshot(ledger_path)
        warned = {}
    posts, duplicates = one_per_identity(headers[source] for source in sorted(headers))
    rejected = sorted(errors + duplicates, key=lambda error: error.source)
    warnings = [
        warning
        for source in sorted(headers.keys() | warned.keys())
        for warning in (headers.get(source) or warned[source]).warnings
    ]
    # A post whose file cannot be read this time is not "removed": its last readable
    # header (the index keeps its row) is decided on as unchanged and stays in the
    # feeds; without one, the ledger's entry is left out of deciding.
    kept = set(index.headers(unreadable)) if index is not None and unreadable else set()
    lost = unreadable - kept
    entries = {i: e for i, e in snapshot.entries.items() if e.source not in lost}
    snapshot = replace(snapshot, entries=entries)
    return Gathered(
        posts,
        snapshot,
        rejected,
        warnings,
        previous,
        complete,
        steady,
        index,
        chosen,
        unreadable,
        kept,
        first,
    )


def changed_files(
    files: list[Entry], stats: set[str], full_scan: bool
) -> tuple[list[Entry], list[str], set[str]]:
    """(the files to read: not in the index as they are now, or all with `full_scan`;
    those of them that have an index row to replace; the sources of rows whose file
    is gone). Sets of 100,000 lines are the cost here, so only two are made."""
    changed = [e for e in files if e.stat not in stats]
    # A row whose line no file has now: its file changed (a changed file) or is gone.
    rows_of_changed = {line.split("\0", 1)[0] for line in stats - {e.stat for e in files}}
    gone = rows_of_changed - {e.relative for e in changed}
    replaced = [e.relative for e in changed if e.relative in rows_of_changed]
    if full_scan:  # every file is read again: those unchanged replace their rows too
        return files, replaced + [e.relative for e in files if e.stat in stats], gone
    return changed, replaced, gone


def _read_into_index(
    stale: list[Entry],
    gone: set[str],
    replaced: list[str],
    index: PostIndex | None,
    read: Reader,
) -> tuple[dict[str, Row], list[PostError]]:
    """Read the stale files; the index stores each header as it arrives (while the
    other cores read on) and forgets the gone files. Returns (rows, errors)."""
    rows: dict[str, Row] = {}
    errors: list[PostError] = []

    def arriving() -> Iterator[tuple[str, Row]]:
        for entry, outcome in read(stale):
            if isinstance(outcome, PostError):
                errors.append(outcome)
            else:
                rows[entry.relative] = outcome
                yield entry.relative, outcome

    if index is not None:
        index.update(arriving(), gone, replaced)
    else:
        for _ in arriving():
            pass
    return rows, errors


def touched_feeds(
    changes: Changes, gathered: Gathered, feeds_key: str, on_disk: Callable[[str], bool]
) -> Touched | None:
    """Which category and tag feeds this build must write: those a changed post is in,
    or was in before the change, or whose files are missing (`on_disk` answers for a
    path under out/). None: every feed (the configuration or the code changed, or
    what a changed post was is unknown)."""
    snapshot = gathered.snapshot
    if not gathered.complete or snapshot.marks.feeds_key != feeds_key:
        return None
    names: set[tuple[str, str]] = set()
    changed = changes.new + changes.modified + changes.edited_quietly + changes.recorded_only
    for post in changed + changes.held:  # a held post is in the feeds as it is now
        names.update(post.terms())
    for post in gathered.previous.values():  # what a re-read or gone file was before
        names.update(post.terms())
    by_source = {post.source: post for post in gathered.posts}
    for identity in changes.removed:
        entry = snapshot.entries.get(identity)
        if entry is None:
            return None
        old = gathered.previous.get(entry.source) or by_source.get(entry.source)
        if old is None:
            return None
        names.update(old.terms())

    def touched(feed: FeedSet) -> bool:
        if any((feed.kind, name) in names for name in feed.names):
            return True
        return not all(on_disk(feed.path(name)) for name in ("feed.xml", "atom.xml"))

    return touched


def feed_posts(
    changes: Changes, gathered: Gathered, touched: Touched | None, config: Config
) -> tuple[tuple[Header, ...], Names | None]:
    """The live posts the written feeds need, newest first, and (on a cron run) every
    category and tag name of the live posts. A cron run holds only the candidates:
    the steady posts are asked of the index, each written feed's newest."""
    steady = gathered.steady
    if steady is None:
        return changes.live, None
    names = steady.names()
    for post in changes.live:
        for kind, name in post.terms():
            names.setdefault(kind, set()).add(name)
    limit = config.feed.limit
    wanted = steady.newest("", (), limit)
    for feed in feed_sets(changes.live, config, names)[1:]:
        if touched is None or touched(feed):
            wanted += steady.newest(feed.kind, feed.names, limit)
    index = gathered.index
    extra = tuple(index.headers(set(wanted)).values()) if index is not None else ()
    return newest_first(changes.live + extra), names


def written_feeds(sets: list[FeedSet], touched: Touched | None) -> list[FeedSet]:
    """The feeds this build writes: the main ones, and the touched category and tag
    feeds (all of them when `touched` is None)."""
    return [feed for feed in sets if not feed.kind or touched is None or touched(feed)]


def to_render(changes: Changes, written: Iterable[FeedSet], limit: int) -> list[Header]:
    """The posts the outputs show: the written feeds' entries, the emails' posts."""
    needed = {p.identity: p for p in changes.new + changes.modified}
    for feed in written:
        for post in feed.posts[:limit]:
            needed[post.identity] = post
    return list(needed.values())


def posts_lookup(gathered: Gathered, cache_path: Path) -> IndexedPosts | KnownPosts | Layered:
    """Where a post's links find the other posts: the index, which holds every post
    once it is written; on a dry run that asked the read-only index, the headers just
    read and then the index; else the headers at hand, which then are every post."""
    if gathered.index is not None and gathered.index.writable:
        return IndexedPosts(cache_path)
    at_hand = KnownPosts.of((post.source, post.url) for post in gathered.posts)
    if gathered.steady is not None:
        return Layered(at_hand, IndexedPosts(cache_path))
    return at_hand


def recorded_as_is(gathered: Gathered) -> list[LedgerRow]:
    """The posts a first build records as they are, straight from the index: the
    steady ones, newest first (none on any other build: they are recorded)."""
    if gathered.steady is None or not gathered.steady_new:
        return []
    return gathered.steady.as_recorded()


def recorded_ids(changes: Changes, as_is: list[LedgerRow]) -> list[str]:
    """Every post recorded and not announced, newest first (identity breaking ties):
    those decided one by one and those recorded as they are."""
    decided = [(-microseconds(p.published), p.identity) for p in changes.recorded_only]
    if not decided:  # the usual first build: the index's order is the feed order
        return [row[0] for row in as_is]
    steady = ((-microseconds(datetime.fromisoformat(row[3])), row[0]) for row in as_is)
    return [identity for _key, identity in heapq.merge(decided, steady)]


def next_due(changes: Changes, settle_minutes: int) -> str:
    """When time alone will change the outcome: a scheduled post's time, or the end
    of a held post's settle window ("" when nothing waits)."""
    settle = timedelta(minutes=settle_minutes)
    moments = [p.published for p in changes.scheduled] + [p.modified + settle for p in changes.held]
    return rfc3339(min(moments)) if moments else ""
