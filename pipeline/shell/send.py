"""Shell: `newsletter send`, as a sequence: check, claim, deliver, record.

Every email a build wrote and recorded is queued once, its audience fixed then,
one outbox row per recipient; then each due message is marked `sending` (committed
durably) before it is handed to the relay, and its outcome is committed after. A
message a crash left in `sending` is reported as unknown, never resent unless
`--retry-unknown` says so (with the same Message-ID). Holds the build's lock.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol

from pipeline.core import delivery
from pipeline.core.dates import rfc3339
from pipeline.core.emails import EMAIL_FOLDER
from pipeline.core.errors import ConfigError, OutputError
from pipeline.shell.lock import exclusive
from pipeline.shell.maildir import MaildirBox
from pipeline.shell.site import Site
from pipeline.shell.smtp import Outcome, Relay, RelayError, tls_context
from pipeline.store import ledger, subscribers
from pipeline.store.outbox import Item, Outbox, open_outbox

logger = logging.getLogger(__name__)

Progress = Callable[[Iterable[Any], int], Iterable[Any]]


class Transport(Protocol):
    def deliver(self, sender: str, recipient: str, data: bytes) -> Outcome: ...

    def close(self) -> None: ...


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
    sender = _Sender(site, environ, options.now)
    report = SendReport(dry_run=options.dry_run)
    if options.tests:
        _send_tests(site, options, sender, report)
        return report
    written = _WrittenEmails(site.out_dir)
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
    written: _WrittenEmails,
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
        if audience == "list":
            recipients = [parseaddr(config.email.to_address)[1]]  # checked by send_problems
        else:
            recipients = subscribers.active(site.state_path)
        host = written(email.email_id).host
        pairs = [(r, delivery.message_id(email.email_id, r, host)) for r in recipients]
        if options.dry_run:
            report.would.extend((email.email_id, r) for r in recipients)
        else:
            report.queued += outbox.queue(email.email_id, audience, pairs, now)
    if options.dry_run:
        report.would.extend((i.email_id, i.recipient) for i in outbox.due(now))


class _WrittenEmails:
    """The written .eml files, each read and split once per run."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._split: dict[str, delivery.Written] = {}

    def __call__(self, email_id: str) -> delivery.Written:
        if email_id not in self._split:
            path = self.out_dir / EMAIL_FOLDER / email_id / "email.eml"
            try:
                self._split[email_id] = delivery.split_eml(email_id, path.read_bytes())
            except (OSError, ValueError) as exc:
                raise OutputError(
                    f"{path}: the written email cannot be read ({exc})",
                    "run `newsletter build` again: it rewrites the same email",
                ) from None
        return self._split[email_id]


class _Sender:
    """The transport, the clock, DKIM and the rate: what each message goes through."""

    def __init__(self, site: Site, environ: Mapping[str, str], now: datetime | None) -> None:
        self.site = site
        config = site.config
        self.envelope = parseaddr(config.email.from_address)[1]  # checked by send_problems
        self._fixed_now = now
        self._local = threading.local()
        self._made: list[Transport] = []
        self._lock = threading.Lock()
        self._password = (
            environ.get(config.smtp.password_env, "") if config.smtp.password_env else ""
        )
        self._context = (
            tls_context(config.smtp.ca_file) if config.send.transport == "smtp" else None
        )
        self._dkim_key = b""
        if config.send.dkim_key_file:
            folder = (site.config_file or Path()).parent
            self._dkim_key = folder.joinpath(config.send.dkim_key_file).read_bytes()
        rate = config.smtp.rate
        self._interval = 1.0 / rate if rate else 0.0
        self._next_slot = time.monotonic()

    def now(self) -> datetime:
        return self._fixed_now or datetime.now(UTC)

    def transport(self) -> Transport:
        made: Transport | None = getattr(self._local, "transport", None)
        if made is None:
            config = self.site.config
            if config.send.transport == "maildir":
                folder = (self.site.config_file or Path()).parent / config.send.maildir
                made = MaildirBox(folder)
            else:
                assert self._context is not None  # noqa: S101 (set for smtp)
                made = Relay(config.smtp, self._password, self._context)
            self._local.transport = made
            with self._lock:
                self._made.append(made)
        return made

    def pace(self) -> None:
        """Wait for the next slot of [smtp] rate."""
        if not self._interval:
            return
        delay = self._next_slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_slot = max(self._next_slot, time.monotonic()) + self._interval

    def message(self, written: delivery.Written, to: str, msg_id: str, prefix: str = "") -> bytes:
        data = delivery.fill(written, to, msg_id, self.now(), prefix)
        if self._dkim_key:
            data = self._sign(data)
        return data

    def _sign(self, data: bytes) -> bytes:
        import dkim

        send = self.site.config.send
        signature = dkim.sign(
            data,
            send.dkim_selector.encode(),
            send.dkim_domain.encode(),
            self._dkim_key,
            include_headers=list(DKIM_HEADERS),
        )
        return bytes(signature) + data

    def deliver(self, recipient: str, data: bytes) -> Outcome:
        return self.transport().deliver(self.envelope, recipient, data)

    def close(self) -> None:
        for made in self._made:
            made.close()


DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


def _deliver(
    site: Site,
    outbox: Outbox,
    due: Iterator[Item],
    count: int,
    sender: _Sender,
    report: SendReport,
    progress: Progress | None,
    written: _WrittenEmails,
) -> None:
    """Each due message: started (durably), handed over, its outcome recorded; at
    most [smtp] connections in flight, and one more claimed."""
    check_active = outbox.audiences()
    width = max(1, site.config.smtp.connections)
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
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="smtp") as pool:
        for item in items:
            if report.stopped:
                break
            # One message claimed ahead of the connections: its bookkeeping overlaps
            # the relay's work on the others (a kill leaves it unknown, never resent).
            while len(pending) > width:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                settle(finished)
            data = sender.message(written(item.email_id), item.recipient, item.message_id)
            sender.pace()
            audience = check_active.get(item.email_id, "list")
            if not outbox.start(item, sender.now(), audience == "subscribers"):
                report.skipped += 1
                continue
            pending[pool.submit(sender.deliver, item.recipient, data)] = item
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
    elif state == "failed":
        report.failed.append(done)
    logger.debug("%s -> %s: %s (%s)", item.email_id, item.recipient, state, reply)


def _send_tests(site: Site, options: SendOptions, sender: _Sender, report: SendReport) -> None:
    """One copy of what `preview` shows to each --test address; nothing recorded."""
    from pipeline.core.audience import AddressError, checked_address
    from pipeline.shell.upcoming import upcoming_email

    upcoming = upcoming_email(site, sender.now())
    email = upcoming.email
    written = delivery.split_eml(email.email_id, email.files["email.eml"])
    try:
        for raw in options.tests:
            try:
                address = checked_address(raw)
            except AddressError as exc:
                report.tests.append((raw, f"not an address: {exc}"))
                continue
            msg_id = f"<test.{uuid.uuid4().hex}@{written.host}>"
            data = sender.message(written, address, msg_id, prefix="[Test] ")
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
