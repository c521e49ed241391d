"""Effect: one build at a time.

An advisory `flock` on a file beside the ledger: the kernel drops it when the
process dies, so a killed build never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.errors import LockHeld, OutputError


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold the lock for the block, or raise LockHeld at once."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(
            f"cannot create the lock file {lock_path}: {exc.strerror}",
            "check that the state folder is writable",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            raise LockHeld(
                f"another build (pid {holder}) holds {lock_path}",
                "it will finish on its own; cron can simply run again later",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
