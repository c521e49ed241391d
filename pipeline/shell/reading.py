"""Shell: post files -> headers (for the index) and rendered posts, on every core.

The only place post files are opened during a build. Many files are read, or many
posts rendered, in forked worker processes (nothing to re-import), each handed its
configuration with the work, not through a global. A build keeps its workers from
reading to rendering (`Workers`), so they are forked once, while it is small.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pipeline.core.entry import Entry
from pipeline.core.errors import PostError
from pipeline.core.model import Header, Post
from pipeline.core.posts.read import outline, read_header, read_post
from pipeline.core.posts.templating.lookup import Lookup, NoLookup, still_true
from pipeline.core.settings import Config
from pipeline.shell.files import read_limited
from pipeline.store import rendered as cache
from pipeline.store.postindex import Row, row_for

Progress = Callable[[Iterable[Entry], int], Iterable[Entry]]  # (files, how many)
T = TypeVar("T")
R = TypeVar("R")

PARALLEL_FROM = 1500  # files to read before a second process pays for itself
PARALLEL_RENDER_FROM = 40  # posts to render before it does
# Feeds to write before a second process pays for itself: a fork of the main process
# (80 MB at 10,000 posts) and the feeds sent back cost 0.1 s of CPU and 30 ms; a feed
# of 20 full entries takes 8 ms to write. Eleven feeds: 0.085 s alone, 0.08-0.12 s
# on both cores.
PARALLEL_FEEDS_FROM = 24


def read_row(entry: Entry, config: Config, includes: Lookup | None = None) -> Row | PostError:
    """A file's header as an index row, or why it cannot be read (`includes` answers
    for the include files its template syntax names)."""
    source = entry.relative
    try:
        raw = read_limited(entry.path, source, config.build.max_post_bytes)  # no Path: 3 us
        header = read_header(source, raw, config, includes)
    except PostError as error:
        return error
    except OSError as exc:
        return PostError(source, f"cannot be read: {exc.strerror}")
    return row_for(entry.stat, header)


def _row_as_values(
    config: Config, includes: Lookup | None, entry: Entry
) -> tuple[str, bool, tuple[Any, ...]]:
    """In a worker: (file, read?, the header's row or the error as a plain tuple).
    A row is plain strings and numbers: cheaper to send back than a pickled Header
    with its datetimes and time zones, and a tuple half the cost of a NamedTuple."""
    outcome = read_row(entry, config, includes)
    if isinstance(outcome, PostError):
        return entry.relative, False, (outcome.source, outcome.message, outcome.hint, outcome.line)
    return entry.relative, True, tuple(outcome)


def read_rows(
    stale: list[Entry],
    config: Config,
    progress: Progress | None = None,
    includes: Lookup | None = None,
    workers: Workers | None = None,
) -> Iterator[tuple[Entry, Row | PostError]]:
    """Each file's header as an index row, or why it cannot be read, as they are
    read (on every core when there are many: the `workers`, if given)."""
    if len(stale) < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        for entry in progress(stale, len(stale)) if progress else stale:
            yield entry, read_row(entry, config, includes)
        return
    by_source = {entry.relative: entry for entry in stale}
    outcomes: dict[str, Row | PostError] = {}

    def arriving() -> Iterator[Entry]:
        worker = partial(_row_as_values, config, includes)
        results = workers.run(worker, stale) if workers else in_parallel(worker, stale)
        for source, read, values in results:
            outcomes[source] = Row(*values) if read else PostError(*values)
            yield by_source[source]

    # The cyclic collector is off for the whole build (`run_build`), workers too.
    for entry in progress(arriving(), len(stale)) if progress else arriving():
        yield entry, outcomes.pop(entry.relative)


class Workers:
    """Worker processes kept for a whole build: forked at its first parallel job,
    while the main process is small (reading), and reused for the next (rendering):
    a second fork of a large process and its copied pages cost more than the work.
    Each job's worker goes with every batch of items, so it must be small to pickle
    (paths and the configuration: a few KB)."""

    def __init__(self) -> None:
        self._pool: Any = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def run(self, worker: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """worker(item) for every item, on every core, as the results arrive."""
        if self._pool is None:
            self._pool = multiprocessing.get_context("fork").Pool(_processes())
        return self._pool.imap_unordered(worker, items, chunksize=_batch(items))  # type: ignore[no-any-return]


def _processes() -> int:
    return max(2, min(os.cpu_count() or 1, 4))


def _batch(items: Sequence[Any], batches: int = 40) -> int:
    return max(1, len(items) // batches)


def in_parallel(worker: Callable[[T], R], items: list[T]) -> Iterator[R]:
    """worker(item) for every item on every core (forked: nothing to re-import), as
    the results arrive. The worker (with its configuration and lookup) and the items
    reach each process once, by the fork: only the items' numbers are sent (pickling
    100,000 files' entries cost the main process 0.3 s, their pipes more)."""
    context = multiprocessing.get_context("fork")
    with context.Pool(_processes(), initializer=_hold, initargs=(worker, items)) as pool:
        # Numbers cost nothing to send: small batches, so the workers end together.
        numbers = range(len(items))
        yield from pool.imap_unordered(_run, numbers, chunksize=_batch(items, 160))


def in_order(worker: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """worker(item) for every item, in the items' order: on every core when there
    are enough of them (the feeds of a first build: each written in its own process,
    the rendered posts reaching it by the fork)."""
    if len(items) < PARALLEL_FEEDS_FROM or (os.cpu_count() or 1) < 2:
        return [worker(item) for item in items]
    numbered = list(enumerate(items))
    done = dict(in_parallel(partial(_numbered, worker), numbered))
    return [done[number] for number in range(len(items))]


def _numbered(worker: Callable[[T], R], item: tuple[int, T]) -> tuple[int, R]:
    return item[0], worker(item[1])


_held: tuple[Callable[[Any], Any], Sequence[Any]] | None = None  # a worker process's


def _hold(worker: Callable[[Any], Any], items: Sequence[Any]) -> None:
    global _held  # noqa: PLW0603 (one per worker process, set as it starts)
    _held = worker, items


def _run(number: int) -> Any:
    assert _held is not None  # noqa: S101 (set by the pool's initializer)
    worker, items = _held
    return worker(items[number])


def render_one(content_dir: Path, config: Config, lookup: Lookup, header: Header) -> Post:
    try:
        raw = (content_dir / header.source).read_bytes()
        post = read_post(header.source, raw, config, lookup)
    except (PostError, OSError):
        # A post kept in the feeds as it last was, whose rendering is no longer cached
        # (the file cannot be read now; its reading error is reported).
        return outline(header)
    if post.content_hash != header.content_hash:  # the file changed while we built
        post = replace(post, header=replace(post.header, content_hash=header.content_hash))
    return post


def render_posts(
    headers: Iterable[Header],
    config: Config,
    content_dir: Path,
    cache_path: Path,
    lookup: Lookup | None = None,
    workers: Workers | None = None,
) -> dict[str, Post]:
    """The rendered posts of these headers by identity: from the cache by content
    hash (while what its links named is unchanged), else read and rendered now (the
    only place bodies are parsed; by the `workers` when given and there are many).
    `lookup` answers for the posts links name."""
    lookup = lookup or NoLookup()
    wanted = {header.identity: header for header in headers}
    key = cache.cache_key(config)
    cached = cache.load_rendered(cache_path, key, {h.content_hash for h in wanted.values()})
    result: dict[str, Post] = {}
    missing: list[Header] = []
    for identity, header in wanted.items():
        post = cached.get(header.content_hash)
        if post is None or post.source != header.source or not still_true(post.depends, lookup):
            missing.append(header)
        else:
            result[identity] = post
    render = partial(render_one, content_dir, config, lookup)
    if len(missing) >= PARALLEL_RENDER_FROM and (os.cpu_count() or 1) >= 2:
        for post in workers.run(render, missing) if workers else in_parallel(render, missing):
            result[post.identity] = post
    for header in missing:
        if header.identity not in result:
            result[header.identity] = render(header)
    return result
