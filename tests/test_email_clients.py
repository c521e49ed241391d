"""Emails as mail clients and people see them: client support, HTML validity,
rendering in a real browser at phone and desktop widths, size, SMTP delivery."""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import smtplib
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, SITE_TOML, Site
from tests.realtools import chromium, require, serve

JS = Path(__file__).parent / "js"
ARTIFACTS = Path(__file__).parent / "artifacts"
CLIENTS = "gmail.*,outlook.*,apple-mail.*"

# What doiuse-email reports that we accept, each with the reason.
ACCEPTED = {
    # Media queries only refine padding on phones and add dark mode; the layout is
    # fluid (width 100%, max-width 600px, a 600px table for Outlook) without them.
    "`@media` is not supported by `gmail.mobile-webmail`",
    "`@media` is not supported by `outlook.windows`",
    "`@media` is not supported by `outlook.windows-mail`",
    # Outlook's apps replace <body>; nothing depends on body styles (the wrapper
    # table carries the background).
    "`<body> element` is not supported by `outlook.ios`",
    "`<body> element` is not supported by `outlook.android`",
    # The preheader is also 1px text in the background colour, so where display:none
    # is ignored it stays invisible.
    "`display:none` is not supported by `gmail.mobile-webmail`",
    # role="presentation" tells screen readers a layout table is not data; a client
    # that drops the attribute loses nothing.
    "`role attribute` is not supported by `outlook.windows-mail`",
}


def long_post(site: Site, number: int, **front: object) -> None:
    """A post shaped like the fixture: long, with both disclosures and affiliate links."""
    body = "\n\n".join(
        [
            "The first paragraph says what this post is about, in a sentence or two.",
            "⚕️ **Medical disclosure:** This is general information, not medical advice.",
            "🔗 **Affiliate disclosure:** Some links here are affiliate links; I may earn "
            "a small commission at no cost to you.",
            "### A heading",
            "Prose with [a study](https://example.org/study) and [oats](https://amzn.to/oats). "
            * 30,
            "- a list item\n- another item",
            "![A bowl of oats on a table](/img/oats.jpg)",
            "More prose, to make the post as long as a real one. " * 60,
        ]
    )
    values = {
        "id": 500 + number,
        "date": f"2026-05-{number + 10:02d}T08:00:00+00:00",
        "title": f"Post number {number}: a title of a realistic length for this blog",
        "excerpt": "An excerpt of a realistic length, three sentences long, which says what "
        "the post is about and why you would read it. It goes on a little, as excerpts do, "
        "to give a feel for the writing — much like the fixture’s does…",
        "categories": ["Sleep"],
        "tags": ["sleep", "food"],
        **front,
    }
    site.post(f"post-{number}.md", body, **values)


def ten_post_digest(root: Path, toml: str = SITE_TOML) -> Path:
    site = Site(root, toml)
    for number in range(10):
        long_post(site, number)
    site.build("--since", "2026-05-01", now="2026-06-01T00:00:00+00:00")
    [folder] = site.emails()
    return folder


def sample_digest(root: Path) -> Path:
    site = Site(root, (REPO / "newsletter.toml").read_text(encoding="utf-8"))
    shutil.copytree(REPO / "content", site.content, dirs_exist_ok=True)
    site.build("--since", "2026-10-01", now="2026-11-24T08:00:00+00:00")
    [folder] = site.emails()
    return folder


def per_post_email(root: Path) -> Path:
    site = Site(root, SITE_TOML.replace("[email]", '[email]\nmode = "per-post"'))
    long_post(site, 1)
    site.build("--since", "2026-05-01", now="2026-06-01T00:00:00+00:00")
    [folder] = site.emails()
    return folder


def pictured_digest(root: Path) -> Path:
    """Three posts: a featured image with its size, one without, and no image."""
    site = Site(root)
    wide = {"path": "/img/wide.png", "alt": "The bay at dusk", "width": 1600, "height": 900}
    long_post(site, 1, image=wide)
    long_post(site, 2, featured_image="https://blog.example/img/tall.png", image_alt="A lighthouse")
    long_post(site, 3)
    site.build("--since", "2026-05-01", now="2026-06-01T00:00:00+00:00")
    [folder] = site.emails()
    return folder


def png(width: int, height: int) -> bytes:
    """A plain PNG of that size, made here (no image library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\x80\x90\xa0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def check(html_file: Path) -> dict[str, object]:
    require("node")
    if not (JS / "node_modules").is_dir():
        pytest.fail("run `npm ci --prefix tests/js` (.ci/run does)")
    result = subprocess.run(
        ["node", str(JS / "check-email.mjs"), str(html_file), CLIENTS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("make", [sample_digest, ten_post_digest, per_post_email, pictured_digest])
def test_mail_clients_support_everything_we_use_and_the_html_is_valid(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    report = check(make(tmp_path / "site") / "email.html")
    errors = set(report["doiuse"].get("errors", []))  # type: ignore[attr-defined]
    assert errors - ACCEPTED == set()
    assert report["htmlValidate"] == {"valid": True, "messages": []}


PROBE = """
<script>
addEventListener("load", () => {
  const width = innerWidth;
  const seen = (selector) => [...document.querySelectorAll(selector)].map((e) => {
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return {text: e.textContent.trim().slice(0, 60),
            shown: r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none"
                   && r.left >= 0 && r.right <= width + 1};
  });
  const wide = [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > width + 1)
    .map((e) => e.tagName + "." + e.className);
  const images = [...document.querySelectorAll(".featured-image")].map((e) => ({
    src: e.getAttribute("src"), loaded: e.complete && e.naturalWidth > 0,
    width: e.getBoundingClientRect().width, height: e.getBoundingClientRect().height}));
  const pre = parent.document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({width, scrollWidth: document.documentElement.scrollWidth,
    wide, titles: seen(".post-title"), disclosures: seen(".disclosure"), images});
  parent.document.body.appendChild(pre);
});
</script>
"""


@pytest.mark.parametrize("width", [375, 800])
@pytest.mark.parametrize(
    ("make", "images"),
    [
        (sample_digest, ""),
        (ten_post_digest, ""),
        (per_post_email, ""),
        (pictured_digest, "shown"),
        (pictured_digest, "blocked"),
    ],
)
def test_email_fits_phone_and_desktop_with_every_title_and_disclosure_visible(
    tmp_path: Path,
    width: int,
    make,  # type: ignore[no-untyped-def]
    images: str,
) -> None:
    folder = make(tmp_path / "site")
    html = (folder / "email.html").read_text()
    if images:  # served from the test's own server, or from a port nobody answers
        (folder / "img").mkdir()
        (folder / "img" / "wide.png").write_bytes(png(1600, 900))
        (folder / "img" / "tall.png").write_bytes(png(400, 900))
        where = "img/" if images == "shown" else "http://127.0.0.1:9/img/"
        html = html.replace("https://blog.example/img/", where)
        (folder / "email.html").write_text(html)
    (folder / "probe.html").write_text(html.replace("</body>", PROBE + "</body>"))
    # Headless windows are at least 500px wide: a phone is an iframe of its width.
    for name, page in (("frame.html", "probe.html"), ("show.html", "email.html")):
        (folder / name).write_text(
            f'<!DOCTYPE html><html><body style="margin:0"><iframe src="{page}" '
            f'style="width:{width}px;height:2400px;border:0"></iframe></body></html>'
        )
    with serve(folder) as base:
        result = chromium(
            f"--window-size={max(width, 500)},2400",
            "--virtual-time-budget=5000",
            "--dump-dom",
            base + "frame.html",
        )
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"email-{make.__name__}{images and '-' + images}-{width}.png"
        chromium(
            f"--window-size={max(width, 500)},2400",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
            f"--screenshot={shot}",
            base + "show.html",
        )
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.DOTALL)
    assert found, result.stdout[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["width"] == width
    assert probe["scrollWidth"] <= width and probe["wide"] == []
    assert probe["titles"] and all(t["shown"] for t in probe["titles"]), probe["titles"]
    if images:
        assert len(probe["images"]) == 2
        assert all(i["loaded"] == (images == "shown") for i in probe["images"]), probe
        if images == "shown":  # fluid: the column's width, the picture's proportions
            [wide] = [i for i in probe["images"] if "wide" in i["src"]]
            assert (
                wide["width"] <= min(width, 600)
                and abs(wide["height"] / wide["width"] - 0.5625) < 0.02
            )
    if make is not per_post_email:
        assert probe["disclosures"] and all(d["shown"] for d in probe["disclosures"])
    assert shot.is_file() and shot.stat().st_size > 5000


def test_ten_post_digest_stays_under_gmail_clipping(tmp_path: Path) -> None:
    folder = ten_post_digest(tmp_path / "site")
    size = len((folder / "email.html").read_bytes())
    assert size < 102_000
    html = (folder / "email.html").read_text()
    assert html.count('class="post-title"') == 10  # all ten shown in full, no overflow
    assert "More in this issue" not in html


def test_over_budget_digest_shortens_excerpts_then_lists_links_never_cutting_disclosures(
    tmp_path: Path,
) -> None:
    toml = SITE_TOML.replace("[email]", "[email]\nmax_bytes = 15000")  # the full one is ~24 KB
    folder = ten_post_digest(tmp_path / "site", toml)
    html = (folder / "email.html").read_text()
    text = (folder / "email.txt").read_text()
    assert len(html.encode()) <= 15_000
    assert "More in this issue" in html and "== More in this issue ==" in text
    shown = html.count('class="post-title"')
    assert 1 <= shown < 10
    for number in range(10):  # every post is still in the email, at least as a link
        assert f"Post number {number}:" in html and f"Post number {number}:" in text
    disclosure = "⚕️ Medical disclosure: This is general information, not medical advice."
    assert text.count(disclosure) == 10  # every post keeps its disclosures, whole
    assert html.count("<strong>Medical disclosure:</strong> This is general information") == 10
    excerpts = re.findall(r'<p class="excerpt"[^>]*>(.*?)</p>', html, re.DOTALL)
    assert excerpts and all(len(e) <= 161 for e in excerpts)  # shortened to fit
    full = (ten_post_digest(tmp_path / "roomy") / "email.html").read_text()
    assert all(len(e) > 200 for e in re.findall(r'<p class="excerpt"[^>]*>(.*?)</p>', full))


def test_per_post_email_has_the_full_body_and_text(tmp_path: Path) -> None:
    folder = per_post_email(tmp_path / "site")
    html = (folder / "email.html").read_text()
    text = (folder / "email.txt").read_text()
    assert "More prose, to make the post as long as a real one." in html
    assert (
        '<img alt="A bowl of oats on a table"' in html or 'alt="A bowl of oats on a table"' in html
    )
    assert re.search(r"<img\b(?![^>]*\balt=)", html) is None
    assert "- a list item" in text and "oats (https://amzn.to/oats)" in text
    assert text.index("Affiliate disclosure:") < text.index("https://amzn.to/oats")


def test_default_affiliate_disclosure_reaches_the_email(site: Site) -> None:
    site.post(
        "a.md", "Buy [a mug](https://amzn.to/mug).", date="2026-05-30T00:00:00+00:00", slug="a"
    )
    result = site.build("--since", "2026-05-01")
    assert "has affiliate links but no affiliate disclosure" in result.output
    text = (site.emails()[0] / "email.txt").read_text()
    assert "🔗 Affiliate disclosure: Some links in this post are affiliate links." in text


def test_eml_delivered_to_a_real_smtp_server_arrives_intact(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
            return "250 Message accepted for delivery"

    folder = sample_digest(tmp_path / "site")
    raw = (folder / "email.eml").read_bytes()
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    inbox = Inbox()
    with socket.socket() as probe:  # a free port on the loopback interface
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            refused = client.sendmail("hello@driftly.blog", ["reader@example.org"], raw)
        assert refused == {}
    finally:
        controller.stop()
    [(sender, recipients, received)] = inbox.messages
    assert (sender, recipients) == ("hello@driftly.blog", ["reader@example.org"])
    assert received == raw  # byte for byte: CRLF lines, no bare dots lost
    back = email.message_from_bytes(received, policy=email.policy.default)
    for header in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "List-Id",
        "Reply-To",
    ):
        assert back[header] == sent[header], header
    plain, html = back.get_body(("plain",)), back.get_body(("html",))
    assert plain is not None and html is not None
    assert "Medical disclosure:" in plain.get_content()
    assert "<strong>Medical disclosure:</strong>" in html.get_content()


@pytest.mark.parametrize("make", [sample_digest, ten_post_digest, per_post_email])
def test_every_link_and_image_is_an_absolute_https_url(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    html = (make(tmp_path / "site") / "email.html").read_text()
    targets = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert targets
    for target in targets:
        assert target.startswith(("https://", "mailto:")), target
