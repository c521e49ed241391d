"""Shell: which posts this build emails under `[email] schedule`, and which wait.

"each" emails the build's new and modified posts. A schedule keeps them in the
ledger between slots (`core/schedule` decides when a slot has come) and, at the
first build after one, emails all that waited, their headers read this build or
taken from the post index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.core.dates import rfc3339
from pipeline.core.model import Changes, Header, Waiting
from pipeline.core.schedule import mail_now, next_slot, still_waiting
from pipeline.incremental import Gathered
from pipeline.shell.site import Site
from pipeline.store import ledger


@dataclass(frozen=True)
class Cadence:
    """What this build emails under `[email] schedule`, and what keeps waiting."""

    new: tuple[Header, ...]
    updated: tuple[Header, ...]
    waiting: dict[str, Waiting] | None  # None: "each", nothing waits
    slot: str  # the slot mark to keep
    due: str  # RFC 3339: the next slot, when something waits for it


def email_cadence(
    site: Site,
    now: datetime,
    changes: Changes,
    gathered: Gathered,
    adopted: set[str],
    slot_due: bool = False,
) -> Cadence:
    """With "each", this build's new and modified posts. With a schedule, none
    between slots (they wait, in the ledger); at or after a slot, all that waited."""
    config = site.config
    schedule, zone = config.email.schedule, config.site.timezone
    if schedule.kind == "each" or not config.email.enabled:
        return Cadence(changes.new, changes.modified, None, "", "")
    due_now, slot = mail_now(schedule, now, zone, gathered.snapshot.marks.last_slot)
    waiting = still_waiting(ledger.read_waiting(site.state_path), changes, rfc3339(now))
    for identity in adopted:  # mailed by an email a killed build wrote
        waiting.pop(identity, None)
    if not (due_now or slot_due) or not waiting:
        upcoming = next_slot(schedule, now, zone)
        due = rfc3339(upcoming) if upcoming and waiting else ""
        return Cadence((), (), waiting, slot, due)
    headers = _headers_of(waiting, gathered)
    newest_first = sorted(headers.values(), key=lambda h: (h.published, h.identity), reverse=True)
    new = tuple(h for h in newest_first if waiting[h.identity].kind == "new")
    updated = tuple(h for h in newest_first if waiting[h.identity].kind == "updated")
    return Cadence(new, updated, {}, slot, "")


def _headers_of(waiting: dict[str, Waiting], gathered: Gathered) -> dict[str, Header]:
    """The headers of the waiting posts: read this build, or from the post index."""
    found = {h.identity: h for h in gathered.posts if h.identity in waiting}
    rest = [w.source for identity, w in waiting.items() if identity not in found]
    if rest and gathered.index is not None:
        for header in gathered.index.headers(rest).values():
            if header.identity in waiting:
                found[header.identity] = header
    return found
