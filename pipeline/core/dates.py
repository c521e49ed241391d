"""Front-matter date values -> timezone-aware datetimes.

Accepts what blogging tools write: ISO 8601 with or without offset, YAML dates and
datetimes, Jekyll's `YYYY-MM-DD HH:MM:SS +HHMM`, and Unix epoch seconds. A time
without an offset is in the site's time zone (UTC when none is configured).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

_LOOSE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[ T](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?"
    r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


class DateError(ValueError):
    """The value is not a date this module can read; the message says why."""


def parse_date(value: object, tz: tzinfo | None) -> tuple[datetime, bool]:
    """Return (aware datetime, was_naive). Raise DateError for anything else."""
    local = tz or UTC
    if isinstance(value, bool):
        raise DateError("is true/false, not a date")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=local), True
        return value, False
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=local), True
    if isinstance(value, int | float):
        if not 0 <= value < 32503680000:  # years 1970..2999
            raise DateError(f"epoch seconds {value} are out of range")
        return datetime.fromtimestamp(value, tz=UTC), False
    if not isinstance(value, str):
        raise DateError(f"is a {type(value).__name__}, not a date")
    text = value.strip()
    try:  # the common case, in C; the forms it does not know go through the regex
        parsed = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=local), True
        return parsed, False
    match = _LOOSE.match(text)
    if not match:
        raise DateError(f"{value!r} is not a date I can read")
    try:
        day = date.fromisoformat(match["date"])
        clock = time.fromisoformat(_pad(match["time"])) if match["time"] else time()
    except ValueError as exc:
        raise DateError(f"{value!r} is not a real date or time ({exc})") from None
    offset = match["tz"]
    if offset is None:
        return datetime.combine(day, clock, tzinfo=local), True
    return datetime.combine(day, clock, tzinfo=_offset(offset)), False


def _pad(clock: str) -> str:
    return clock if len(clock.split(":")[0]) == 2 else "0" + clock


def _offset(text: str) -> tzinfo:
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise DateError(f"offset {text} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def rfc3339(moment: datetime) -> str:
    """`2026-05-19T15:50:46+00:00`: what Atom, JSON Feed and the ledger store."""
    return moment.isoformat(timespec="seconds")


def display_date(moment: datetime, tz: tzinfo | None) -> str:
    """`May 19, 2026`, in the site's zone (or the post's own offset)."""
    shown = moment.astimezone(tz) if tz else moment
    return f"{shown:%B} {shown.day}, {shown.year}"
