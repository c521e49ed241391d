"""Store: the few SQLite habits every store module shares."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
CHUNK = 500  # values per IN (...): well under SQLite's limit of bound parameters


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`, for queries with one "?" per value."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(count: int) -> str:
    """ "?,?,?": the placeholders of an IN list (never the values themselves)."""
    return ",".join("?" * count)


def tables(db: sqlite3.Connection) -> set[str]:
    """The names of the tables in the main database."""
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
