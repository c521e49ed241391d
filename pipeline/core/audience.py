"""Pure: subscriber addresses and CSV exports -> checked rows, with line numbers.

An address is checked by email-validator (syntax only: no DNS at import time) and
kept in its normalized form; its lower-case form is the key that suppression
matches, so `Ada@Example.com` removed stays removed as `ada@example.com`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

ADDRESS_COLUMNS = ("email", "email address", "e-mail", "e-mail address", "email_address")
NAME_COLUMNS = ("name", "full name", "first name", "first_name", "fname")
# Rows a service marks as gone: imported as suppressed, never as active.
GONE = ("unsubscribed", "cleaned", "bounced", "complained", "inactive", "suppressed")
STATUS_COLUMNS = ("status", "state", "subscription status", "member status")


class AddressError(ValueError):
    """Not an address a message can be sent to; the message says why."""


@dataclass(frozen=True)
class Row:
    line: int  # in the file, 1-based (the header is line 1)
    address: str
    name: str
    suppressed: bool  # the export says this reader left


def checked_address(text: str) -> str:
    """The normalized address, or AddressError (one line, no header can be made)."""
    if "\r" in text or "\n" in text:
        raise AddressError("an address cannot hold a line break")
    try:
        found = validate_email(text.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return str(found.normalized)


def key_of(address: str) -> str:
    return address.lower()


def read_csv(text: str) -> tuple[list[Row], list[tuple[int, str]]]:
    """(the rows with a valid address, (line, problem) for the others). The header
    row names the address column (`email`, `Email Address`...), optionally a name and
    a status; a byte-order mark and `;` separators are fine."""
    text = text.removeprefix("\ufeff")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return [], [(1, "the file is empty: write a header row with an `email` column")]
    columns = [cell.strip().lower() for cell in header]
    address_at = _column(columns, ADDRESS_COLUMNS)
    if address_at is None:
        return [], [(1, f"no email column in the header ({', '.join(header)})")]
    name_at = _column(columns, NAME_COLUMNS)
    status_at = _column(columns, STATUS_COLUMNS)
    rows: list[Row] = []
    problems: list[tuple[int, str]] = []
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        raw = cells[address_at] if address_at < len(cells) else ""
        try:
            address = checked_address(raw)
        except AddressError as exc:
            problems.append((line, f"{raw!r} is not an address: {exc}"))
            continue
        name = " ".join(_cell(cells, name_at).split())
        status = _cell(cells, status_at).strip().lower()
        rows.append(Row(line, address, name, status in GONE))
    return rows, problems


def _cell(cells: list[str], at: int | None) -> str:
    return cells[at] if at is not None and at < len(cells) else ""


def _column(columns: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in columns:
            return columns.index(name)
    return None


def csv_cell(value: str) -> str:
    """A value safe to open in a spreadsheet: a leading = + - @ (a formula) is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(rows: Iterator[tuple[str, str, str]]) -> str:
    """(address, name, status) rows as CSV with a header, formulas defused."""
    lines: list[str] = []
    writer = csv.writer(_Lines(lines), lineterminator="\n")
    writer.writerow(["email", "name", "status"])
    for address, name, status in rows:
        writer.writerow([csv_cell(address), csv_cell(name), status])
    return "".join(lines)


class _Lines:
    """What csv.writer writes to: the lines, kept in memory."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append
