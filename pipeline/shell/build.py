"""Shell: the one function that runs a build's steps in order.

Gather (posts, ledger snapshot, emails already on disk), decide (pure), render
(pure), then apply: write out/, and only then commit the ledger.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.core.dates import rfc3339
from pipeline.core.decide import Policy, decide, newest_first
from pipeline.core.emails import EMAIL_FOLDER, plan_emails, render_email
from pipeline.core.errors import OutputError, PostError
from pipeline.core.feeds import render_feed_sets
from pipeline.core.feedsets import FeedSet, feed_sets
from pipeline.core.model import Changes, LedgerSnapshot, OutputFile, Post
from pipeline.core.posts.read import read_header, read_post
from pipeline.core.report import BuildReport
from pipeline.shell import quick as fastpath
from pipeline.shell.files import remove_stale_temporaries, stylesheet, write_files
from pipeline.shell.lock import exclusive
from pipeline.shell.quick import Entry
from pipeline.shell.site import Site
from pipeline.shell.templates import load_templates
from pipeline.store import ledger, postindex
from pipeline.store import rendered as postcache
from pipeline.store.rendered import from_json

logger = logging.getLogger(__name__)

POST_SUFFIXES = (".md", ".markdown")

Progress = Callable[[Iterable[Entry], int], Iterable[Entry]]  # (files, how many)


@dataclass(frozen=True)
class BuildOptions:
    now: datetime
    since: datetime | None = None
    dry_run: bool = False
    full_scan: bool = False  # re-read every file, trusting no size or modification time
    content_scan: fastpath.ContentScan | None = None  # content/ as already scanned, if it was


def find_posts(content_dir: Path, entries: list[Entry] | None = None) -> list[Entry]:
    """Post files under content/, sorted; hidden folders and symlinks leaving it skipped."""
    root = os.path.realpath(content_dir)
    found = []
    for entry in fastpath.scan(content_dir) if entries is None else entries:
        relative = entry.relative
        if not relative.lower().endswith(POST_SUFFIXES):
            continue
        if relative.startswith((".", "_")) or "/." in relative or "/_" in relative:
            *folders, name = relative.split("/")  # the rare case, checked exactly
            if any(part.startswith((".", "_")) for part in folders) or name.startswith("."):
                continue
        if entry.symlink and os.path.commonpath([root, os.path.realpath(entry.path)]) != root:
            logger.warning("%s: a symlink to outside content/; skipped", entry.path)
            continue
        found.append(entry)
    return found


@dataclass
class Gathered:
    """What a build decides from: the candidate posts (every post, unless `steady`
    stands for the rest), the ledger entries they need, and what changed on disk."""

    posts: list[Post]  # sorted by file, duplicates rejected
    snapshot: LedgerSnapshot
    unreadable: set[str]
    previous: dict[str, Post]  # the former headers of re-read, gone or unreadable files
    complete: bool  # `previous` is known for every changed file
    steady: postindex.Steady | None = None  # the other posts: published, unchanged, recorded
    index: postindex.PostIndex | None = None
    candidates: set[str] | None = None  # the files decided on, when not every file


def gather(
    site: Site,
    options: BuildOptions,
    entries: list[Entry],
    index: postindex.PostIndex | None,
    report: BuildReport,
    progress: Progress | None = None,
) -> Gathered:
    """Read what changed, update the index, and pick the posts to decide on.

    A file whose size and modification time match the index is not opened (unless
    --full-scan); its front-matter timestamps, kept in the index, still decide. A
    cron run then decides only the candidates (posts that differ from the ledger,
    are not published yet, or share an identity); a first build, a dry run or a
    full scan decides every post."""
    files = find_posts(site.content_dir, entries)
    stats = index.stats() if index is not None else set()
    stale, replaced, gone = _changed_files(files, stats, options.full_scan)
    complete = index is not None and index.complete and not options.full_scan
    previous = index.headers([*replaced, *gone]) if index is not None and complete else {}
    head = ledger.read_snapshot(site.state_path, only=())
    rows, errors = _read_into_index(stale, gone, replaced, index, site, progress)
    unreadable = {error.source for error in errors}
    fresh = {source: row.post for source, row in rows.items()}
    steady = None
    chosen: set[str] | None = None
    if index is not None and index.writable and not options.full_scan and not head.first_build:
        chosen, vanished = index.candidates(
            site.state_path,
            options.now,
            head.meta.get("build_token", ""),
            changed=rows.keys(),
        )
        headers = {s: fresh[s] for s in chosen if s in fresh}
        headers.update(index.headers(chosen - headers.keys()))
        identities = {post.identity for post in headers.values()} | vanished
        snapshot = ledger.read_snapshot(site.state_path, only=identities)
        steady = index.steady(chosen)
        warned = index.headers(steady.warned())
    else:  # every post: the unchanged from the index, the rest as just read
        valid = [e.relative for e in files if e.relative not in rows and e.stat in stats]
        headers = {**(index.headers(valid) if index is not None else {}), **fresh}
        snapshot = ledger.read_snapshot(site.state_path)
        warned = {}
    posts = _unique(headers, errors, report)
    for source in sorted(headers.keys() | warned.keys()):  # header warnings, by file
        post = headers.get(source) or warned[source]
        report.warnings.extend(post.warnings)
    # A post whose file cannot be read this time is not "removed": keep it.
    kept = {i: e for i, e in snapshot.entries.items() if e.source not in unreadable}
    snapshot = replace(snapshot, entries=kept)
    return Gathered(posts, snapshot, unreadable, previous, complete, steady, index, chosen)


def _changed_files(
    files: list[Entry], stats: set[str], full_scan: bool
) -> tuple[list[Entry], list[str], set[str]]:
    """(the files to read: not in the index as they are now, or all with --full-scan;
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
    index: postindex.PostIndex | None,
    site: Site,
    progress: Progress | None,
) -> tuple[dict[str, postindex.Row], list[PostError]]:
    """Read the stale files; the index stores each header as it arrives (while the
    other cores read on) and forgets the gone files. Returns (rows, errors)."""
    rows: dict[str, postindex.Row] = {}
    errors: list[PostError] = []

    def read() -> Iterator[tuple[str, postindex.Row]]:
        for entry, outcome in _read_stale(stale, site, progress):
            if isinstance(outcome, PostError):
                errors.append(outcome)
            else:
                rows[entry.relative] = outcome
                yield entry.relative, outcome

    if index is not None:
        index.update(read(), gone, replaced)
    else:
        for _ in read():
            pass
    return rows, errors


def _unique(headers: dict[str, Post], errors: list[PostError], report: BuildReport) -> list[Post]:
    """The posts in file order; a second file with an identity already taken is
    rejected, naming the first."""
    rejected = {error.source: error for error in errors}
    by_identity: dict[str, Post] = {}
    posts = []
    for source in sorted(headers):
        post = headers[source]
        first = by_identity.get(post.identity)
        if first is not None:
            rejected[source] = PostError(
                source,
                f"has the same identity {post.identity!r} as {first.source}",
                "give one of them its own id (or url/slug) in the front matter",
            )
            continue
        by_identity[post.identity] = post
        posts.append(post)
    report.rejected.extend(rejected[source] for source in sorted(rejected))
    return posts


def _read_stale(
    stale: list[Entry], site: Site, progress: Progress | None
) -> Iterator[tuple[Entry, postindex.Row | PostError]]:
    """Each of these files' header as an index row, or why it cannot be read, as
    they are read (on every core when there are many)."""
    if len(stale) < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        for entry in progress(stale, len(stale)) if progress else stale:
            yield entry, _read_row(entry, site)
        return
    by_source = {entry.relative: entry for entry in stale}
    outcomes: dict[str, str | tuple[str, str, str, int | None]] = {}

    def arriving() -> Iterator[Entry]:
        for source, outcome in _in_parallel(_worker_read, stale, site):
            outcomes[source] = outcome
            yield by_source[source]

    for entry in progress(arriving(), len(stale)) if progress else arriving():
        outcome = outcomes.pop(entry.relative)
        if isinstance(outcome, str):
            yield entry, postindex.Row(entry.stat, from_json(outcome), outcome)
        else:
            yield entry, PostError(*outcome)


PARALLEL_FROM = 1500  # files to read before a second process pays for itself
PARALLEL_RENDER_FROM = 40  # posts to render before it does


def _read_row(entry: Entry, site: Site) -> postindex.Row | PostError:
    source = entry.relative
    try:
        raw = _read_limited(Path(entry.path), source, site.config.build.max_post_bytes)
        post = read_header(source, raw, site.config)
    except PostError as error:
        return error
    except OSError as exc:
        return PostError(source, f"cannot be read: {exc.strerror}")
    return postindex.row_for(entry.stat, post)


_WORKER_CONFIG: Site | None = None


def _worker_start(site: Site) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = site


def _worker_read(entry: Entry) -> tuple[str, str | tuple[str, str, str, int | None]]:
    """A header as its JSON text (cheaper to send back than a pickled Post with its
    datetimes and time zones), or an error as plain values."""
    assert _WORKER_CONFIG is not None  # set by _worker_start  # noqa: S101
    outcome = _read_row(entry, _WORKER_CONFIG)
    if isinstance(outcome, PostError):
        return entry.relative, (outcome.source, outcome.message, outcome.hint, outcome.line)
    return entry.relative, outcome.text


def _in_parallel(worker: Callable[[Any], Any], items: list[Any], site: Site) -> Iterator[Any]:
    """worker(item) for every item on every core (forked: nothing to re-import), as
    the results arrive."""
    import multiprocessing

    processes = max(2, min(os.cpu_count() or 1, 4))
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, initializer=_worker_start, initargs=(site,)) as pool:
        yield from pool.imap_unordered(worker, items, chunksize=max(1, len(items) // 40))


def _worker_render(header: Post) -> Post:
    assert _WORKER_CONFIG is not None  # set by _worker_start  # noqa: S101
    return _render_one(header, _WORKER_CONFIG)


def _render_one(header: Post, site: Site) -> Post:
    post = read_post(header.source, (site.content_dir / header.source).read_bytes(), site.config)
    if post.content_hash != header.content_hash:  # the file changed while we built
        post = replace(post, content_hash=header.content_hash)
    return post


def render_posts(posts: Iterable[Post], site: Site) -> dict[str, Post]:
    """Rendered versions of these posts by identity: from the cache by content hash,
    else read and rendered now (the only place bodies are parsed)."""
    wanted = {post.identity: post for post in posts if not post.rendered}
    cached = postcache.load_rendered(
        site.cache_path, postcache.cache_key(site.config), {p.content_hash for p in wanted.values()}
    )
    result: dict[str, Post] = {}
    missing: list[Post] = []
    for identity, header in wanted.items():
        post = cached.get(header.content_hash)
        if post is None or post.source != header.source:
            missing.append(header)
        else:
            result[identity] = post
    if len(missing) >= PARALLEL_RENDER_FROM and (os.cpu_count() or 1) >= 2:
        for post in _in_parallel(_worker_render, missing, site):
            result[post.identity] = post
    for header in missing:
        if header.identity not in result:
            result[header.identity] = _render_one(header, site)
    return result


Touched = Callable[[FeedSet], bool]
Names = dict[str, set[str]]


def _feed_posts(
    changes: Changes, gathered: Gathered, touched: Touched | None, site: Site
) -> tuple[tuple[Post, ...], Names | None]:
    """The live posts the written feeds need, newest first, and (on a cron run) every
    category and tag name of the live posts. A cron run holds only the candidates:
    the steady posts are asked of the index, each written feed's newest."""
    steady = gathered.steady
    if steady is None:
        return changes.live, None
    names = steady.names()
    for post in changes.live:
        names["category"].update(post.categories)
        names["tag"].update(post.tags)
    limit = site.config.feed.limit
    wanted = steady.newest("", (), limit)
    for feed in feed_sets(changes.live, site.config, names)[1:]:
        if touched is None or touched(feed):
            wanted += steady.newest(feed.kind, feed.names, limit)
    index = gathered.index
    extra = tuple(index.headers(set(wanted)).values()) if index is not None else ()
    return newest_first(changes.live + extra), names


def _written(sets: list[FeedSet], touched: Touched | None) -> list[FeedSet]:
    """The feeds this build writes: the main ones, and the touched category and tag
    feeds (all of them when `touched` is None)."""
    return [feed for feed in sets if not feed.kind or touched is None or touched(feed)]


def _needed(changes: Changes, written: list[FeedSet], site: Site) -> list[Post]:
    """The posts the outputs show: the written feeds' entries, the emails' posts."""
    needed = {p.identity: p for p in changes.new + changes.modified}
    for feed in written:
        for post in feed.posts[: site.config.feed.limit]:
            needed[post.identity] = post
    return list(needed.values())


def _touched(changes: Changes, gathered: Gathered, site: Site) -> Touched | None:
    """Which category and tag feeds this build must write: those a changed post is in,
    or was in before the change, or whose files are missing. None: every feed (the
    configuration or the code changed, or what a changed post was is unknown)."""
    snapshot = gathered.snapshot
    if not gathered.complete or snapshot.meta.get("feeds_key") != postcache.cache_key(site.config):
        return None
    names: set[tuple[str, str]] = set()

    def add(post: Post) -> None:
        names.update(("category", name) for name in post.categories)
        names.update(("tag", name) for name in post.tags)

    changed = changes.new + changes.modified + changes.edited_quietly + changes.recorded_only
    for post in changed + changes.held:  # a held post is in the feeds as it is now
        add(post)
    for post in gathered.previous.values():  # what a re-read or gone file was before
        add(post)
    by_source = {post.source: post for post in gathered.posts}
    for identity in changes.removed:
        entry = snapshot.entries.get(identity)
        if entry is None:
            return None
        old = gathered.previous.get(entry.source) or by_source.get(entry.source)
        if old is None:
            return None
        add(old)

    def touched(feed: FeedSet) -> bool:
        if any((feed.kind, name) in names for name in feed.names):
            return True
        return not all((site.out_dir / feed.path(n)).is_file() for n in ("feed.xml", "atom.xml"))

    return touched


def _next_due(changes: Changes, site: Site) -> str:
    """When time alone will change the outcome: a scheduled post's time, or the end
    of a held post's settle window ("" when nothing waits)."""
    from datetime import timedelta

    settle = timedelta(minutes=site.config.build.settle_minutes)
    moments = [p.published for p in changes.scheduled] + [p.modified + settle for p in changes.held]
    return rfc3339(min(moments)) if moments else ""


def _swap(posts: tuple[Post, ...], rendered: dict[str, Post]) -> tuple[Post, ...]:
    return tuple(rendered.get(post.identity, post) for post in posts)


def _with_rendered(changes: Changes, rendered: dict[str, Post]) -> Changes:
    return replace(
        changes,
        live=_swap(changes.live, rendered),
        new=_swap(changes.new, rendered),
        modified=_swap(changes.modified, rendered),
    )


@dataclass(frozen=True)
class WrittenEmail:
    """A complete email found on disk (its manifest is written last)."""

    email_id: str
    subject: str
    posts: tuple[tuple[str, datetime], ...]  # (identity, modified_at it carries)


def _read_limited(path: Path, source: str, limit: int) -> bytes:
    """The file's bytes, or a PostError when it is larger than the limit. One read
    sized by fstat: a read(limit) allocates the whole limit, per file."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        chunks = []
        total = 0
        want = min(size, limit) + 1
        while total <= limit:
            chunk = os.read(fd, max(want - total, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise PostError(
            source,
            f"is {max(size, total) / 1_000_000:.1f} MB, over the {limit / 1_000_000:.1f} MB limit",
            "split it, or raise [build] max_post_bytes in newsletter.toml",
        )
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def unrecorded_emails(out_dir: Path, known: frozenset[str]) -> Iterator[WrittenEmail]:
    """Complete emails on disk that the ledger does not know: written by a build that
    was killed before its commit."""
    folder = out_dir / EMAIL_FOLDER
    if not folder.is_dir():
        return
    for manifest in sorted(folder.glob("*/manifest.json")):
        if manifest.parent.name in known:
            continue
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            posts = tuple(
                (str(item["identity"]), datetime.fromisoformat(item["modified_at"]))
                for item in data["posts"]
            )
            if data["email_id"] != manifest.parent.name:
                raise ValueError("email_id does not match its folder")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: not a manifest this version wrote (%s); ignored", manifest, exc)
            continue
        yield WrittenEmail(manifest.parent.name, str(data.get("subject", "")), posts)


def run_build(site: Site, options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Run one build; the lock is held from reading the ledger to committing it."""
    if options.dry_run:
        return _build(site, options, progress)
    with exclusive(site.state_path.with_name(site.state_path.name + ".lock")):
        return _build(site, options, progress)


def _build(site: Site, options: BuildOptions, progress: Progress | None) -> BuildReport:
    # One walk of content/ gives the posts and the fingerprint (the CLI's is reused).
    content = options.content_scan or fastpath.scan_content(site)
    index = postindex.open_index(
        site.cache_path,
        postcache.cache_key(site.config),
        postindex.kinds_of(site.config),
        writable=not options.dry_run,
    )
    try:
        try:
            return _build_with(site, options, progress, content, index)
        except postindex.IndexFailure as failure:
            logger.warning("%s: cache unusable (%s); reading every post", failure.path, failure)
        return _build_with(site, options, progress, content, None)
    finally:
        if index is not None:
            index.close()


def _build_with(
    site: Site,
    options: BuildOptions,
    progress: Progress | None,
    content: fastpath.ContentScan,
    index: postindex.PostIndex | None,
) -> BuildReport:
    report = BuildReport(dry_run=options.dry_run)
    gathered = gather(site, options, list(content.entries), index, report, progress)
    report.posts = gathered.posts
    snapshot = gathered.snapshot
    adopted = list(unrecorded_emails(site.out_dir, snapshot.email_ids))
    already = {identity: modified for email in adopted for identity, modified in email.posts}
    policy = Policy(
        since=options.since,
        max_age_days=site.config.email.max_age_days,
        settle_minutes=site.config.build.settle_minutes,
    )
    changes = decide(gathered.posts, snapshot, options.now, policy, already)
    touched = _touched(changes, gathered, site)
    live, names = _feed_posts(changes, gathered, touched, site)
    report.in_feeds = len(changes.live) + (gathered.steady.count() if gathered.steady else 0)
    sets = feed_sets(live, site.config, names)  # once: the index lists every feed
    rendered = render_posts(_needed(changes, _written(sets, touched), site), site)
    headers = {post.identity: post for post in (*gathered.posts, *live)}
    for post in rendered.values():  # what only the body shows (header warnings are in)
        report.warnings.extend(w for w in post.warnings if w not in headers[post.identity].warnings)
    changes = _with_rendered(changes, rendered)
    report.changes = changes

    limit = site.config.feed.limit
    files = render_feed_sets(
        [replace(feed, posts=_swap(feed.posts[:limit], rendered)) for feed in sets],
        site.config,
        stylesheet(site.config),
        touched,
    )
    if site.config.email.enabled:
        templates = load_templates(site.template_dir)
        for new, updated in plan_emails(changes.new, changes.modified, site.config):
            email = render_email(new, updated, site.config, templates)
            report.emails.append(email)
            files.extend(
                OutputFile(f"{EMAIL_FOLDER}/{email.email_id}/{name}", data)
                for name, data in email.files.items()
            )
    for written in adopted:
        report.adopted.append(written.email_id)
        report.warnings.append(
            f"email {written.email_id} was written by an interrupted build; recorded it as "
            "written, so its posts are not emailed again"
        )
    if options.dry_run:
        return report
    postcache.save(site.cache_path, postcache.cache_key(site.config), rendered.values())
    remove_stale_temporaries(site.out_dir)
    report.written, unchanged = write_files(site.out_dir, files)
    report.unchanged = len(unchanged)
    records = [
        ledger.EmailRecord(
            e.email_id, e.subject, f"{EMAIL_FOLDER}/{e.email_id}/", e.new + e.updated
        )
        for e in report.emails
    ] + [
        ledger.EmailRecord(
            w.email_id, w.subject, f"{EMAIL_FOLDER}/{w.email_id}/", tuple(i for i, _ in w.posts)
        )
        for w in adopted
    ]
    summary = report.summary()
    summary.pop("files_written")
    clean = not report.rejected and not adopted
    meta = {
        # Compared by the next build's nothing-changed exit; only a clean build may skip.
        "fingerprint": fastpath.fingerprint(site, content.inputs) if clean else "",
        "next_due": _next_due(changes, site),
        "feeds_key": postcache.cache_key(site.config),
        # Which ledger the post index last agreed with (see postindex.candidates).
        "build_token": uuid.uuid4().hex,
    }
    try:
        ledger.commit(site.state_path, changes, records, options.now, summary, meta)
    except OSError as exc:
        raise OutputError(
            f"cannot record this build in {site.state_path}: {exc.strerror or exc}",
            "out/ is complete; fix the ledger's folder and run the build again: it "
            "rewrites the same files and the same email, and emails nothing twice",
        ) from None
    if index is not None:
        index.recorded(site.state_path, meta["build_token"], options.now, gathered.candidates)
    return report
