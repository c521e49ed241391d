"""Real tools for tests: a loopback HTTP server, headless Chromium, newsboat.

A tool that is missing skips its test on a developer's machine, and fails it in CI
(where `.ci/run` installs it), so a green CI never hides a test that did not run.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def chromium(*args: str, timeout: int = 90) -> subprocess.CompletedProcess[str]:
    """Run Debian's Chromium headless with a fresh profile."""
    binary = require("chromium")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def dump_dom(url: str) -> str:
    result = chromium("--virtual-time-budget=5000", "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def newsboat_items(feed: Path, home: Path) -> list[tuple[str, str, str]]:
    """(guid, title, content) of every item newsboat keeps of `feed`, served over
    loopback and read by newsboat's own headless reload."""
    import sqlite3

    binary = require("newsboat")
    home.mkdir()
    (home / "config").write_text("")
    with serve(feed.parent) as base:
        (home / "urls").write_text(base + feed.name + "\n")
        subprocess.run(
            [binary, "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"],
            cwd=home,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=60,
            check=True,
        )
    with sqlite3.connect(home / "cache.db") as db:
        return sorted(db.execute("SELECT guid, title, content FROM rss_item"))
