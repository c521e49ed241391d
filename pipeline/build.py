"""Shell: the one function that runs a build's steps in order.

Gather (posts, ledger snapshot, emails already on disk), decide (pure), render
(pure), then apply: write out/, and only then commit the ledger.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline import fastpath, ledger, postcache
from pipeline.changes import Policy, decide
from pipeline.config import Config
from pipeline.content import read_header, read_post
from pipeline.dates import rfc3339
from pipeline.emails import Templates, plan_emails, render_email
from pipeline.errors import OutputError, PostError
from pipeline.fastpath import Entry
from pipeline.feeds import render_feeds
from pipeline.feedsets import FeedSet
from pipeline.lock import exclusive
from pipeline.model import Changes, Email, LedgerSnapshot, OutputFile, Post
from pipeline.output import remove_stale_temporaries, write_files

logger = logging.getLogger(__name__)

POST_SUFFIXES = (".md", ".markdown")
EMAIL_FOLDER = "email"

Progress = Callable[[list[Entry]], Iterable[Entry]]


@dataclass(frozen=True)
class BuildOptions:
    now: datetime
    since: datetime | None = None
    dry_run: bool = False
    full_scan: bool = False  # re-read every file, trusting no size or modification time
    content_scan: tuple[Entry, ...] | None = None  # content/ as already scanned, if it was


@dataclass
class BuildReport:
    """What a build did, for people (log lines) and machines (--json)."""

    changes: Changes | None = None
    posts: list[Post] = field(default_factory=list)  # every post read, published or not
    rejected: list[PostError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    emails: list[Email] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0

    def summary(self) -> dict[str, object]:
        changes = self.changes

        def ids(posts: Iterable[Post]) -> list[str]:
            return [post.identity for post in posts]

        return {
            "dry_run": self.dry_run,
            "first_build": changes.first_build if changes else None,
            "new": ids(changes.new) if changes else [],
            "modified": ids(changes.modified) if changes else [],
            "recorded_only": ids(changes.recorded_only) if changes else [],
            "edited_quietly": ids(changes.edited_quietly) if changes else [],
            "removed": list(changes.removed) if changes else [],
            "scheduled": [
                {"identity": p.identity, "published_at": rfc3339(p.published)}
                for p in (changes.scheduled if changes else ())
            ],
            "held": ids(changes.held) if changes else [],
            "in_feeds": len(changes.live) if changes else 0,
            "emails": [
                {
                    "email_id": email.email_id,
                    "folder": f"{EMAIL_FOLDER}/{email.email_id}/",
                    "subject": email.subject,
                    "new": list(email.new),
                    "updated": list(email.updated),
                }
                for email in self.emails
            ],
            "adopted_emails": self.adopted,
            "files_written": self.written,
            "files_unchanged": self.unchanged,
            "rejected": [
                {"file": e.source, "line": e.line, "message": e.message, "hint": e.hint}
                for e in self.rejected
            ],
            "warnings": self.warnings,
        }


def find_posts(content_dir: Path, entries: list[Entry] | None = None) -> list[Entry]:
    """Post files under content/, sorted; hidden folders and symlinks leaving it skipped."""
    root = os.path.realpath(content_dir)
    found = []
    for entry in fastpath.scan(content_dir) if entries is None else entries:
        *folders, name = entry.relative.split("/")
        if any(part.startswith((".", "_")) for part in folders) or name.startswith("."):
            continue
        if not name.lower().endswith(POST_SUFFIXES):
            continue
        if entry.symlink and os.path.commonpath([root, os.path.realpath(entry.path)]) != root:
            logger.warning("%s: a symlink to outside content/; skipped", entry.path)
            continue
        found.append(entry)
    return found


def read_posts(
    config: Config,
    report: BuildReport,
    progress: Progress | None = None,
    full_scan: bool = False,
    entries: list[Entry] | None = None,
) -> tuple[
    list[Post], set[str], dict[str, postcache.CachedHeader], dict[str, postcache.CachedHeader]
]:
    """Every readable post's header; the rest reported.

    A file whose size and modification time match the cache is not opened (unless
    `full_scan`); its front-matter timestamps still decide what is new or modified.
    Returns (headers, unreadable sources, cache entries to store, the cache as it was).
    """
    files = find_posts(config.content_dir, entries)
    cached = {} if full_scan else postcache.load_headers(config)
    fresh: dict[str, postcache.CachedHeader] = {}
    posts: list[Post] = []
    by_identity: dict[str, Post] = {}
    unreadable: set[str] = set()
    stale = [e for e in files if _cached(cached, e) is None]
    read = _read_all(stale, config) if len(stale) >= PARALLEL_FROM else {}
    for entry in progress(files) if progress else files:
        source = entry.relative
        post = _cached(cached, entry)
        if post is None:
            outcome = read.get(source) or _read_one(entry, config)
            if isinstance(outcome, PostError):
                report.rejected.append(outcome)
                unreadable.add(source)
                continue
            post = outcome
            fresh[source] = postcache.CachedHeader(entry.size, entry.mtime_ns, post)
        first = by_identity.get(post.identity)
        if first is not None:
            report.rejected.append(
                PostError(
                    source,
                    f"has the same identity {post.identity!r} as {first.source}",
                    "give one of them its own id (or url/slug) in the front matter",
                )
            )
            continue
        by_identity[post.identity] = post
        report.warnings.extend(post.warnings)
        posts.append(post)
    return posts, unreadable, fresh, cached


PARALLEL_FROM = 1500  # files to read before a second process pays for itself
PARALLEL_RENDER_FROM = 40  # posts to render before it does


def _cached(cached: dict[str, postcache.CachedHeader], entry: Entry) -> Post | None:
    hit = cached.get(entry.relative)
    if hit is not None and (hit.size, hit.mtime_ns) == (entry.size, entry.mtime_ns):
        return hit.post
    return None


def _read_one(entry: Entry, config: Config) -> Post | PostError:
    source = entry.relative
    try:
        raw = _read_limited(Path(entry.path), source, config.max_post_bytes)
        return read_header(source, raw, config)
    except PostError as error:
        return error
    except OSError as exc:
        return PostError(source, f"cannot be read: {exc.strerror}")


_WORKER_CONFIG: Config | None = None


def _worker_start(config: Config) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = config


def _worker_read(entry: Entry) -> tuple[str, Post | tuple[str, str, str, int | None]]:
    assert _WORKER_CONFIG is not None  # set by _worker_start  # noqa: S101
    outcome = _read_one(entry, _WORKER_CONFIG)
    if isinstance(outcome, PostError):  # errors travel as plain values
        return entry.relative, (outcome.source, outcome.message, outcome.hint, outcome.line)
    return entry.relative, outcome


def _in_parallel(worker: Callable[[Any], Any], items: list[Any], config: Config) -> list[Any]:
    """worker(item) for every item on every core (forked: nothing to re-import); []
    when there is one core."""
    import multiprocessing

    processes = min(os.cpu_count() or 1, 4)
    if processes < 2:
        return []
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, initializer=_worker_start, initargs=(config,)) as pool:
        return list(pool.imap_unordered(worker, items, chunksize=max(1, len(items) // 40)))


def _read_all(entries: list[Entry], config: Config) -> dict[str, Post | PostError]:
    """Many headers read on every core (a cold build)."""
    return {
        source: outcome if isinstance(outcome, Post) else PostError(*outcome)
        for source, outcome in _in_parallel(_worker_read, entries, config)
    }


def _worker_render(header: Post) -> Post:
    assert _WORKER_CONFIG is not None  # set by _worker_start  # noqa: S101
    return _render_one(header, _WORKER_CONFIG)


def _render_one(header: Post, config: Config) -> Post:
    post = read_post(header.source, (config.content_dir / header.source).read_bytes(), config)
    if post.content_hash != header.content_hash:  # the file changed while we built
        post = replace(post, content_hash=header.content_hash)
    return post


def render_posts(posts: Iterable[Post], config: Config) -> dict[str, Post]:
    """Rendered versions of these posts by identity: from the cache by content hash,
    else read and rendered now (the only place bodies are parsed)."""
    wanted = {post.identity: post for post in posts if not post.rendered}
    cached = postcache.load_rendered(config, {p.content_hash for p in wanted.values()})
    result: dict[str, Post] = {}
    missing: list[Post] = []
    for identity, header in wanted.items():
        post = cached.get(header.content_hash)
        if post is None or post.source != header.source:
            missing.append(header)
        else:
            result[identity] = post
    if len(missing) >= PARALLEL_RENDER_FROM:
        for post in _in_parallel(_worker_render, missing, config):
            result[post.identity] = post
    for header in missing:
        if header.identity not in result:
            result[header.identity] = _render_one(header, config)
    return result


def _needed(changes: Changes, config: Config, touched: Touched | None) -> list[Post]:
    """The posts the outputs show: the written feeds' entries, the emails' posts."""
    from pipeline.feedsets import feed_sets

    needed = {p.identity: p for p in changes.new + changes.modified}
    for feed in feed_sets(changes.live, config):
        if feed.kind and touched is not None and not touched(feed):
            continue
        for post in feed.posts[: config.feed.limit]:
            needed[post.identity] = post
    return list(needed.values())


Touched = Callable[[FeedSet], bool]


def _touched(
    changes: Changes,
    snapshot: LedgerSnapshot,
    before: dict[str, postcache.CachedHeader],
    fresh: dict[str, postcache.CachedHeader],
    config: Config,
) -> Touched | None:
    """Which category and tag feeds this build must write: those a changed post is in,
    or was in before the change, or whose files are missing. None: every feed (the
    configuration or the code changed, or a removed post's categories are unknown)."""
    if snapshot.meta.get("feeds_key") != postcache.cache_key(config):
        return None
    names: set[tuple[str, str]] = set()

    def add(post: Post) -> None:
        names.update(("category", name) for name in post.categories)
        names.update(("tag", name) for name in post.tags)

    for post in changes.new + changes.modified + changes.edited_quietly + changes.recorded_only:
        add(post)
    for source in fresh:  # what a re-read post belonged to before
        if source in before:
            add(before[source].post)
    for identity in changes.removed:
        entry = snapshot.entries.get(identity)
        old = before.get(entry.source) if entry is not None else None
        if old is None:
            return None
        add(old.post)

    def touched(feed: FeedSet) -> bool:
        if any((feed.kind, name) in names for name in feed.names):
            return True
        return not all((config.out_dir / feed.path(n)).is_file() for n in ("feed.xml", "atom.xml"))

    return touched


def _next_due(changes: Changes, config: Config) -> str:
    """When time alone will change the outcome: a scheduled post's time, or the end
    of a held post's settle window ("" when nothing waits)."""
    from datetime import timedelta

    settle = timedelta(minutes=config.settle_minutes)
    moments = [p.published for p in changes.scheduled] + [p.modified + settle for p in changes.held]
    return rfc3339(min(moments)) if moments else ""


def _with_rendered(changes: Changes, rendered: dict[str, Post]) -> Changes:
    def swap(posts: tuple[Post, ...]) -> tuple[Post, ...]:
        return tuple(rendered.get(post.identity, post) for post in posts)

    return replace(
        changes,
        live=swap(changes.live),
        new=swap(changes.new),
        modified=swap(changes.modified),
    )


@dataclass(frozen=True)
class WrittenEmail:
    """A complete email found on disk (its manifest is written last)."""

    email_id: str
    subject: str
    posts: tuple[tuple[str, datetime], ...]  # (identity, modified_at it carries)


def _read_limited(path: Path, source: str, limit: int) -> bytes:
    """The file's bytes, or a PostError when it is larger than the limit."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        size = path.stat().st_size
        raise PostError(
            source,
            f"is {size / 1_000_000:.1f} MB, over the {limit / 1_000_000:.1f} MB limit",
            "split it, or raise [build] max_post_bytes in newsletter.toml",
        )
    return data


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


def run_build(
    config: Config, options: BuildOptions, progress: Progress | None = None
) -> BuildReport:
    """Run one build; the lock is held from reading the ledger to committing it."""
    report = BuildReport(dry_run=options.dry_run)
    if options.dry_run:
        _build(config, options, report, progress)
        return report
    with exclusive(config.state_path.with_name(config.state_path.name + ".lock")):
        _build(config, options, report, progress)
    return report


def _build(
    config: Config, options: BuildOptions, report: BuildReport, progress: Progress | None
) -> None:
    # One walk of content/ gives the posts and the fingerprint (the CLI's may be reused).
    scanned = options.content_scan
    entries = list(scanned) if scanned is not None else fastpath.scan(config.content_dir)
    inputs = "" if options.dry_run else fastpath.inputs_fingerprint(config, entries)
    posts, unreadable, fresh, cached = read_posts(
        config, report, progress, options.full_scan, entries
    )
    report.posts = posts
    snapshot = ledger.read_snapshot(config.state_path)
    # A post whose file cannot be read this time is not "removed": keep it.
    kept = {i: e for i, e in snapshot.entries.items() if e.source not in unreadable}
    snapshot = replace(snapshot, entries=kept)

    adopted = list(unrecorded_emails(config.out_dir, snapshot.email_ids))
    already = {identity: modified for email in adopted for identity, modified in email.posts}
    policy = Policy(
        since=options.since,
        max_age_days=config.email.max_age_days,
        settle_minutes=config.settle_minutes,
    )
    changes = decide(posts, snapshot, options.now, policy, already)
    touched = _touched(changes, snapshot, cached, fresh, config)
    rendered = render_posts(_needed(changes, config, touched), config)
    headers = {post.identity: post for post in posts}
    for post in rendered.values():  # what only the body shows (header warnings are in)
        report.warnings.extend(w for w in post.warnings if w not in headers[post.identity].warnings)
    changes = _with_rendered(changes, rendered)
    report.changes = changes

    files: list[OutputFile] = render_feeds(changes.live, config, touched)
    if config.email.enabled:
        templates = Templates.for_site(config.template_dir)
        for new, updated in plan_emails(changes.new, changes.modified, config):
            email = render_email(new, updated, config, templates)
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
        return
    gone = set(cached) - {p.source for p in posts} - unreadable
    keep = {post.content_hash for post in rendered.values()}
    postcache.save(config, fresh, gone, rendered.values(), keep)
    remove_stale_temporaries(config.out_dir)
    report.written, unchanged = write_files(config.out_dir, files)
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
        "fingerprint": fastpath.fingerprint(config, inputs) if clean else "",
        "next_due": _next_due(changes, config),
        "feeds_key": postcache.cache_key(config),
    }
    try:
        ledger.commit(config.state_path, changes, records, options.now, summary, meta)
    except OSError as exc:
        raise OutputError(
            f"cannot record this build in {config.state_path}: {exc.strerror or exc}",
            "out/ is complete; fix the ledger's folder and run the build again: it "
            "rewrites the same files and the same email, and emails nothing twice",
        ) from None
