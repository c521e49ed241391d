"""Shell: `newsletter send`, as a sequence: check, claim, deliver, record.

Every email a build wrote and recorded is queued once, its audience fixed then,
one outbox row per recipient; then each due message is marked `sending` (committed
durably) before it is handed to the relay, and its outcome is committed after. A
message a crash left in `sending` is reported as unknown, never resent unless
`--retry-unknown` says so (with the same Message-ID). Holds the build's lock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from pipeline.core import delivery
from pipeline.core.dates import rfc3339
from pipeline.core.errors import ConfigError, OutputError
from pipeline.shell.lock import exclusive
from pipeline.shell.sender import Sender, WrittenEmails
from pipeline.shell.site import Site
from pipeline.shell.smtp import Outcome, RelayError
from pipeline.store import ledger, subscribers
from pipeline.store.outbox import Item, Outbox, open_outbox

logger = logging.getLogger(__name__)

Progress = Callable[[Iterable[Any], int], Iterable[Any]]


@dataclass(frozen=True)
class SendOptions:
    now: datetime | None = None  # None: the clock, read at each message
    dry_run: bool = False
    tests: tuple[str, ...] = ()  # --test addresses: one copy each, recorded nowhere
    force: bool = False  # send emails older than [send] max_age_days too
    retry_unknown: bool = False


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0  # unsubscribed after the email was queued
    queued: int = 0  # rows queued by this run
    interrupted: int = 0  # left in `sending` by a crash: now unknown
    deferred: list[Item] = field(default_factory=list)
    failed: list[Item] = field(default_factory=list)
    unknown: list[Item] = field(default_factory=list)
    too_old: list[str] = field(default_factory=list)  # email ids held back without --force
    would: list[tuple[str, str]] = field(default_factory=list)  # --dry-run: (email, recipient)
    tests: list[tuple[str, str]] = field(default_factory=list)  # (address, outcome)
    stopped: str = ""  # why the run stopped early (the relay cannot be used)
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.unknown or self.stopped else 0

    def summary(self) -> dict[str, object]:
        def rows(items: list[Item]) -> list[dict[str, str]]:
            return [
                {"email_id": i.email_id, "recipient": i.recipient, "reply": i.reply} for i in items
            ]

        return {
            "dry_run": self.dry_run,
            "sent": self.sent,
            "queued": self.queued,
            "skipped_unsubscribed": self.skipped,
            "deferred": rows(self.deferred),
            "failed": rows(self.failed),
            "unknown": rows(self.unknown),
            "held_too_old": self.too_old,
            "would_send": [{"email_id": e, "recipient": r} for e, r in self.would],
            "tests": [{"address": a, "outcome": o} for a, o in self.tests],
            "stopped": self.stopped,
        }


def check_sendable(site: Site, environ: Mapping[str, str]) -> None:
    """Every configuration problem at once, before anything is sent (exit 2)."""
    problems = delivery.send_problems(site.config, environ)
    key_file = site.config.send.dkim_key_file
    if key_file and not (site.config_file or Path()).parent.joinpath(key_file).is_file():
        problems.append(f"[send] dkim_key_file: {key_file} is not a file")
    if problems:
        raise ConfigError(
            f"{site.config_file}: cannot send, {len(problems)} problem(s):\n  - "
            + "\n  - ".join(problems),
            "fix each key named above; README, 'Sending', shows a worked setup",
        )


def run_send(
    site: Site,
    options: SendOptions,
    environ: Mapping[str, str],
    progress: Progress | None = None,
) -> SendReport:
    check_sendable(site, environ)
    sender = Sender(site, environ, options.now)
    report = SendReport(dry_run=options.dry_run)
    if options.tests:
        _send_tests(site, options, sender, report)
        return report
    written = WrittenEmails(site)
    with exclusive(site.lock_path), open_outbox(site.state_path) as outbox:
        now = sender.now()
        if not options.dry_run:
            report.interrupted = outbox.interrupted(now)
            if options.retry_unknown:
                outbox.retry_unknown(now)
        _claim(site, outbox, options, now, report, written)
        if options.dry_run:
            return report
        due = outbox.due(now)
        try:
            _deliver(site, outbox, due, outbox.due_count(now), sender, report, progress, written)
        finally:
            sender.close()
        report.unknown = outbox.items(["unknown"])
        report.deferred = outbox.items(["deferred"])
    return report


def _claim(
    site: Site,
    outbox: Outbox,
    options: SendOptions,
    now: datetime,
    report: SendReport,
    written: WrittenEmails,
) -> None:
    """Queue the recorded emails not queued yet (their audience fixed now), oldest
    first; an email older than max_age_days waits for --force."""
    config = site.config
    queued = outbox.audiences()
    oldest = now - timedelta(days=config.send.max_age_days)
    for email in ledger.recorded_emails(site.state_path):
        if email.email_id in queued:
            continue
        if email.written_at < oldest and not options.force:
            report.too_old.append(email.email_id)
            continue
        audience = config.send.audience
        split = written(email.email_id)
        if audience == "list":
            recipients = [parseaddr(config.email.to_address)[1]]  # checked by send_problems
        else:
            if not split.has_link:
                raise OutputError(
                    f"{written.path(email.email_id)}: its HTML does not link [email] "
                    f"unsubscribe_url ({written.link}), so no reader's own link can go in",
                    "the email template's footer must link {{ footer.unsubscribe_url }}; "
                    "build again with the shipped templates/email/digest.html to compare",
                )
            recipients = subscribers.active(site.state_path)
        host = split.host
        pairs = [(r, delivery.message_id(email.email_id, r, host)) for r in recipients]
        if options.dry_run:
            report.would.extend((email.email_id, r) for r in recipients)
        else:
            report.queued += outbox.queue(email.email_id, audience, pairs, now)
    if options.dry_run:
        report.would.extend((i.email_id, i.recipient) for i in outbox.due(now))


def _deliver(
    site: Site,
    outbox: Outbox,
    due: Iterator[Item],
    count: int,
    sender: Sender,
    report: SendReport,
    progress: Progress | None,
    written: WrittenEmails,
) -> None:
    """Each due message: started (durably), handed over, its outcome recorded; at
    most [smtp] connections in flight, and one more claimed."""
    check_active = outbox.audiences()
    width = max(1, site.config.smtp.connections)
    guard = outbox.hand_over()
    pending: dict[Future[Outcome], Item] = {}

    def settle(done: Iterable[Future[Outcome]]) -> None:
        for future in done:
            item = pending.pop(future)
            try:
                outcome = future.result()
            except RelayError as exc:
                report.stopped = str(exc)
                outcome = Outcome("deferred", f"not sent: {exc}")
            _record(site, outbox, item, outcome, sender.now(), report)

    items = progress(due, count) if progress else due
    with closing(guard), ThreadPoolExecutor(width, thread_name_prefix="smtp") as pool:
        for item in items:
            if report.stopped:
                break
            # One message claimed ahead of the connections: its bookkeeping overlaps
            # the relay's work on the others (a kill leaves it unknown, never resent).
            while len(pending) > width:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                settle(finished)
            personal = check_active.get(item.email_id, "list") == "subscribers"
            data = sender.message(
                written(item.email_id), item.recipient, item.message_id, personal=personal
            )
            sender.pace()
            if not outbox.start(item, sender.now(), personal):
                report.skipped += 1
                continue
            handed = guard if personal else None
            pending[pool.submit(sender.deliver, item.recipient, data, handed)] = item
        settle(wait(pending).done)


def _record(
    site: Site, outbox: Outbox, item: Item, outcome: Outcome, now: datetime, report: SendReport
) -> None:
    state, reply, next_try = outcome.state, outcome.reply, ""
    if state == "deferred":
        attempts = item.attempts + 1
        first = datetime.fromisoformat(item.first_try) if item.first_try else now
        if delivery.gives_up(attempts, first, now, site.config):
            state, reply = "failed", f"gave up after {attempts} attempt(s); last: {reply}"
        else:
            next_try = rfc3339(now + delivery.retry_after(attempts))
    outbox.finish(item, state, reply, next_try, now)
    done = Item(
        item.email_id,
        item.recipient,
        item.message_id,
        state,
        item.attempts + 1,
        item.first_try,
        next_try,
        reply,
    )
    if state == "sent":
        report.sent += 1
    elif state == "skipped":
        report.skipped += 1
    elif state == "failed":
        report.failed.append(done)
    logger.debug("%s -> %s: %s (%s)", item.email_id, item.recipient, state, reply)


def _send_tests(site: Site, options: SendOptions, sender: Sender, report: SendReport) -> None:
    """One copy of what `preview` shows to each --test address; nothing recorded."""
    from pipeline.core.audience import AddressError, checked_address
    from pipeline.shell.upcoming import upcoming_email

    upcoming = upcoming_email(site, sender.now())
    email = upcoming.email
    written = delivery.split_eml(email.email_id, email.files["email.eml"], WrittenEmails(site).link)
    try:
        for raw in options.tests:
            try:
                address = checked_address(raw)
            except AddressError as exc:
                report.tests.append((raw, f"not an address: {exc}"))
                continue
            msg_id = f"<test.{uuid.uuid4().hex}@{written.host}>"
            personal = site.config.send.audience == "subscribers"
            data = sender.message(written, address, msg_id, "[Test] ", personal)
            if options.dry_run:
                report.tests.append((address, "would be sent"))
                continue
            try:
                outcome = sender.deliver(address, data)
            except RelayError as exc:
                report.stopped = str(exc)
                break
            report.tests.append((address, f"{outcome.state}: {outcome.reply}"))
            if outcome.state != "sent":
                report.failed.append(
                    Item(email.email_id, address, msg_id, outcome.state, 1, "", "", outcome.reply)
                )
    finally:
        sender.close()
