"""Pure: a build report -> the lines a person (or cron's mail) reads."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pipeline.core.dates import rfc3339
from pipeline.core.settings import Config
from pipeline.shell.build import BuildReport

Line = tuple[int, str]  # (logging level, message)


def describe(report: BuildReport, config: Config) -> Iterator[Line]:
    """Errors and warnings first (what `-q` keeps for cron), then what happened."""
    for error in report.rejected:
        yield logging.ERROR, f"{error}\n  (post skipped; the others were built)"
    for warning in report.warnings:
        yield logging.WARNING, warning
    changes = report.changes
    if changes is None:
        return
    if changes.first_build and not changes.new:
        yield (
            logging.INFO,
            (
                f"first build: recorded {len(changes.recorded_only)} post(s), emailed none "
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
        yield logging.INFO, f"held: {post.source} changed less than {config.settle_minutes} min ago"
    verb = "would write" if report.dry_run else "wrote"
    for email in report.emails:
        yield (
            logging.INFO,
            f"email: {verb} {config.out_dir}/email/{email.email_id}/ ({email.subject})",
        )
    if report.dry_run:
        yield logging.INFO, "dry run: nothing written"
    else:
        written, unchanged = len(report.written), report.unchanged
        yield logging.INFO, f"{written} file(s) written, {unchanged} unchanged in {config.out_dir}"
