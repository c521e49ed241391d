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
from collections.abc import Iterable, Iterator
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
    _write_all([(path, data)])


def _write_all(items: list[tuple[Path, bytes]]) -> None:
    """Each path replaced with its data, durably: every temporary file written, then
    all flushed to disk at once (in threads: the file system commits them together),
    then each renamed over its path in order, then each folder's names flushed once.
    A failure before the renames leaves every path as it was; an OSError names the
    path it was for."""
    temporaries: list[str] = []
    renamed = 0
    try:
        for path, data in items:
            with _naming(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                temporaries.append(tmp)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.chmod(tmp, 0o644)
        _flush_all([(tmp, path) for tmp, (path, _data) in zip(temporaries, items, strict=True)])
        for tmp, (path, _data) in zip(temporaries, items, strict=True):
            with _naming(path):
                os.replace(tmp, path)
            renamed += 1
    except BaseException:
        for tmp in temporaries[renamed:]:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for folder in dict.fromkeys(path.parent for path, _data in items):
        _fsync_dir(folder)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An OSError raised inside names `path` (not the temporary file beside it)."""
    try:
        yield
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _flush_all(files: list[tuple[str, Path]]) -> None:
    """fsync each (temporary) file, several at once: fsync releases the GIL."""

    def flush(file: tuple[str, Path]) -> None:
        with _naming(file[1]):
            fd = os.open(file[0], os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    if len(files) < 2:
        for file in files:
            flush(file)
        return
    from concurrent.futures import ThreadPoolExecutor  # a build that writes several

    with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
        for _ in pool.map(flush, files):  # raises the first error
            pass


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
    """Write the files whose bytes changed (renamed into place in order); returns
    (written, unchanged) paths relative to root."""
    changed: list[tuple[Path, bytes]] = []
    written: list[str] = []
    unchanged: list[str] = []
    path = root
    try:
        for item in files:
            path = confined(root, item.path)
            if path.is_file() and path.read_bytes() == item.data:
                unchanged.append(item.path)
                continue
            changed.append((path, item.data))
            written.append(item.path)
        _write_all(changed)
    except OSError as exc:
        raise OutputError(
            f"cannot write {exc.filename or path}: {exc.strerror or exc}",
            "check that out/ is writable and the disk has space; nothing was recorded "
            "in the ledger, so the next build redoes this one",
        ) from None
    for name in written:
        logger.debug("wrote %s", name)
    return written, unchanged


def stylesheet(config: Config) -> bytes:
    """The feeds' XSL stylesheet, shipped inside the package (b"" when switched off)."""
    if not config.feed.stylesheet:
        return b""
    return files("pipeline").joinpath(STYLESHEET_NAME).read_bytes()


def read_whole(path: Path | str) -> bytes:
    """The file's bytes in one read sized by fstat (half what Path.read_bytes costs:
    `check` reads 100,000s of posts)."""
    return _read(path, str(path), sys.maxsize)[0]


def read_and_stat(path: Path | str) -> tuple[bytes, os.stat_result]:
    """`read_whole`, and the file's stat as it was opened (no walk stat'ed it)."""
    return _read(path, str(path), sys.maxsize)


def read_limited(path: Path | str, source: str, limit: int) -> bytes:
    """The file's bytes, or a PostError when it is larger than the limit. One read
    sized by fstat: a read(limit) allocates the whole limit, per file."""
    return _read(path, source, limit)[0]


def _read(path: Path | str, source: str, limit: int) -> tuple[bytes, os.stat_result]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.fstat(fd)
        size = stat.st_size
        want = min(size, limit) + 1
        first = os.read(fd, want)
        if len(first) == size < want:  # the whole file as fstat sized it: no read for EOF
            return first, stat
        chunks = [first]
        total = len(first)
        while first and total <= limit:
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
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), stat
