"""Byte budgets: feeds and emails both shrink step by step until they fit."""

from __future__ import annotations

from collections.abc import Callable


def largest_fitting(low: int, high: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [low, high] with fits(n), for a `fits` that is true up to
    some n and false after it (a binary search: each try renders a document)."""
    best = None
    while low <= high:
        middle = (low + high) // 2
        if fits(middle):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best
