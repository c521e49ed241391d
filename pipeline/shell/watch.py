"""Shell: has anything under these paths changed? Asked four times a second by
`preview`, which must notice an edit within a second at any archive size.

A full look (every file's name, size and modification time) costs 0.8 s at
100,000 posts, so it is taken only as often as it stays a small share of the time.
In between, a quick look stats what an edit touches first: every folder (a file
created, removed or saved by renaming changes its folder's time), the files
changed most recently (the post being written), and every file of a small tree
(the templates, newsletter.toml).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.shell.scan import scan

Fingerprint = tuple[tuple[str, int, int], ...]
RECENT = 50  # the most recently changed files, looked at every time
SMALL_TREE = 200  # a watched folder with fewer files is looked at whole every time
FULL_SHARE = 20  # a full look at most once per this many times its own cost


def fingerprint(paths: list[Path]) -> Fingerprint:
    """Names, sizes and modification times of the files (and files under folders)
    in `paths`; a missing one simply counts as absent."""
    seen: list[tuple[str, int, int]] = []
    for root in paths:
        if root.is_dir():
            seen.extend((e.path, e.mtime_ns, e.size) for e in scan(root))
            continue
        with contextlib.suppress(OSError):
            stat = root.stat()
            seen.append((str(root), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(seen))


class Watcher:
    """`changed()` says whether the files under `paths()` differ from the last time
    it was asked (the first time: from when it was made)."""

    def __init__(
        self, paths: Callable[[], list[Path]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.paths = paths
        self.clock = clock
        self._full: Fingerprint = ()
        self._quick: Fingerprint = ()
        self._watched: list[str] = []  # what the quick look stats
        self._due = 0.0  # when the next full look is
        self._said: set[str] = set()  # what a quick look saw change: the next call looks at all
        self._look()

    def changed(self) -> bool:
        if self._said:  # a change was said: look at everything, and watch anew
            said, before = self._said, self._full
            self._said = set()
            self._look()
            return _other_changes(before, self._full, said)
        if self.clock() >= self._due:
            before = self._full
            self._look()
            return self._full != before
        quick = _stats(self._watched)
        if quick == self._quick:
            return False
        self._said = {new[0] for old, new in zip(self._quick, quick, strict=True) if old != new}
        self._quick = quick  # said now; the full look comes next
        return True

    def _look(self) -> None:
        started = self.clock()
        roots = self.paths()
        self._full = fingerprint(roots)
        folders = {os.path.dirname(path) for path, _mtime, _size in self._full}
        folders.update(str(root) for root in roots)
        recent = sorted(self._full, key=lambda entry: entry[1])[-RECENT:]
        small: list[str] = []
        for root in roots:
            inside = [p for p, _m, _s in self._full if p.startswith(str(root) + os.sep)]
            if len(inside) < SMALL_TREE:
                small.extend(inside or [str(root)])
        self._watched = sorted(folders | {p for p, _m, _s in recent} | set(small))
        self._quick = _stats(self._watched)
        self._due = self.clock() + max(0.0, FULL_SHARE * (self.clock() - started))


def _other_changes(before: Fingerprint, after: Fingerprint, said: set[str]) -> bool:
    """Whether files changed other than those said (a changed file, or any file in a
    changed folder)."""
    old, new = set(before), set(after)
    return any(
        path not in said and os.path.dirname(path) not in said for path, _mtime, _size in old ^ new
    )


def _stats(paths: list[str]) -> Fingerprint:
    found: list[tuple[str, int, int]] = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            found.append((path, -1, -1))
            continue
        found.append((path, stat.st_mtime_ns, stat.st_size))
    return tuple(found)
