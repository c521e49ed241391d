"""Run `newsletter` with its writes counted, and stopped at one of them.

    python tests/crash_harness.py count FILE  -- build ARGS...  # write the count to FILE
    python tests/crash_harness.py kill N      -- build ARGS...  # SIGKILL at write point N
    python tests/crash_harness.py fail N:ERRNO -- build ARGS... # OSError(ERRNO) at point N
    python tests/crash_harness.py hold SECONDS -- build ARGS... # sleep inside the lock

A write point is each step that changes what is on disk: creating a temporary
file, renaming it over the old one, committing the ledger. Killing the process
just before each one reaches every state a crash can leave (a kill between the
fsync and the rename leaves what a kill just before the rename leaves).
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import sys
import tempfile
import time


def main() -> None:
    mode, value, separator, *args = sys.argv[1:]
    assert separator == "--"
    count = [0]

    def point() -> None:
        count[0] += 1
        if mode == "kill" and count[0] == int(value):
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "fail":
            at, code = value.split(":")
            if count[0] == int(at):
                raise OSError(int(code), os.strerror(int(code)))

    def wrap(owner: object, name: str) -> None:
        original = getattr(owner, name)

        def wrapped(*a: object, **k: object) -> object:
            point()
            return original(*a, **k)

        setattr(owner, name, wrapped)

    wrap(os, "replace")
    wrap(tempfile, "mkstemp")
    import pipeline.shell.build
    import pipeline.store.ledger

    wrap(pipeline.store.ledger, "commit")
    if mode == "count":
        atexit.register(lambda: open(value, "w").write(str(count[0])))
    if mode == "hold":
        original = pipeline.shell.build._build

        def slow(*a: object, **k: object) -> object:
            time.sleep(float(value))
            return original(*a, **k)

        pipeline.shell.build._build = slow
    assert errno.ENOSPC  # the codes tests pass in come from errno
    from pipeline.shell.cli import main as newsletter

    sys.argv = ["newsletter", *args]
    newsletter()


if __name__ == "__main__":
    main()
