"""Shell: `newsletter status`, what a build would do now and what the ledger holds.

It takes a cron run's path: when nothing changed since the last clean build and
nothing is due (the nothing-changed exit), that build's outcome stands; else the
build's decision runs as a dry run on the read-only post index (nothing is written,
not even the lock). Then it reads the ledger's history and the emails in out/email/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.core.dates import rfc3339
from pipeline.core.schedule import next_slot
from pipeline.shell.quick import scan_content, unchanged
from pipeline.shell.site import Site
from pipeline.shell.written import written_emails
from pipeline.store import ledger, subscribers
from pipeline.store.outbox import read_only_counts

if TYPE_CHECKING:
    from pipeline.core.report import BuildReport


def gather_status(site: Site, now: datetime) -> dict[str, Any]:
    history = ledger.history(site.state_path)
    content = scan_content(site.paths)
    quiet = unchanged(site.paths, now, content.inputs)  # the nothing-changed exit's test
    would = _unchanged(history) if quiet else None
    rejected: list[dict[str, Any]] = []
    if would is None:
        from pipeline.shell.build import BuildOptions, run_build  # only when deciding

        options = BuildOptions(now=now, dry_run=True, content_scan=content, feeds=False)
        report = run_build(site, options)
        would = _would(report, site)
        rejected = [
            {"file": e.source, "line": e.line, "message": e.message} for e in report.rejected
        ]
    recorded = ledger.read_snapshot(site.state_path, only=()).email_ids
    emails = [
        {
            "email_id": email_id,
            "subject": manifest.subject,
            "posts": len(manifest.posts),
            "recorded": email_id in recorded,
        }
        for email_id, manifest in written_emails(site.out_dir, newest_first=True)
    ]
    return {
        "now": rfc3339(now),
        "would": would,
        "last_builds": [
            {
                "ran_at": ran_at,
                **{k: summary.get(k) for k in ("new", "modified", "removed", "emails")},
            }
            for ran_at, summary in history
        ],
        "emails_on_disk": emails,
        "rejected": rejected,
        "outbox": _outbox(site),
        "subscribers": subscribers.read_only_counts(site.state_path),
        "schedule": _schedule(site, now),
    }


def _schedule(site: Site, now: datetime) -> dict[str, Any]:
    """The email's cadence: its next slot, and what waits for it."""
    schedule = site.config.email.schedule
    upcoming = next_slot(schedule, now, site.config.site.timezone)
    waiting = ledger.read_waiting(site.state_path) if upcoming else {}
    return {
        "schedule": str(schedule),
        "next_slot": rfc3339(upcoming) if upcoming else None,
        "waiting": sorted(w.source for w in waiting.values()),
    }


def _outbox(site: Site) -> dict[str, Any]:
    """What `send` has done: messages by state, and each that is not delivered."""
    counts, problems = read_only_counts(site.state_path)
    return {
        "counts": counts,
        "not_delivered": [
            {"email_id": i.email_id, "recipient": i.recipient, "state": i.state, "reply": i.reply}
            for i in problems
        ],
    }


def _unchanged(history: list[tuple[str, dict[str, Any]]]) -> dict[str, Any] | None:
    """What a build would do when nothing changed since the last clean one: nothing,
    with that build's posts in the feeds. None when that build left posts waiting
    (scheduled, held): they are named by file, which only deciding knows."""
    if not history:
        return None
    summary = history[0][1]
    if summary.get("scheduled") or summary.get("held") or "in_feeds" not in summary:
        return None
    return {
        "first_build": False,
        "new": [],
        "modified": [],
        "removed": [],
        "scheduled": [],
        "held_by_settle_window": [],
        "feeds_only": [],
        "emails": [],
        "in_feeds": summary["in_feeds"],
    }


def _would(report: BuildReport, site: Site) -> dict[str, Any]:
    changes = report.changes
    if changes is None:  # a dry run always decides; this keeps the types honest
        return {}
    max_age = site.config.email.max_age_days
    return {
        "first_build": changes.first_build,
        "new": [p.source for p in changes.new],
        "modified": [p.source for p in changes.modified],
        "removed": list(changes.removed),
        "scheduled": [{"file": p.source, "at": rfc3339(p.published)} for p in changes.scheduled],
        "held_by_settle_window": [p.source for p in changes.held],
        "feeds_only": [
            {
                "file": p.source,
                "why": "first build" if changes.first_build else f"older than {max_age} days",
            }
            for p in changes.recorded_only
        ],
        "emails": [
            {"subject": e.subject, "new": len(e.new), "updated": len(e.updated)}
            for e in report.emails
        ],
        "in_feeds": report.in_feeds,
    }


def describe_status(status: dict[str, Any]) -> Iterator[str]:
    would = status["would"]
    yield f"As of {status['now']}, a build would:"
    emails = would["emails"]
    if not emails:
        yield "  write no email"
    for email in emails:
        sizes = f"{email['new']} new, {email['updated']} updated"
        yield f"  write an email: {email['subject']!r} ({sizes})"
    for label, key in (("new", "new"), ("modified", "modified"), ("removed", "removed")):
        for item in would[key]:
            yield f"  {label}: {item}"
    for item in would["scheduled"]:
        yield f"  scheduled: {item['file']} at {item['at']}"
    for item in would["held_by_settle_window"]:
        yield f"  held by the settle window: {item}"
    for item in would["feeds_only"]:
        yield f"  into the feeds only: {item['file']} ({item['why']})"
    yield f"  keep {would['in_feeds']} post(s) in the feeds"
    for item in status["rejected"]:
        where = f"{item['file']}:{item['line']}" if item["line"] else item["file"]
        yield f"  skip {where}: {item['message']}"
    builds = status["last_builds"]
    yield "Last builds:" if builds else "Last builds: none yet (the first build records every post)"
    for build in builds:
        emails = ", ".join(e["email_id"] for e in build["emails"] or []) or "no email"
        new, modified, removed = (len(build[key] or []) for key in ("new", "modified", "removed"))
        yield f"  {build['ran_at']}: {new} new, {modified} modified, {removed} removed; {emails}"
    cadence = status["schedule"]
    if cadence["next_slot"]:
        waiting = ", ".join(cadence["waiting"]) or "nothing yet"
        yield (
            f"Email schedule: {cadence['schedule']}; next slot {cadence['next_slot']}; "
            f"waiting for it: {waiting}"
        )
    readers = status["subscribers"]
    if readers:
        yield (
            f"Subscribers: {readers.get('active', 0)} active, "
            f"{readers.get('suppressed', 0)} suppressed "
            f"({readers['unsubscribed by the reader']} unsubscribed themselves)"
        )
    outbox = status["outbox"]
    if outbox["counts"]:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(outbox["counts"].items()))
        yield f"Outbox: {counts}"
    for item in outbox["not_delivered"]:
        yield f"  {item['state']}: {item['recipient']} ({item['email_id']}): {item['reply']}"
    on_disk = status["emails_on_disk"]
    yield "Emails in out/email/:" if on_disk else "Emails in out/email/: none"
    for email in on_disk:
        state = "recorded" if email["recorded"] else "NOT recorded (a build was interrupted)"
        yield f"  {email['email_id']}  {email['subject']!r}  {email['posts']} post(s), {state}"
