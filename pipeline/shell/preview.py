"""Shell: `newsletter preview`, the next email served on 127.0.0.1, as readers will see it.

Every change to a post, a template, the CSS or newsletter.toml bumps a version
number (a watcher thread looks ten times a second: `watch`); the
page polls it and reloads itself. Rendering is a dry run: the ledger and out/ are
never touched. A broken post or template shows a readable error page until fixed.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path

from pipeline.core.checks import GMAIL_CLIP_BYTES, check_posts
from pipeline.core.entry import Entry
from pipeline.core.errors import PipelineError
from pipeline.core.model import Finding
from pipeline.shell.paths import default_template_dirs
from pipeline.shell.quick import ContentScan, inputs_fingerprint
from pipeline.shell.site import Site
from pipeline.shell.upcoming import NoEmail, upcoming_email
from pipeline.shell.watch import Watcher
from pipeline.shell.written import read_email

logger = logging.getLogger(__name__)

Walked = tuple[Path, list[Entry]]  # a watched folder and its files, as last seen
_DARK_QUERY = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)")


@dataclass(frozen=True)
class Shown:
    """One rendering of the page: the email and what the author should know."""

    label: str  # which email this is
    sender: str = ""
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()  # set when the email cannot be shown

    @property
    def dark_html(self) -> str:
        """The email as a dark-mode client shows it: its dark rules always on."""
        return _DARK_QUERY.sub("@media all", self.html)


@dataclass
class PreviewSource:
    """Renders what to preview, from the files as they are now."""

    load_site: Callable[[], Site]
    folder: Path
    now: datetime | None = None  # None: the clock at each rendering
    email_id: str | None = None  # a written email in out/email/
    post: str | None = None  # an identity or file: that post, as a per-post email
    _watched: list[Path] = field(default_factory=list, repr=False)

    def watched(self) -> list[Path]:
        """Folders whose change reloads the page: those of the last configuration
        that loaded (the defaults until one does)."""
        if not self._watched:
            self._watched = [
                self.folder / "content",
                self.folder / "templates",
                *default_template_dirs(),
            ]
        return self._watched

    def render(self, content: Walked | None = None) -> Shown:
        """`content`: a folder and its files as the watcher knows them now; when it
        is content/, the rendering walks no archive (None: it walks content/)."""
        try:
            site = self.load_site()
        except PipelineError as error:
            return Shown("newsletter.toml has problems", errors=(str(error),))
        self._watched = [site.content_dir, site.template_dir, *default_template_dirs()]
        try:
            if self.email_id:
                return self._written(site, self.email_id)
            scanned = None
            if content is not None and content[0] == site.content_dir:
                entries = content[1]
                scanned = ContentScan(tuple(entries), inputs_fingerprint(site.paths, entries))
            return self._next(site, scanned)
        except PipelineError as error:
            return Shown("The email cannot be rendered", errors=(str(error),))
        except Exception as error:  # a bug: still no traceback in the author's browser
            logger.exception("preview failed")
            return Shown("Internal error", errors=(f"{type(error).__name__}: {error}",))

    def _written(self, site: Site, email_id: str) -> Shown:
        try:
            manifest, page, text = read_email(site.out_dir, email_id)
        except PipelineError as error:
            return Shown(f"Email {email_id}", errors=(str(error),))
        return Shown(
            f"Written email {email_id}",
            sender=site.config.email.from_address,
            subject=manifest.subject,
            preheader=manifest.preheader,
            html=page,
            text=text,
        )

    def _next(self, site: Site, content: ContentScan | None) -> Shown:
        try:
            now = self.now or datetime.now(UTC)
            upcoming = upcoming_email(site, now, self.post, content)
        except NoEmail as missing:
            return Shown(missing.label, errors=missing.errors)
        email, label, posts = upcoming.email, upcoming.label, upcoming.posts
        files = [(p.source, (site.content_dir / p.source).read_bytes()) for p in posts]
        findings = check_posts(files, site.config)
        return Shown(
            label,
            sender=site.config.email.from_address,
            subject=email.subject,
            preheader=email.preheader,
            html=email.files["email.html"].decode("utf-8"),
            text=email.files["email.txt"].decode("utf-8"),
            findings=tuple(findings),
        )


class Preview:
    """The server's state: a version that changes with the files, and the rendering
    of the current version (rendered once, however many frames ask for it)."""

    def __init__(self, source: PreviewSource, config_file: Path) -> None:
        self.source = source
        self.config_file = config_file
        self.version = 0
        self._lock = threading.Lock()
        self._shown: tuple[int, Shown] | None = None
        self._content: Walked | None = None  # content/ as the watcher saw it last
        self._stop = threading.Event()
        self._watcher: Watcher | None = None

    def shown(self) -> Shown:
        with self._lock:
            if self._shown is None or self._shown[0] != self.version:
                self._shown = (self.version, self.source.render(self._content))
            return self._shown[1]

    def start_watching(self) -> None:
        """The watcher's first look (a walk of content/), which the first rendering
        then uses instead of walking it again."""
        self._watcher = Watcher(lambda: [*self.source.watched(), self.config_file])
        self._content = self._walked(self._watcher)

    def watch(self, interval: float = 0.1) -> None:
        if self._watcher is None:
            self.start_watching()
        watcher = self._watcher
        assert watcher is not None  # noqa: S101 (just made)
        while not self._stop.wait(interval):
            if watcher.changed():
                content = self._walked(watcher)
                with self._lock:
                    self.version += 1
                    self._content = content
                logger.info("change seen; the page reloads (version %d)", self.version)

    def _walked(self, watcher: Watcher) -> Walked | None:
        root = self.source.watched()[0]
        entries = watcher.tree(root)
        return None if entries is None else (root, entries)

    def stop(self) -> None:
        self._stop.set()


def serve(preview: Preview, port: int) -> ThreadingHTTPServer:
    """A server on 127.0.0.1 (port 0: a free one); the caller runs serve_forever."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            logger.debug("preview: " + format, *args)

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            if path == "/version":
                self._send(json.dumps({"version": preview.version}), "application/json")
                return
            shown = preview.shown()
            if path == "/":
                self._send(page(shown, preview.version), "text/html")
            elif path == "/email.html":
                self._send(shown.html or error_page(shown), "text/html")
            elif path == "/email-dark.html":
                self._send(shown.dark_html or error_page(shown), "text/html")
            elif path == "/email.txt":
                self._send(shown.text, "text/plain")
            else:
                self.send_error(HTTPStatus.NOT_FOUND)

        def _send(self, body: str, kind: str) -> None:
            data = body.encode("utf-8")
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def run_preview(preview: Preview, port: int, announce: Callable[[str], None]) -> None:
    """Serve until interrupted; `announce` receives the URL once listening."""
    server = serve(preview, port)
    preview.start_watching()
    watcher = threading.Thread(target=preview.watch, daemon=True)
    watcher.start()
    announce(f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        preview.stop()
        server.server_close()


_RELOAD = """
<script>
const version = %d;
setInterval(async () => {
  try {
    const answer = await fetch("/version", {cache: "no-store"});
    if ((await answer.json()).version !== version) location.reload();
  } catch (error) {}
}, 100);  // a local request: a tenth of a second adds little to the reload
for (const frame of document.querySelectorAll("iframe.email")) {
  frame.addEventListener("load", () => {
    frame.style.height = frame.contentDocument.documentElement.scrollHeight + "px";
  });
}
</script>
"""


@cache
def _style() -> str:
    return files("pipeline").joinpath("preview.css").read_text(encoding="utf-8")


def page(shown: Shown, version: int) -> str:
    """The preview page: inbox line, facts and checks, four renderings, the text."""
    e = html.escape
    if shown.errors:
        return error_page(shown, version)
    name, address = parseaddr(shown.sender)
    name = name or address  # as an inbox shows it: the display name
    size = len(shown.html.encode("utf-8"))
    share = min(100, round(100 * size / GMAIL_CLIP_BYTES))
    over = " over" if size >= GMAIL_CLIP_BYTES else ""
    findings = (
        "".join(f'<li class="{f.severity}">{e(str(f))}</li>' for f in shown.findings)
        or '<li class="ok">No problems found in these posts.</li>'
    )
    frames = "".join(
        f"<figure><figcaption>{e(caption)}</figcaption>"
        f'<iframe class="email {kind}" src="{src}" title="{e(caption)}"></iframe></figure>'
        for caption, kind, src in (
            ("Phone, 375 px, light", "phone", "/email.html"),
            ("Desktop, 800 px, light", "desktop", "/email.html"),
            ("Phone, 375 px, dark", "phone", "/email-dark.html"),
            ("Desktop, 800 px, dark", "desktop", "/email-dark.html"),
        )
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: {e(shown.subject)}</title>
<style>{_style()}</style></head>
<body>
<header>
<h1>{e(shown.label)} · reloads by itself when a post, template or setting changes</h1>
<div class="inbox" id="inbox"><span class="from" title="{e(shown.sender)}">{e(name)}</span>
<span class="subject" id="subject">{e(shown.subject)}</span>
<span class="preheader" id="preheader">— {e(shown.preheader)}</span></div>
<div class="facts">
<span id="size">HTML {size:,} bytes of Gmail's {GMAIL_CLIP_BYTES:,}
<span class="bar{over}"><span style="width:{share}%"></span></span> {share}%</span>
</div>
<ul class="checks" id="checks">{findings}</ul>
</header>
<main>{frames}
<figure><figcaption>Plain-text part</figcaption>
<pre class="text" id="text">{e(shown.text)}</pre></figure>
</main>
{_RELOAD % version}
</body></html>
"""


def error_page(shown: Shown, version: int | None = None) -> str:
    e = html.escape
    problems = "".join(f"<pre>{e(problem)}</pre>" for problem in shown.errors)
    reload = _RELOAD % version if version is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: {e(shown.label)}</title>
<style>{_style()}</style></head>
<body><div class="problem" id="problem"><h2>{e(shown.label)}</h2>{problems}
<p>Fix the file named above and save it: this page reloads by itself.</p></div>
{reload}</body></html>
"""
