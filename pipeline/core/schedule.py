"""Pure: the email's cadence, `[email] schedule`: after each build, or in slots.

`"each"` (every build that has something new writes an email), `"daily HH:MM"`,
`"weekly DAY HH:MM"` or `"monthly D HH:MM"`, in the site's time zone. A slot is
one moment: a local time that a daylight-saving change skips is the same moment an
hour later on the clock, and a repeated one is its first occurrence, so each slot
happens exactly once. Between slots a build only notes what is waiting; the first
build at or after a slot emails all of it, and slots missed while the machine was
off are caught up by that one email.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from pipeline.core.model import Changes, Waiting

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SEARCH_DAYS = 64  # a monthly slot is at most 31 days away


@dataclass(frozen=True)
class Schedule:
    kind: str  # "each", "daily", "weekly" or "monthly"
    at: time = time(0, 0)
    weekday: int = 0  # weekly: Monday is 0
    day: int = 1  # monthly: 1 to 31 (the month's last day when it is shorter)

    def __str__(self) -> str:
        if self.kind == "each":
            return "each"
        clock = f"{self.at:%H:%M}"
        if self.kind == "weekly":
            return f"weekly {DAYS[self.weekday]} {clock}"
        if self.kind == "monthly":
            return f"monthly {self.day} {clock}"
        return f"daily {clock}"


def parse_schedule(text: str) -> Schedule:
    """The schedule, or ValueError saying what to write."""
    words = text.strip().lower().split()
    if words == ["each"]:
        return Schedule("each")
    kinds = {"daily": 2, "weekly": 3, "monthly": 3}
    if not words or words[0] not in kinds or len(words) != kinds[words[0]]:
        raise ValueError(
            f'{text!r} is not a schedule: write "each", "daily 07:00", "weekly sunday 08:00" '
            'or "monthly 1 08:00"'
        )
    try:
        hour, minute = (int(part) for part in words[-1].split(":"))
        at = time(hour, minute)
    except ValueError:
        raise ValueError(f"{words[-1]!r} is not a time of day: write HH:MM, e.g. 08:00") from None
    if words[0] == "weekly":
        if words[1] not in DAYS and words[1][:3] not in [d[:3] for d in DAYS]:
            raise ValueError(f"{words[1]!r} is not a day: write one of {', '.join(DAYS)}")
        return Schedule("weekly", at, weekday=[d[:3] for d in DAYS].index(words[1][:3]))
    if words[0] == "monthly":
        if not words[1].isdigit() or not 1 <= int(words[1]) <= 31:
            raise ValueError(f"{words[1]!r} is not a day of the month: write 1 to 31")
        return Schedule("monthly", at, day=int(words[1]))
    return Schedule("daily", at)


def _slot_on(schedule: Schedule, day: date, zone: tzinfo) -> datetime | None:
    """The slot's moment on that local day, if the day has one (in UTC)."""
    if schedule.kind == "weekly" and day.weekday() != schedule.weekday:
        return None
    if schedule.kind == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        if day.day != min(schedule.day, last):
            return None
    # fold=0: a skipped local time reads with the offset before the change (an hour
    # later on the clock); a repeated one is its first occurrence.
    return datetime.combine(day, schedule.at, tzinfo=zone).astimezone(UTC)


def latest_slot(schedule: Schedule, now: datetime, zone: tzinfo | None) -> datetime | None:
    """The last slot at or before `now` (None: "each")."""
    if schedule.kind == "each":
        return None
    zone = zone or UTC
    today = now.astimezone(zone).date()
    for back in range(SEARCH_DAYS):
        moment = _slot_on(schedule, today - timedelta(days=back), zone)
        if moment is not None and moment <= now:
            return moment
    return None


def next_slot(schedule: Schedule, now: datetime, zone: tzinfo | None) -> datetime | None:
    """The first slot after `now` (None: "each")."""
    if schedule.kind == "each":
        return None
    zone = zone or UTC
    today = now.astimezone(zone).date()
    for ahead in range(-1, SEARCH_DAYS):
        moment = _slot_on(schedule, today + timedelta(days=ahead), zone)
        if moment is not None and moment > now:
            return moment
    return None


def mail_now(schedule: Schedule, now: datetime, zone: tzinfo | None, last: str) -> tuple[bool, str]:
    """(whether this build writes the email, the slot mark to keep). `last` is the
    slot the previous email went out for ("" when the schedule was just set: the
    slots count from now on, so switching it on mails nothing at once)."""
    if schedule.kind == "each":
        return True, ""
    due = latest_slot(schedule, now, zone)
    mark = due.isoformat(timespec="seconds") if due else ""
    if not last:
        return False, mark
    if due is not None and due > datetime.fromisoformat(last):
        return True, mark
    return False, last


def still_waiting(
    waiting: Mapping[str, Waiting], changes: Changes, stamp: str
) -> dict[str, Waiting]:
    """What waits after this build's changes: its new posts as new, its modified
    ones as updated (a post never mailed stays new), its removed ones no more."""
    after = dict(waiting)
    for identity in changes.removed:
        after.pop(identity, None)
    for header in changes.new:
        after[header.identity] = Waiting(header.source, "new", stamp)
    for header in changes.modified:
        before = after.get(header.identity)
        kind = before.kind if before else "updated"
        after[header.identity] = Waiting(header.source, kind, before.since if before else stamp)
    return after
