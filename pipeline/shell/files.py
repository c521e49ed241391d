"""Effect: atomic writes confined to out/.

Every file goes through `write_atomic` (temp file beside it, fsync, os.replace), so
a reader or a killed build only ever sees the old or the new version; a file whose
bytes are unchanged is not touched at all, so a build with nothing new leaves out/
exactly as it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path, PurePosixPath

from pipeline.core.errors import OutputError, PostError
from pipeline.core.feedsets import STYLESHEET_NAME
from pipeline.core.model import OutputFile
from pipeline.core.settings import Config

logger = logging.getLogger(__name__)


def confined(root: Path, relative: str) -> Path:
    """The path of `relative` under root; anything that would leave root is refused."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or "\\" in relative:
        raise OutputError(f"refusing to write {relative!r}: not a plain path inside out/")
    path = root.joinpath(*parts)
    resolved_root = root.resolve()
    if not path.resolve().is_relative_to(resolved_root):
        raise OutputError(f"refusing to write {relative!r}: it resolves outside {root}")
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(root: Path) -> list[str]:
    """Delete the temporary files a killed build left behind (under the lock, so no
    other build is writing them)."""
    removed = []
    if root.is_dir():
        for path in root.rglob(".*.tmp"):
            if path.is_file() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path.relative_to(root).as_posix())
    if removed:
        logger.info("removed %d temporary file(s) left by an interrupted build", len(removed))
    return removed


def write_files(root: Path, files: Iterable[OutputFile]) -> tuple[list[str], list[str]]:
    """Write in order; returns (written, unchanged) paths relative to root."""
    written: list[str] = []
    unchanged: list[str] = []
    for item in files:
        path = confined(root, item.path)
        try:
            if path.is_file() and path.read_bytes() == item.data:
                unchanged.append(item.path)
                continue
            write_atomic(path, item.data)
        except OSError as exc:
            raise OutputError(
                f"cannot write {path}: {exc.strerror or exc}",
                "check that out/ is writable and the disk has space; nothing was recorded "
                "in the ledger, so the next build redoes this one",
            ) from None
        logger.debug("wrote %s", item.path)
        written.append(item.path)
    return written, unchanged


def stylesheet(config: Config) -> bytes:
    """The feeds' XSL stylesheet, shipped inside the package (b"" when switched off)."""
    if not config.feed.stylesheet:
        return b""
    return files("pipeline").joinpath(STYLESHEET_NAME).read_bytes()


def read_whole(path: Path | str) -> bytes:
    """The file's bytes in one read sized by fstat (half what Path.read_bytes costs:
    `check` reads 100,000s of posts)."""
    return read_limited(path, str(path), sys.maxsize)


def read_limited(path: Path | str, source: str, limit: int) -> bytes:
    """The file's bytes, or a PostError when it is larger than the limit. One read
    sized by fstat: a read(limit) allocates the whole limit, per file."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        chunks = []
        total = 0
        want = min(size, limit) + 1
        while total <= limit:
            chunk = os.read(fd, max(want - total, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise PostError(
            source,
            f"is {max(size, total) / 1_000_000:.1f} MB, over the {limit / 1_000_000:.1f} MB limit",
            "split it, or raise [build] max_post_bytes in newsletter.toml",
        )
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
