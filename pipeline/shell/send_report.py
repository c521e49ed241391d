"""Shell: what a send did, as the lines a person (or cron's mail) reads."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pipeline.shell.send import SendReport

Line = tuple[int, str]


def describe_send(report: SendReport) -> Iterator[Line]:
    """Problems first (what `-q` keeps for cron), then what happened."""
    if report.stopped:
        yield logging.ERROR, f"stopped: {report.stopped}"
    if report.interrupted:
        yield (
            logging.WARNING,
            f"{report.interrupted} message(s) were being handed to the relay when an earlier "
            "send was interrupted: their outcome is unknown (see below)",
        )
    for item in report.failed:
        yield logging.ERROR, f"failed: {item.recipient} ({item.email_id}): {item.reply}"
    for item in report.unknown:
        yield (
            logging.WARNING,
            f"unknown: {item.recipient} ({item.email_id}) may have got it: {item.reply}; "
            "`send --retry-unknown` resends it with the same Message-ID",
        )
    for item in report.deferred:
        yield (
            logging.WARNING,
            f"deferred: {item.recipient} ({item.email_id}), next try after {item.next_try}: "
            f"{item.reply}",
        )
    for email_id in report.too_old:
        yield (
            logging.WARNING,
            f"not sent: {email_id} is older than [send] max_age_days; `send --force` sends it",
        )
    for address, outcome in report.tests:
        yield logging.INFO, f"test to {address}: {outcome}"
    if report.dry_run:
        for email_id, recipient in report.would:
            yield logging.INFO, f"would send {email_id} to {recipient}"
        yield logging.INFO, f"dry run: {len(report.would)} message(s) would be sent, none was"
        return
    if not report.tests:
        parts = [f"{report.sent} sent", f"{len(report.deferred)} deferred"]
        parts += [f"{len(report.failed)} failed", f"{len(report.unknown)} unknown"]
        if report.skipped:
            parts.append(f"{report.skipped} skipped (unsubscribed since)")
        yield logging.INFO, ", ".join(parts)
