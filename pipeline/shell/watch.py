"""Shell: has anything under these paths changed? Asked ten times a second by
`preview`, which must notice an edit within a second at any archive size.

A full look (every file's name, size and modification time) costs 0.8 s at
100,000 posts, so it is taken only as often as it stays a small share of the time.
In between, a quick look stats what an edit touches first: every folder (a file
created, removed or saved by renaming changes its folder's time), the files
changed most recently (the post being written), and every file of a small tree
(the templates, newsletter.toml). What a quick look saw change is looked at again
to say what the tree now holds (`tree`: the preview renders from it, walking no
archive), and a full look follows a little later, once the page has reloaded,
saying anything else that changed. The full look itself is taken a step at a time
(`STEP` seconds of walking per ask), with a quick look after each step: a save while
it walks is said at once, and the walk, now out of date, is begun again later.
"""

from __future__ import annotations

import bisect
import heapq
import os
import time
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path

from pipeline.core.entry import Entry
from pipeline.shell.scan import Walk, entry_at, scan

Stats = tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size) of files stat'd
# Each watched path as a look saw it, in order: a folder's files as `scan` walked
# them, a file's (path, mtime_ns, size), or None for a path that is not there.
Fingerprint = tuple[tuple[Entry, ...] | tuple[str, int, int] | None, ...]
RECENT = 50  # the most recently changed files, looked at every time
SMALL_TREE = 200  # a watched folder with fewer files is looked at whole every time
FULL_SHARE = 20  # a full look at most once per this many times its own cost
VERIFY_AFTER = 2.0  # seconds from a quick look's change to the full look after it
STEP = 0.1  # seconds of a full look's walking per ask, before the ask's quick look


class FullLook:
    """Every watched file's name, size and modification time (a missing path simply
    counts as absent), walked a step at a time."""

    def __init__(self, paths: list[Path], folders: set[str], clock: Callable[[], float]) -> None:
        self.paths = paths
        self.clock = clock
        # The folders as they are before the walk: one changed while it is walked is
        # then said by the next quick look, not taken for what the walk saw.
        self.folders_before = {stat[0]: stat for stat in _stats(sorted(folders))}
        self._walks = [Walk(root) if root.is_dir() else None for root in paths]
        self.cost = 0.0  # seconds spent walking

    def step(self, seconds: float) -> bool:
        """Walk for about `seconds` (a folder at least); True when the look is done."""
        started = self.clock()
        more = lambda: self.clock() < started + seconds  # noqa: E731 (asked per folder)
        try:
            return all(walk.step(more) for walk in self._walks if walk is not None)
        finally:
            self.cost += self.clock() - started

    def fingerprint(self) -> Fingerprint:
        """The look, once done: each path's folder walk (its own tuples, not a copy:
        0.1 s saved at 100,000 posts), a file's stat, or None."""
        seen: list[tuple[Entry, ...] | tuple[str, int, int] | None] = []
        for root, walk in zip(self.paths, self._walks, strict=True):
            if walk is not None:
                seen.append(tuple(walk.found))
                continue
            try:
                stat = root.stat()
            except OSError:
                seen.append(None)
                continue
            seen.append((str(root), stat.st_mtime_ns, stat.st_size))
        return tuple(seen)

    def walked(self) -> list[str]:
        """Every folder the walk entered (empty ones too)."""
        return [folder for walk in self._walks if walk is not None for folder in walk.folders]


class Watcher:
    """`changed()` says whether the files under `paths()` differ from the last time
    it was asked (the first time: from when it was made)."""

    def __init__(
        self, paths: Callable[[], list[Path]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.paths = paths
        self.clock = clock
        self._full: Fingerprint = ()
        self._quick: Stats = ()
        self._watched: list[str] = []  # what the quick look stats
        self._due = 0.0  # when the next full look is
        self._roots: list[Path] = []  # what the full look looked at
        self._trees: dict[str, tuple[Entry, ...]] = {}  # each folder's files, at the full look
        self._folders: set[str] = set()  # every folder the full look saw
        self._said: set[str] = set()  # what quick looks saw change since the full look
        self._verify = 0.0  # when the full look after them is
        # Each folder's `tree` as last told, and at which quick look: the full look
        # after a change is compared with what the preview rendered from.
        self._told: dict[str, tuple[Stats, list[Entry]]] = {}
        self._walking: FullLook | None = None  # a full look under way
        first = FullLook(self.paths(), set(), clock)
        first.step(float("inf"))
        self._look(first)

    def changed(self) -> bool:
        now = self.clock()
        if self._walking is None and (
            # A change was said: look at everything (once the page has reloaded, not
            # competing with its rendering), say what else changed, and watch anew.
            (self._said and now >= self._verify) or (not self._said and now >= self._due)
        ):
            self._walking = FullLook(self.paths(), self._folders, self.clock)
        if self._walking is not None and self._walking.step(STEP):
            expected = self._expected() if self._said else self._full
            self._look(self._walking)
            return self._full != expected
        quick = _stats(self._watched)
        if quick == self._quick:
            return False
        # A full look under way has walked while the files changed: what it saw is
        # no longer one moment's tree. It is begun again after this change's wait.
        self._walking = None
        if not self._said:
            self._verify = self.clock() + VERIFY_AFTER
        self._said |= {new[0] for old, new in zip(self._quick, quick, strict=True) if old != new}
        self._quick = quick  # said now; the full look comes a little later
        return True

    def _expected(self) -> Fingerprint:
        """The fingerprint as the quick looks since the full look say it is now (the
        folders' `tree`s, the watched files' stats): a full look that finds it
        otherwise has seen a change they did not."""
        stats = {path: (path, mtime, size) for path, mtime, size in self._quick if mtime >= 0}
        return tuple(
            tuple(self.tree(root) or ()) if str(root) in self._trees else stats.get(str(root))
            for root in self._roots
        )

    def tree(self, root: Path) -> list[Entry] | None:
        """The files under the watched folder `root` as `scan` would see them now, as
        far as the looks know: the last full look's, with what quick looks saw change
        since looked at again (a file stat'd, a folder listed). A change no quick look
        saw is the next full look's to say. None: `root` is not a watched folder."""
        key = str(root)
        entries = self._trees.get(key)
        if entries is None or not self._said:
            return None if entries is None else list(entries)
        cached = self._told.get(key)
        if cached is not None and cached[0] is self._quick:
            return cached[1]  # told already, and no quick look has seen more since
        said = sorted(p for p in self._said if p.startswith(key + os.sep) or p == key)
        if not any(path == key or path in self._folders for path in said):
            told = _with_files(root, list(entries), said)  # no folder relisted: 0.05 s saved
            self._told[key] = (self._quick, told)
            return told
        by_path = {entry.path: entry for entry in entries}
        for path in said:
            if path == key or path in self._folders:
                self._relist(root, path, by_path)
            else:
                entry = entry_at(root, path)
                if entry is None:
                    by_path.pop(path, None)
                else:
                    by_path[path] = entry
        told = sorted(by_path.values(), key=lambda entry: entry.relative)
        self._told[key] = (self._quick, told)
        return told

    def _relist(self, root: Path, folder: str, by_path: dict[str, Entry]) -> None:
        """A folder's files and subfolders as they are now, into `by_path`."""
        try:
            with os.scandir(folder) as listing:
                present = {item.path: item.is_dir(follow_symlinks=False) for item in listing}
        except OSError:
            present = {}
        gone = {f for f in self._folders if os.path.dirname(f) == folder and f not in present}
        for path in list(by_path):
            parent = os.path.dirname(path)
            if (parent == folder and path not in present) or (
                gone and any(path.startswith(g + os.sep) for g in gone)
            ):
                del by_path[path]
        for path, is_folder in present.items():
            if is_folder:
                if path not in self._folders:  # a new folder: every file in it
                    by_path.update((entry.path, entry) for entry in scan(root, path))
            elif path not in by_path and (entry := entry_at(root, path)) is not None:
                by_path[path] = entry

    def _look(self, look: FullLook) -> None:
        """Watch anew from a full look that is done."""
        self._walking = None
        folders_before = look.folders_before
        roots = self._roots = look.paths
        self._full = look.fingerprint()
        self._said = set()
        self._told = {}
        self._trees = {  # a folder's look is a tuple of Entry (an empty one: empty)
            str(root): seen
            for root, seen in zip(roots, self._full, strict=True)
            if seen is not None and (not seen or isinstance(seen[0], Entry))
        }
        entries = [entry for seen in self._trees.values() for entry in seen]
        # Every folder the walk entered (empty ones too: a file saved into one changes
        # its time), from the walk itself: no path of 100,000 taken apart again.
        folders = set(look.walked())
        folders.update(str(root) for root in roots)
        self._folders = folders
        recent = heapq.nlargest(RECENT, entries, key=lambda entry: entry.mtime_ns)
        small: list[str] = []
        for root in roots:
            inside = self._trees.get(str(root), ())
            if len(inside) < SMALL_TREE:
                small.extend([entry.path for entry in inside] or [str(root)])
        self._watched = sorted(folders | {entry.path for entry in recent} | set(small))
        # What the quick looks compare with is what the walk saw (a file saved while
        # the tree was walked is a change the next quick look says), not a second look.
        walked_files = {entry.path: (entry.path, entry.mtime_ns, entry.size) for entry in recent}
        for tree in self._trees.values():
            if len(tree) < SMALL_TREE:
                walked_files.update((e.path, (e.path, e.mtime_ns, e.size)) for e in tree)
        for seen in self._full:
            if seen and isinstance(seen[0], str):  # a watched file, as the look saw it
                walked_files[seen[0]] = seen
        self._quick = tuple(
            walked_files.get(stat[0]) or folders_before.get(stat[0]) or stat
            for stat in _stats(self._watched)
        )
        self._due = self.clock() + FULL_SHARE * look.cost


def _with_files(root: Path, entries: list[Entry], paths: list[str]) -> list[Entry]:
    """`entries` (sorted by relative path) with the files at `paths` as they are now:
    each put in its place, or taken out when gone."""
    skip = len(str(root)) + 1
    for path in paths:
        relative = path[skip:]
        at = bisect.bisect_left(entries, relative, key=attrgetter("relative"))
        present = at < len(entries) and entries[at].relative == relative
        entry = entry_at(root, path)
        if entry is None:
            if present:
                del entries[at]
        elif present:
            entries[at] = entry
        else:
            entries.insert(at, entry)
    return entries


def _stats(paths: list[str]) -> Stats:
    found: list[tuple[str, int, int]] = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            found.append((path, -1, -1))
            continue
        found.append((path, stat.st_mtime_ns, stat.st_size))
    return tuple(found)
