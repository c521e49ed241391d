"""Pure: the subscriber CSV exports of the services people leave -> checked rows.

Mailchimp, Substack, Buttondown, Ghost and Kit each say who left in their own way
(a file per status, a status column, a true/false column). Each row is read into
one of a few statuses: active; unsubscribed, cleaned, bounced or complained (all
imported as suppressed, never as active); unconfirmed (the reader never confirmed
the sign-up: not imported). A status we do not know is reported, not guessed. The
address column is found by its header; a byte-order mark, `;` separators and
quoted line breaks are fine.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pipeline.core.audience import AddressError, checked_address

GONE = ("unsubscribed", "cleaned", "bounced", "complained")
ADDRESS_COLUMNS = ("email address", "email", "email_address", "e-mail", "e-mail address")
NAME_COLUMNS = ("name", "full name", "first name", "first_name", "fname")
STATUS_COLUMNS = (
    "status",
    "state",
    "subscriber_type",
    "type",
    "subscription status",
    "member status",
)
# A status column's words, as the services write them, -> our status.
STATUS_WORDS = {
    **dict.fromkeys(
        (
            "",
            "active",
            "subscribed",
            "regular",
            "premium",
            "gifted",
            "paid",
            "free",
            "comped",
            "complimentary",
            "trialed",
            "trialing",
            "churning",
            "past_due",
            "cold",
            "confirmed",
        ),
        "active",
    ),
    **dict.fromkeys(
        ("unsubscribed", "cancelled", "canceled", "removed", "churned", "suppressed"),
        "unsubscribed",
    ),
    "cleaned": "cleaned",
    **dict.fromkeys(("bounced", "undeliverable", "hard_bounce", "blocked"), "bounced"),
    **dict.fromkeys(("complained", "spammy", "spam"), "complained"),
    **dict.fromkeys(("unactivated", "inactive", "unconfirmed", "pending"), "unconfirmed"),
}
TRUE = ("true", "yes", "1", "y")
FALSE = ("false", "no", "0", "n")


@dataclass(frozen=True)
class Row:
    line: int  # in the file, 1-based (the header is line 1)
    address: str
    name: str
    status: str  # "active", one of GONE, or "unconfirmed"

    @property
    def suppressed(self) -> bool:
        return self.status in GONE


@dataclass(frozen=True)
class Export:
    service: str  # "Mailchimp", ..., or "" for a plain list
    rows: tuple[Row, ...]
    problems: tuple[tuple[int, str], ...]  # (line, what is wrong)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self.rows:
            found[row.status] = found.get(row.status, 0) + 1
        return found


@dataclass(frozen=True)
class _Reading:
    """How one export says who a row is and whether they left."""

    service: str
    address: int
    name: int | None
    status: int | None = None  # a column of status words
    left_when_true: int | None = None  # a column that is true for those who left
    left_when_false: int | None = None  # a column that is false for those who left
    whole_file: str = ""  # the status of every row (Mailchimp's file per status)
    left_when_set: tuple[tuple[int, str], ...] = ()  # a column filled in: that status


def read_export(text: str, file_name: str = "") -> Export:
    """The rows with a valid address, and the lines that were not imported, why."""
    text = text.removeprefix("\ufeff")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(_lines(text), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return Export(
            "", (), ((1, "the file is empty: write a header row with an `email` column"),)
        )
    columns = [cell.strip().lower() for cell in header]
    address_at = _column(columns, ADDRESS_COLUMNS)
    if address_at is None:
        return Export("", (), ((1, f"no email column in the header ({', '.join(header)})"),))
    reading = _reading(columns, address_at, file_name.lower())
    rows: list[Row] = []
    problems: list[tuple[int, str]] = []
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        raw = _cell(cells, reading.address)
        try:
            address = checked_address(raw)
        except AddressError as exc:
            problems.append((line, f"{raw!r} is not an address: {exc}"))
            continue
        status = _status(reading, cells)
        if status is None:
            word = _cell(cells, reading.status).strip()
            problems.append(
                (line, f"{address}: status {word!r} is not one we know, so it was not imported")
            )
            continue
        name = " ".join(_cell(cells, reading.name).split())
        rows.append(Row(line, address, name, status))
    return Export(reading.service, tuple(rows), tuple(problems))


def _reading(columns: list[str], address_at: int, file_name: str) -> _Reading:
    def at(name: str) -> int | None:
        return columns.index(name) if name in columns else None

    name_at = _column(columns, NAME_COLUMNS)
    if at("email address") is not None and {"leid", "euid", "member_rating"} & set(columns):
        whole = next(
            (
                status
                for prefix, status in (
                    ("unsubscribed", "unsubscribed"),
                    ("cleaned", "cleaned"),
                    ("nonsubscribed", "unconfirmed"),
                    ("subscribed", "active"),
                )
                if file_name.startswith(prefix)
            ),
            "",
        )
        filled = tuple(
            (index, status)
            for column, status in (("unsub_time", "unsubscribed"), ("clean_time", "cleaned"))
            if (index := at(column)) is not None
        )
        return _Reading("Mailchimp", address_at, name_at, whole_file=whole, left_when_set=filled)
    if at("email_disabled") is not None and at("active_subscription") is not None:
        return _Reading("Substack", address_at, name_at, left_when_true=at("email_disabled"))
    if at("subscribed_to_emails") is not None or (
        at("subscribed") is not None and at("complimentary_plan") is not None
    ):
        flag = at("subscribed_to_emails")
        return _Reading(
            "Ghost",
            address_at,
            name_at,
            left_when_false=flag if flag is not None else at("subscribed"),
        )
    if at("subscriber_type") is not None:
        return _Reading("Buttondown", address_at, name_at, status=at("subscriber_type"))
    if at("email_address") is not None and at("state") is not None:
        return _Reading("Kit", address_at, name_at, status=at("state"))
    return _Reading("", address_at, name_at, status=_column(columns, STATUS_COLUMNS))


def _status(reading: _Reading, cells: Sequence[str]) -> str | None:
    """The row's status; None when its status word is not one we know."""
    for index, status in reading.left_when_set:
        if _cell(cells, index).strip():
            return status
    if reading.whole_file:
        return reading.whole_file
    if reading.left_when_true is not None:
        flag = _cell(cells, reading.left_when_true).strip().lower()
        return "unsubscribed" if flag in TRUE else "active" if flag in (*FALSE, "") else None
    if reading.left_when_false is not None:
        flag = _cell(cells, reading.left_when_false).strip().lower()
        return "unsubscribed" if flag in FALSE else "active" if flag in (*TRUE, "") else None
    return STATUS_WORDS.get(_cell(cells, reading.status).strip().lower())


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their ends, split only at \\n: a quoted field may hold
    line breaks, and characters that str.splitlines would also split at."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _cell(cells: Sequence[str], at: int | None) -> str:
    return cells[at] if at is not None and at < len(cells) else ""


def _column(columns: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in columns:
            return columns.index(name)
    return None
