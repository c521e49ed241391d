"""Shell: one walk of a folder, and the post files among what it saw.

Standard library only: the nothing-changed exit walks content/ before anything
heavy is imported.
"""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path

from pipeline.core.entry import Entry
from pipeline.shell.heap import no_cycle_collection

POST_SUFFIXES = (".md", ".markdown")


def scan(
    root: Path, start: str | None = None, folders: list[str] | None = None, stat: bool = True
) -> list[Entry]:
    """Every file under `root` (symlinked folders are not entered), sorted by path;
    with `start`, a folder inside `root`, only the files under it (paths still
    relative to `root`). `folders`, if given, receives every folder walked. Without
    `stat`, no file is stat'ed (three quarters of a walk's time): each entry's size
    and mtime_ns are -1 and its `stat` "", for a reader that stats what it opens."""
    walk = Walk(root, start, stat)
    with no_cycle_collection():  # 100,000s of entries: 60 ms of collections at 100,000
        walk.step(lambda: True)
    if folders is not None:
        folders.extend(walk.folders)
    return walk.found


class Walk:
    """`scan` a folder at a time: each `step` lists folders while `more()` says so
    (one at least), so a caller can keep doing other things between steps."""

    def __init__(self, root: Path, start: str | None = None, stat: bool = True) -> None:
        self.found: list[Entry] = []  # sorted by relative path once done
        self.folders: list[str] = []  # every folder walked
        self._stack = [start or str(root)]
        self._skip = len(str(root)) + 1  # scandir joins paths onto root: the rest is relative
        self._stat = stat
        self._sorted = False

    def step(self, more: Callable[[], bool]) -> bool:
        """List folders until `more()` is false or none is left; True when done."""
        stack, found, folders, skip = self._stack, self.found, self.folders, self._skip
        while stack:
            _list(stack.pop(), skip, stack, found, folders, self._stat)
            if stack and not more():
                return False
        if not self._sorted:
            found.sort(key=itemgetter(1))  # by relative path
            self._sorted = True
        return True


def _list(
    folder: str, skip: int, stack: list[str], found: list[Entry], folders: list[str], stat: bool
) -> None:
    """One folder's files into `found`, its subfolders onto `stack`."""
    try:
        listing = os.scandir(folder)
    except OSError:
        return
    folders.append(folder)
    append, make = found.append, tuple.__new__  # 100,000s of entries: the loop stays lean
    with listing:
        for entry in listing:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                if not stat:
                    path = entry.path
                    append(make(Entry, (path, path[skip:], -1, -1, entry.is_symlink(), "")))
                    continue
                looked = entry.stat()
            except OSError:
                continue
            path = entry.path
            relative, size, mtime_ns = path[skip:], looked.st_size, looked.st_mtime_ns
            line = f"{relative}\0{size}\0{mtime_ns}"  # `stat_line`, without a call per file
            append(make(Entry, (path, relative, size, mtime_ns, entry.is_symlink(), line)))


def stat_line(relative: str, size: int, mtime_ns: int) -> str:
    """`Entry.stat`: what the fingerprint and the caches compare."""
    return f"{relative}\0{size}\0{mtime_ns}"


def entry_at(root: Path, path: str) -> Entry | None:
    """The file at `path` under `root` as `scan` sees it (None: no such file)."""
    try:
        if stat_module.S_ISDIR(os.lstat(path).st_mode):
            return None  # a folder (a symlink to one is a file to `scan`)
        stat = os.stat(path)
        link = os.path.islink(path)
    except OSError:
        return None
    relative = path[len(str(root)) + 1 :]
    return Entry(
        path,
        relative,
        stat.st_size,
        stat.st_mtime_ns,
        link,
        stat_line(relative, stat.st_size, stat.st_mtime_ns),
    )


def find_posts(content_dir: Path, entries: list[Entry] | None = None) -> list[Entry]:
    """Post files under content/, sorted; hidden folders and symlinks leaving it skipped."""
    root = os.path.realpath(content_dir)
    found = []
    for entry in scan(content_dir) if entries is None else entries:
        relative = entry.relative
        if not relative.endswith(POST_SUFFIXES) and not relative.lower().endswith(POST_SUFFIXES):
            continue  # (lowered only when needed: "Post.MD" is rare, 100,000 names are not)
        if relative.startswith((".", "_")) or "/." in relative or "/_" in relative:
            *folders, name = relative.split("/")  # the rare case, checked exactly
            if any(part.startswith((".", "_")) for part in folders) or name.startswith("."):
                continue
        if entry.symlink and os.path.commonpath([root, os.path.realpath(entry.path)]) != root:
            import logging  # the rare case: the nothing-changed exit never pays for it

            logging.getLogger(__name__).warning(
                "%s: a symlink to outside content/; skipped", entry.path
            )
            continue
        found.append(entry)
    return found
