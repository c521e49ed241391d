"""Pure: subscriber addresses, checked and keyed; the subscriber list as CSV.

An address is checked by email-validator (syntax only: no DNS at import time) and
kept in its normalized form; its lower-case form is the key that suppression
matches, so `Ada@Example.com` removed stays removed as `ada@example.com`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator


class AddressError(ValueError):
    """Not an address a message can be sent to; the message says why."""


def checked_address(text: str) -> str:
    """The normalized address, or AddressError (one line, no header can be made).
    email-validator is imported here: `status` reads the list's counts without it."""
    from email_validator import EmailNotValidError, validate_email

    if "\r" in text or "\n" in text:
        raise AddressError("an address cannot hold a line break")
    try:
        found = validate_email(text.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return str(found.normalized)


def key_of(address: str) -> str:
    return address.lower()


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
