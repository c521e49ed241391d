"""Shell: `check`'s posts, incrementally. What each file was found to hold is kept
(`store.checked`) by its size and modification time, its content hash, the
configuration and code, and the answers its links were given; a `check` reads and
lints again only the files that changed and the posts whose answers did (a link to
a post that moved, an include that was edited). Duplicate identities are decided
afresh over every file each time, from the kept identities. The findings are the
same as a full check's: the same core functions make them, in the same order. A
changed file whose body holds no template syntax is checked as its header is read,
in one pass; only the others wait for every post's URL.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from pipeline.core.checks import (
    Checked,
    Seen,
    check_alone,
    check_post,
    combine,
    header_url,
    lenient,
)
from pipeline.core.entry import Entry
from pipeline.core.model import Finding
from pipeline.core.posts.templating.lookup import KnownPosts, Lookup, still_true
from pipeline.core.settings import Config
from pipeline.shell.files import read_and_stat, read_whole
from pipeline.shell.heap import no_cycle_collection
from pipeline.shell.old_site import OldSite
from pipeline.shell.reading import PARALLEL_FROM, PARALLEL_RENDER_FROM, in_parallel
from pipeline.shell.scan import find_posts, scan, stat_line
from pipeline.shell.site import Site
from pipeline.store import checked as kept
from pipeline.store.rendered import cache_key

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
DIGEST_LENGTH = 32  # hex digits of a file's SHA-256 kept
CHECK_FORMAT = 1  # bump when what a Checked holds, or how it is made, changes


@dataclass(frozen=True)
class PostsChecked:
    findings: list[Finding]
    files: int  # post files that could be read
    read: int  # of them, read and linted this time


def check_key(config: Config) -> str:
    return f"{CHECK_FORMAT}|{cache_key(lenient(config))}"


def check_files(site: Site) -> PostsChecked:
    key = check_key(site.config)
    with no_cycle_collection():  # 100,000s of kept rows, heads and findings: no cycles
        rows = kept.load(site.check_cache_path, key)
        try:
            return _check(site, key, rows)
        except (ValueError, TypeError, KeyError) as error:  # a kept row of another shape
            logger.warning("%s: unusable (%s); checking every post", site.check_cache_path, error)
            site.check_cache_path.unlink(missing_ok=True)
            return _check(site, key, {})


def _check(site: Site, key: str, rows: dict[str, kept.Kept]) -> PostsChecked:
    # With nothing kept every file is read: the workers stat what they open, not the
    # walk (three quarters of its time, while the other core waits).
    unstated = None if rows else scan(site.content_dir, stat=False)
    files = find_posts(site.content_dir, unstated)
    with kept.Keeper(site.check_cache_path, key) as keeper:
        return _check_files(site, files, rows, keeper)


def _check_files(
    site: Site, files: list[Entry], rows: dict[str, kept.Kept], keeper: kept.Keeper
) -> PostsChecked:
    config = lenient(site.config)
    stale = [e for e in files if (row := rows.get(e.relative)) is None or row[kept.STAT] != e.stat]
    includes = OldSite(site, KnownPosts({}))
    heading = [(e, row[kept.DIGEST] if (row := rows.get(e.relative)) else "") for e in stale]
    arriving = _each(partial(_head, config, includes), heading, PARALLEL_FROM)

    unreadable = 0  # changed files whose header cannot be read (or that cannot be opened)
    unopened: list[str] = []
    results: dict[str, Seen] = {}  # the files read this time, as they stand now
    saved: list[kept.Kept] = []  # rows to keep: stored a batch at a time
    digests: dict[str, tuple[str, str]] = {}  # the files to lint: their hash and stat
    urls: dict[str, str] = {}
    heads = _in_order_of([e.relative for e in stale], arriving)
    for entry, (digest, outcome, found, looked) in zip(stale, heads, strict=True):
        source, stat = entry.relative, looked or entry.stat
        old = rows.get(source)
        if isinstance(outcome, Finding):  # it cannot be opened, or its header read
            results[source] = (source, None, None, (outcome,))
            unreadable += 1
            if digest:
                unread = Checked(source, None, None, (outcome,))
                saved.append(kept.row_of(stat, digest, unread))
            else:  # one that cannot be opened is said each time: its row is dropped
                unopened.append(source)
        elif old is not None and old[kept.DIGEST] == digest:  # touched, not changed
            rows[source] = (source, stat, *old[kept.DIGEST :])
            saved.append(rows[source])
        elif found is not None:  # checked already: it asks nothing of the others
            identity, line, findings, encoded = found
            urls[source], results[source] = outcome, (source, identity, line, findings)
            saved.append((source, stat, digest, *encoded))
        else:
            urls[source], digests[source] = outcome, (digest, stat)
        if len(saved) == _ROWS_AT_ONCE:
            keeper.keep(saved)
            saved.clear()
    by_source = {entry.relative: entry for entry in files}
    for source, row in rows.items():
        url = row[kept.URL]
        if url is not None and source not in results and source in by_source:
            urls.setdefault(source, url)
    lookup = OldSite(site, KnownPosts.of(urls.items()))

    alone = sum(1 for source in urls if source in results)
    again = [s for s in urls if s in digests]
    again += [
        source
        for source, row in rows.items()
        if row[kept.DEPENDS]  # it asked something of other files
        and source in by_source
        and source not in digests
        and source not in results
        and not still_true(kept.depends_of(row), lookup)
    ]
    work = [(source, by_source[source].path, urls[source]) for source in again]
    for item in _each(partial(_lint, config, lookup), work, PARALLEL_RENDER_FROM):
        results[item.source] = item.seen
        if item.url is not None:  # read and linted (not gone meanwhile)
            source = item.source
            digest, stat = digests.get(source) or (
                rows[source][kept.DIGEST],
                by_source[source].stat,
            )
            saved.append(kept.row_of(stat, digest, item))

    keeper.keep(saved)
    keeper.forget([source for source in rows if source not in by_source] + unopened)
    read = alone + len(again) + unreadable - len(unopened)
    return PostsChecked(combine(_seen(files, results, rows)), len(files) - len(unopened), read)


_ROWS_AT_ONCE = 2000  # kept rows stored together while the workers read


def _seen(
    files: list[Entry], results: dict[str, Seen], rows: dict[str, kept.Kept]
) -> Iterator[Seen]:
    """Each file as read now or as kept, in the order of the files."""
    for entry in files:
        source = entry.relative
        found = results.get(source)
        if found is not None:
            yield found
        else:
            row = rows[source]
            yield (
                source,
                row[kept.IDENTITY],
                row[kept.LINE],
                kept.findings_of(row) if row[kept.FINDINGS] else (),
            )


def _each(worker: Callable[[T], R], items: list[T], parallel_from: int) -> Iterator[R]:
    """worker(item) for each item, on every core when there are many, as each is
    done (in any order)."""
    if len(items) < parallel_from or (os.cpu_count() or 1) < 2:
        return map(worker, items)
    return in_parallel(worker, items)


def _in_order_of(sources: list[str], arriving: Iterator[tuple[str, Head]]) -> Iterator[Head]:
    """Each source's head in the order of `sources`, as soon as it has arrived, so
    the files are gone through while the workers still read (the heads arrive about
    in that order: only the early ones wait)."""
    early: dict[str, Head] = {}
    for source in sources:
        while source not in early:
            key, head = next(arriving)
            early[key] = head
        yield early.pop(source)
    for _ in arriving:  # none is left: meeting the end closes the workers' pool
        pass


# What a changed file's first reading sends back: the hash of its bytes, its URL or
# why its header cannot be read, its check when it needs no other file's URL
# (identity, line, findings, the check as its row keeps it: `kept.encoded`, made
# here, on every core), and its stat line when the walk did not stat it ("" when it
# did). Plain values: 10,000s cross between processes.
Head = tuple[str, str | Finding, tuple[Any, ...] | None, str]


def _head(config: Config, includes: Lookup, item: tuple[Entry, str]) -> tuple[str, Head]:
    """A changed file, by its source; the hash is "" when the file cannot be opened.
    One whose hash is the kept one (only touched) is not checked again."""
    entry, kept_digest = item
    source = entry.relative
    try:
        if entry.stat:
            raw, looked = read_whole(entry.path), ""
        else:
            raw, stat = read_and_stat(entry.path)
            looked = stat_line(source, stat.st_size, stat.st_mtime_ns)
    except OSError as exc:
        finding = Finding("unreadable", source, f"cannot be read: {exc.strerror}", severity="error")
        return source, ("", finding, None, "")
    if kept_digest:
        digest = _digest(raw)
        if digest == kept_digest:
            return source, (digest, header_url(source, raw, config, includes), None, looked)
    header, found = check_alone(source, raw, config, includes)
    if isinstance(header, Finding):
        return source, (_digest(raw), header, None, looked)
    done = (
        None
        if found is None
        else (found.identity, found.id_line, found.findings, kept.encoded(found))
    )
    return source, (header.content_hash[:DIGEST_LENGTH], header.url, done, looked)  # same hash


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:DIGEST_LENGTH]


def _lint(config: Config, lookup: Lookup, item: tuple[str, str, str]) -> Checked:
    source, path, url = item
    try:
        raw = read_whole(path)
    except OSError as exc:
        finding = Finding("unreadable", source, f"cannot be read: {exc.strerror}", severity="error")
        return Checked(source, None, None, (finding,))
    return check_post(source, raw, url, config, lookup)
