"""WebSub: a build whose feeds changed tells the hub, a real HTTP server on 127.0.0.1;
a hub that fails is told again by the next build, even one with nothing new."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from tests.conftest import SITE_TOML, Site
from tests.smtp_servers import free_port


@dataclass
class Hub:
    told: list[str] = field(default_factory=list)
    answer: int = 204


@contextmanager
def websub_hub(hub: Hub) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
            assert form["hub.mode"] == ["publish"]
            if hub.answer < 300:
                hub.told.extend(form["hub.url"])
            self.send_response(hub.answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hub"
    finally:
        server.shutdown()
        server.server_close()


def hub_site(root: Path, hub_url: str) -> Site:
    toml = SITE_TOML.replace("[email]", f'[feed]\nwebsub_hub = "{hub_url}"\n\n[email]')
    site = Site(root, toml)
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="A", categories=["Sleep"])
    return site


def test_a_build_tells_the_hub_of_each_feed_it_rewrote_and_only_those(tmp_path: Path) -> None:
    hub = Hub()
    with websub_hub(hub) as url:
        site = hub_site(tmp_path / "site", url)
        result = site.build("--since", "2026-05-01")
        base = "https://blog.example/"
        assert sorted(hub.told) == sorted(
            [
                f"{base}feed.xml",
                f"{base}atom.xml",
                f"{base}feed.json",
                f"{base}category/sleep/feed.xml",
                f"{base}category/sleep/atom.xml",
            ]
        )
        assert "websub: told the hub of 5 changed feed(s)" in result.output
        hub.told.clear()
        site.build()  # nothing changed: nothing to tell
        assert hub.told == []
        site.post("b.md", date="2026-06-01T09:00:00+00:00", slug="b", title="B")
        site.build(now="2026-06-01T12:30:00+00:00")  # not in the category
        assert sorted(hub.told) == [f"{base}atom.xml", f"{base}feed.json", f"{base}feed.xml"]


def test_a_failed_ping_is_a_warning_and_the_next_build_tries_again(tmp_path: Path) -> None:
    hub = Hub(answer=503)
    with websub_hub(hub) as url:
        site = hub_site(tmp_path / "site", url)
        failed = site.build("--since", "2026-05-01")  # a warning, not a failure
        assert "was not told that https://blog.example/feed.xml changed: it answered 503" in (
            failed.output
        )
        assert hub.told == []
        hub.answer = 204
        # Nothing changed since, yet the cron run does not take the quick exit: five
        # feeds are still untold.
        command = [sys.executable, "-m", "pipeline", "build", "--site", str(site.root)]
        command += ["--now", "2026-06-01T12:15:00+00:00"]
        run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        assert len(hub.told) == 5, run.stderr + run.stdout
        hub.told.clear()
        again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        assert hub.told == [] and "nothing changed" in (again.stdout + again.stderr).lower()


def test_an_unreachable_hub_names_itself_and_the_build_still_succeeds(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/hub"
    site = hub_site(tmp_path / "site", url)
    result = site.build("--since", "2026-05-01")
    assert f"the WebSub hub {url} was not told" in result.output
    assert "could not be reached" in result.output
    assert (site.root / "out" / "feed.xml").is_file()
