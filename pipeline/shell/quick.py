"""Shell: the nothing-changed exit, before any heavy import (written once: the
`newsletter` entry point and `build` both call it).

A fingerprint of everything a build reads and writes (names, sizes and
modification times under content/, the templates, newsletter.toml and out/, plus
the code version) is stored in the ledger by each clean build. When it is the same
and no scheduled or held post has come due, the build would write exactly what is
already there, so it stops here. Standard library only, on purpose.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from pipeline import __version__
from pipeline.core.entry import Entry
from pipeline.shell.scan import scan
from pipeline.shell.site import Site, default_template_dirs
from pipeline.store.meta import read_marks

MESSAGE = "nothing changed since the last build; out/ is up to date"


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
    marks = read_marks(site.state_path)
    if marks is None or not marks.fingerprint:
        return False
    if marks.next_due and now >= datetime.fromisoformat(marks.next_due):
        return False
    return marks.fingerprint == fingerprint(site, inputs)


def nothing_to_do(
    site: Site, now: datetime, handed: ContentScan | None = None
) -> ContentScan | None:
    """None when a build would change nothing; else the walk of content/ to build from."""
    content = handed or scan_content(site)
    return None if unchanged(site, now, content.inputs) else content


def say_unchanged(as_json: bool, quiet: bool, dry_run: bool = False) -> None:
    """What `build` prints when nothing changed (JSON by hand: json is not imported)."""
    if as_json:
        sys.stdout.write(f'{{"unchanged": true, "dry_run": {str(dry_run).lower()}}}\n')
    elif not quiet:
        sys.stderr.write(MESSAGE + "\n")
