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

from pipeline import ledger
from pipeline.changes import Policy, decide
from pipeline.config import Config
from pipeline.content import read_post
from pipeline.dates import rfc3339
from pipeline.emails import Templates, plan_emails, render_email
from pipeline.errors import OutputError, PostError
from pipeline.feeds import render_feeds
from pipeline.lock import exclusive
from pipeline.model import Changes, Email, OutputFile, Post
from pipeline.output import remove_stale_temporaries, write_files

logger = logging.getLogger(__name__)

POST_SUFFIXES = (".md", ".markdown")
EMAIL_FOLDER = "email"

Progress = Callable[[list[Path]], Iterable[Path]]


@dataclass(frozen=True)
class BuildOptions:
    now: datetime
    since: datetime | None = None
    dry_run: bool = False


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


def find_posts(content_dir: Path) -> list[Path]:
    """Post files under content/, sorted; hidden folders and symlinks leaving it skipped."""
    root = content_dir.resolve()
    found = []
    for folder, dirs, files in os.walk(content_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in files:
            if name.startswith(".") or not name.lower().endswith(POST_SUFFIXES):
                continue
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                logger.warning("%s: a symlink to outside content/; skipped", path)
                continue
            found.append(path)
    return sorted(found)


def read_posts(
    config: Config, report: BuildReport, progress: Progress | None = None
) -> tuple[list[Post], set[str]]:
    """Every readable post; the rest reported. Returns (posts, unreadable sources)."""
    paths = find_posts(config.content_dir)
    posts: list[Post] = []
    by_identity: dict[str, Post] = {}
    unreadable: set[str] = set()
    for path in progress(paths) if progress else paths:
        source = path.relative_to(config.content_dir).as_posix()
        try:
            post = read_post(source, _read_limited(path, source, config.max_post_bytes), config)
        except PostError as error:
            report.rejected.append(error)
            unreadable.add(source)
            continue
        except OSError as exc:
            report.rejected.append(PostError(source, f"cannot be read: {exc.strerror}"))
            unreadable.add(source)
            continue
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
    return posts, unreadable


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
    posts, unreadable = read_posts(config, report, progress)
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
    report.changes = changes

    files: list[OutputFile] = render_feeds(changes.live, config)
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
    try:
        ledger.commit(config.state_path, changes, records, options.now, summary)
    except OSError as exc:
        raise OutputError(
            f"cannot record this build in {config.state_path}: {exc.strerror or exc}",
            "out/ is complete; fix the ledger's folder and run the build again: it "
            "rewrites the same files and the same email, and emails nothing twice",
        ) from None
