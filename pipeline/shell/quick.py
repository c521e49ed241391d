"""Shell: the nothing-changed exit, before any heavy import.

A fingerprint of everything a build reads and writes (names, sizes and
modification times under content/, the templates, newsletter.toml and out/, plus
the code version) is stored in the ledger by each clean build. When it is the same
and no scheduled or held post has come due, the build would write exactly what is
already there, so it stops here. Standard library only, on purpose.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from pipeline import __version__
from pipeline.shell.site import Site, default_template_dirs


class Entry(NamedTuple):
    """A file under a folder, as one scandir walk saw it (a tuple: 10,000s are made)."""

    path: str
    relative: str  # with forward slashes
    size: int
    mtime_ns: int
    symlink: bool
    stat: str  # "relative\0size\0mtime_ns": what the fingerprint and the post index compare


def scan(root: Path) -> list[Entry]:
    """Every file under `root` (symlinked folders are not entered), sorted by path."""
    found: list[Entry] = []
    append, make = found.append, tuple.__new__  # 100,000s of entries: the loop stays lean
    base = str(root)
    skip = len(base) + 1  # scandir joins paths onto `base`: the rest is the relative path
    stack = [base]
    while stack:
        folder = stack.pop()
        try:
            listing = os.scandir(folder)
        except OSError:
            continue
        with listing:
            for entry in listing:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    stat = entry.stat()
                except OSError:
                    continue
                path = entry.path
                relative, size, mtime_ns = path[skip:], stat.st_size, stat.st_mtime_ns
                line = f"{relative}\0{size}\0{mtime_ns}"
                append(make(Entry, (path, relative, size, mtime_ns, entry.is_symlink(), line)))
    found.sort(key=itemgetter(1))  # by relative path
    return found


def _tree(digest: hashlib._Hash, root: Path, entries: Sequence[Entry] | None = None) -> None:
    listed = scan(root) if entries is None else entries
    digest.update(f"{root}\n".encode())
    digest.update("\n".join([e.stat for e in listed]).encode("utf-8", "surrogateescape"))


def inputs_fingerprint(site: Site, content: Sequence[Entry] | None = None) -> str:
    """What a build reads: posts (`content`, if already scanned), templates,
    configuration, and the code."""
    digest = hashlib.sha256(f"{__version__}|{site!r}".encode())
    _tree(digest, site.content_dir, content)
    for root in (site.template_dir, *default_template_dirs()):
        _tree(digest, root)
    if site.config_file is not None:
        try:
            stat = site.config_file.stat()
            digest.update(f"{site.config_file}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
        except OSError:
            digest.update(b"no configuration file")
    return digest.hexdigest()


def fingerprint(site: Site, inputs: str | None = None) -> str:
    """Inputs (as given, or now) and out/ as it is now."""
    digest = hashlib.sha256((inputs or inputs_fingerprint(site)).encode())
    _tree(digest, site.out_dir)
    return digest.hexdigest()


class ContentScan(NamedTuple):
    """content/ as one walk saw it, and the fingerprint of all a build reads."""

    entries: tuple[Entry, ...]
    inputs: str


def scan_content(site: Site) -> ContentScan:
    entries = scan(site.content_dir)
    return ContentScan(tuple(entries), inputs_fingerprint(site, entries))


def unchanged(site: Site, now: datetime, inputs: str) -> bool:
    """True when the last clean build saw exactly these inputs (`inputs_fingerprint`)
    and out/ as it is, and nothing is due."""
    path = site.state_path
    if not path.exists():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = dict(
                db.execute("SELECT key, value FROM meta WHERE key IN ('fingerprint', 'next_due')")
            )
    except sqlite3.Error:
        return False  # let the full build report what is wrong with the ledger
    stored: str | None = rows.get("fingerprint")
    due: str | None = rows.get("next_due")
    if not stored or (due and now >= datetime.fromisoformat(due)):
        return False
    return bool(stored == fingerprint(site, inputs))
