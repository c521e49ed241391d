"""Pure: what a build did, as the lines a person (or cron's mail) reads and as the
`--json` summary a machine reads."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pipeline.core.dates import rfc3339
from pipeline.core.errors import PostError
from pipeline.core.manifest import EMAIL_FOLDER
from pipeline.core.model import Changes, Email, Finding, Header
from pipeline.core.posts.templating.lookup import PostsLookup

Line = tuple[int, str]  # (logging level, message)


@dataclass
class BuildReport:
    """What a build did, for people (log lines) and machines (--json)."""

    changes: Changes | None = None
    posts: list[Header] = field(default_factory=list)  # every post decided on (see incremental)
    shown: list[Header] = field(default_factory=list)  # the posts rendered: emails', feeds'
    feed_posts: list[Header] = field(default_factory=list)  # the feeds' posts, newest first
    links: PostsLookup | None = None  # where the posts' links found the other posts
    rejected: list[PostError] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)  # rejected files whose last version is shown
    warnings: list[Finding] = field(default_factory=list)
    emails: list[Email] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False
    in_feeds: int = 0  # published posts in the feeds (not only those this build read)
    # Every post recorded and not announced, newest first, when a first build
    # recorded most of them straight from the post index (see incremental); else
    # None: they are `changes.recorded_only`.
    recorded: list[str] | None = None
    notified: list[str] = field(default_factory=list)  # feed URLs the WebSub hub was told of

    def recorded_ids(self) -> list[str]:
        if self.recorded is not None:
            return self.recorded
        return [post.identity for post in self.changes.recorded_only] if self.changes else []

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0

    def summary(self) -> dict[str, object]:
        changes = self.changes

        def ids(posts: Iterable[Header]) -> list[str]:
            return [post.identity for post in posts]

        return {
            "dry_run": self.dry_run,
            "first_build": changes.first_build if changes else None,
            "new": ids(changes.new) if changes else [],
            "modified": ids(changes.modified) if changes else [],
            "recorded_only": self.recorded_ids(),
            "edited_quietly": ids(changes.edited_quietly) if changes else [],
            "removed": list(changes.removed) if changes else [],
            "scheduled": [
                {"identity": p.identity, "published_at": rfc3339(p.published)}
                for p in (changes.scheduled if changes else ())
            ],
            "held": ids(changes.held) if changes else [],
            "in_feeds": self.in_feeds,
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
            "websub_notified": self.notified,
            "rejected": [
                {
                    "file": e.source,
                    "line": e.line,
                    "message": e.message,
                    "hint": e.hint,
                    "last_version_kept": e.source in self.kept,
                }
                for e in self.rejected
            ],
            "warnings": [warning.brief for warning in self.warnings],
        }


def describe(report: BuildReport, settle_minutes: int, out_dir: str) -> Iterator[Line]:
    """Errors and warnings first (what `-q` keeps for cron), then what happened."""
    for error in report.rejected:
        if error.source in report.kept:
            what = "its last published version stays in the feeds until it is fixed"
        else:
            what = "post skipped; the others were built"
        yield logging.ERROR, f"{error}\n  ({what})"
    for warning in report.warnings:
        yield logging.WARNING, warning.brief
    changes = report.changes
    if changes is None:
        return
    if changes.first_build and not changes.new:
        yield (
            logging.INFO,
            (
                f"first build: recorded {len(report.recorded_ids())} post(s), emailed none "
                "(use --since DATE to email recent posts)"
            ),
        )
    if not (changes.new or changes.modified or changes.removed or changes.first_build):
        yield logging.INFO, "nothing new, modified or removed since the last build"
    for label, posts in (("new", changes.new), ("modified", changes.modified)):
        for post in posts:
            yield logging.INFO, f"{label}: {post.source} ({post.title})"
    for identity in changes.removed:
        yield logging.INFO, f"removed: {identity}"
    for post in changes.scheduled:
        yield logging.INFO, f"scheduled: {post.source} at {rfc3339(post.published)}"
    for post in changes.held:
        yield logging.INFO, f"held: {post.source} changed less than {settle_minutes} min ago"
    verb = "would write" if report.dry_run else "wrote"
    for email in report.emails:
        yield (
            logging.INFO,
            f"email: {verb} {out_dir}/email/{email.email_id}/ ({email.subject})",
        )
    if report.dry_run:
        yield logging.INFO, "dry run: nothing written"
    else:
        written, unchanged = len(report.written), report.unchanged
        yield logging.INFO, f"{written} file(s) written, {unchanged} unchanged in {out_dir}"
    if report.notified:
        yield logging.INFO, f"websub: told the hub of {len(report.notified)} changed feed(s)"
