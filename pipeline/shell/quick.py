"""Shell: the nothing-changed exit, before any heavy import (written once: the
`newsletter` entry point and `build` both call it).

A fingerprint of everything a build reads and writes (names, sizes and
modification times under content/, the templates, newsletter.toml and out/, the
paths the command line chose, and the code version) is stored in the ledger by
each clean build. When it is the same and no scheduled or held post has come due,
the build would write exactly what is already there, so it stops here. Standard
library only, on purpose: the entry point gets here from the raw TOML alone.
"""

from __future__ import annotations

import hashlib
import sys
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import NamedTuple

from pipeline import __version__
from pipeline.core.entry import Entry
from pipeline.shell.paths import SitePaths, default_template_dirs, resolve
from pipeline.shell.scan import scan
from pipeline.store.meta import read_marks

MESSAGE = "nothing changed since the last build; out/ is up to date"


def _tree(digest: hashlib._Hash, root: Path, entries: Sequence[Entry] | None = None) -> None:
    listed = scan(root) if entries is None else entries
    digest.update(f"{root}\n".encode())
    digest.update("\n".join([e.stat for e in listed]).encode("utf-8", "surrogateescape"))


def inputs_fingerprint(paths: SitePaths, content: Sequence[Entry] | None = None) -> str:
    """What a build reads: posts (`content`, if already scanned), templates,
    the configuration file (its size and time: any edit changes them), the paths,
    and the code."""
    digest = hashlib.sha256(f"{__version__}|{tuple(map(str, paths))!r}".encode())
    _tree(digest, paths.content_dir, content)
    for root in (paths.template_dir, *default_template_dirs()):
        _tree(digest, root)
    if paths.config_file is not None:
        try:
            stat = paths.config_file.stat()
            digest.update(f"{paths.config_file}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
        except OSError:
            digest.update(b"no configuration file")
    return digest.hexdigest()


def fingerprint(paths: SitePaths, inputs: str | None = None) -> str:
    """Inputs (as given, or now) and out/ as it is now."""
    digest = hashlib.sha256((inputs or inputs_fingerprint(paths)).encode())
    _tree(digest, paths.out_dir)
    return digest.hexdigest()


class ContentScan(NamedTuple):
    """content/ as one walk saw it, and the fingerprint of all a build reads."""

    entries: tuple[Entry, ...]
    inputs: str


def scan_content(paths: SitePaths) -> ContentScan:
    entries = scan(paths.content_dir)
    return ContentScan(tuple(entries), inputs_fingerprint(paths, entries))


def unchanged(paths: SitePaths, now: datetime, inputs: str) -> bool:
    """True when the last clean build saw exactly these inputs (`inputs_fingerprint`)
    and out/ as it is, and nothing is due."""
    marks = read_marks(paths.state_path)
    if marks is None or not marks.fingerprint or marks.websub_pending:
        return False
    if marks.next_due and now >= datetime.fromisoformat(marks.next_due):
        return False
    return marks.fingerprint == fingerprint(paths, inputs)


def nothing_to_do(
    paths: SitePaths, now: datetime, handed: ContentScan | None = None
) -> ContentScan | None:
    """None when a build would change nothing; else the walk of content/ to build from."""
    content = handed or scan_content(paths)
    return None if unchanged(paths, now, content.inputs) else content


def raw_site(folder: Path, config_file: Path | None) -> tuple[SitePaths, tzinfo | None]:
    """The paths and time zone from newsletter.toml as written, unchecked: what the
    entry point needs to compare fingerprints (any error: the full command line
    reads the file properly and says what is wrong)."""
    path = config_file or folder / "newsletter.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    table = raw.get("paths", {})
    zone_name = raw.get("site", {}).get("timezone", "")
    if not isinstance(table, Mapping) or not isinstance(zone_name, str):
        raise ValueError("not a configuration to trust without checking it")
    zone = None
    if zone_name:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(zone_name)
    return resolve(folder, table, {}, path), zone


def say_unchanged(as_json: bool, quiet: bool, dry_run: bool = False) -> None:
    """What `build` prints when nothing changed (JSON by hand: json is not imported)."""
    if as_json:
        sys.stdout.write(f'{{"unchanged": true, "dry_run": {str(dry_run).lower()}}}\n')
    elif not quiet:
        sys.stderr.write(MESSAGE + "\n")
