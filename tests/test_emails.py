"""Emails as a mail client sees them: MIME structure, headers, safety, modes."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from tests.conftest import SITE_TOML, Site


def parse(folder: Path) -> EmailMessage:
    raw = (folder / "email.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_eml_is_multipart_alternative_text_first_with_list_headers(site: Site) -> None:
    site.post(
        "a.md",
        "Body **here**.",
        date="2026-05-30T00:00:00+00:00",
        slug="a",
        title="Ünïcode — title",
    )
    site.build("--since", "2026-05-01")
    [folder] = site.emails()
    message = parse(folder)
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
    assert message["Subject"] == "Ünïcode — title"
    assert "=?utf-8?" in (folder / "email.eml").read_text()  # RFC 2047 on the wire
    assert message["From"] == "Test Blog <hello@blog.example>"
    assert message["To"] == "readers@lists.blog.example"
    assert message["Date"] == "Sat, 30 May 2026 00:00:00 +0000"
    assert message["Message-ID"] == f"<{folder.name}@blog.example>"
    assert message["List-Unsubscribe"].strip() == (  # folding may put it on the next line
        "<https://blog.example/unsubscribe/>, <mailto:unsubscribe@blog.example>"
    )
    # A list address's link cannot tell who is leaving: no one-click claim.
    assert message["List-Unsubscribe-Post"] is None
    for line in (folder / "email.eml").read_bytes().split(b"\r\n"):
        assert len(line) <= 998


def test_manifest_lists_posts_and_file_hashes(site: Site) -> None:
    import hashlib

    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="One")
    site.post("b.md", date="2026-05-29T00:00:00+00:00", slug="b", title="Two")
    site.build("--since", "2026-05-01")
    [folder] = site.emails()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["subject"] == "Test Blog: One and 1 more"
    assert [p["identity"] for p in manifest["posts"]] == ["a", "b"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert manifest["preheader"] in (folder / "email.html").read_text()


def test_no_header_injection_from_post_data(site: Site) -> None:
    site.post(
        "a.md",
        date="2026-05-30T00:00:00+00:00",
        slug="a",
        title="Hello\r\nBcc: victim@example.com\r\nX-Evil: 1",
    )
    site.build("--since", "2026-05-01")
    [folder] = site.emails()
    message = parse(folder)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hello Bcc: victim@example.com X-Evil: 1"


def test_post_markup_is_escaped_in_email(site: Site) -> None:
    site.post(
        "a.md",
        date="2026-05-30T00:00:00+00:00",
        slug="a",
        title='<script>alert("t")</script>',
        excerpt='<img src=x onerror="alert(1)">',
    )
    site.build("--since", "2026-05-01")
    html = (site.emails()[0] / "email.html").read_text()
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_same_email_bytes_when_rebuilt_from_the_same_state(make_site) -> None:  # type: ignore[no-untyped-def]
    first, second = make_site("one"), make_site("two")
    for s in (first, second):
        s.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="One")
        s.build("--since", "2026-05-01", now="2026-06-01T00:00:00+00:00")
    second.build("--since", "2026-05-01", now="2026-06-01T00:00:00+00:00")
    assert first.files() == second.files()


def test_per_post_mode_writes_one_email_each_with_the_full_body(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site(toml=SITE_TOML.replace("[email]", '[email]\nmode = "per-post"'))
    site.post("a.md", "First **body**.", date="2026-05-30T00:00:00+00:00", slug="a", title="One")
    site.post("b.md", "Second body.", date="2026-05-29T00:00:00+00:00", slug="b", title="Two")
    site.build("--since", "2026-05-01")
    folders = site.emails()
    assert len(folders) == 2
    subjects = sorted(parse(f)["Subject"] for f in folders)
    assert subjects == ["One", "Two"]
    html = "".join((f / "email.html").read_text() for f in folders)
    assert "<strong>body</strong>" in html


def test_updated_section_can_be_turned_off(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site(toml=SITE_TOML.replace("[email]", "[email]\nupdated_section = false"))
    site.post("a.md", date="2026-05-01T00:00:00+00:00", slug="a")
    site.build()
    site.post(
        "a.md", date="2026-05-01T00:00:00+00:00", modified_at="2026-05-31T00:00:00+00:00", slug="a"
    )
    site.build()
    assert site.emails() == []


def test_site_template_overrides_and_missing_variable_is_an_error(site: Site) -> None:
    folder = site.root / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "digest.txt").write_text("Custom {{ subject }}\n")
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="One")
    site.build("--since", "2026-05-01")
    assert (site.emails()[0] / "email.txt").read_text() == "Custom One\n"
    (folder / "digest.txt").write_text("{{ no_such_thing }}\n")
    site.post("b.md", date="2026-05-31T00:00:00+00:00", slug="b", title="Two")
    result = site.build(code=2)
    assert "email template digest.txt" in result.output and "no_such_thing" in result.output


def test_email_requires_unsubscribe_and_postal_address(make_site) -> None:  # type: ignore[no-untyped-def]
    toml = SITE_TOML.replace('postal_address = "1 Test Street, Testville"\n', "").replace(
        'unsubscribe_url = "https://blog.example/unsubscribe/"\n', ""
    )
    site = make_site(toml=toml)
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    result = site.build(code=2)
    assert "[email] postal_address: missing" in result.output
    assert "[email] unsubscribe_url: missing" in result.output


def test_footer_has_unsubscribe_link_and_postal_address(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    site.build("--since", "2026-05-01")
    folder = site.emails()[0]
    html = (folder / "email.html").read_text()
    text = (folder / "email.txt").read_text()
    assert 'href="https://blog.example/unsubscribe/"' in html and "1 Test Street, Testville" in html
    assert "Unsubscribe: https://blog.example/unsubscribe/" in text and "1 Test Street" in text


def test_premailer_is_loaded_without_requests_and_cannot_fetch() -> None:
    probe = (
        "import sys\n"
        "from pipeline.core.inline import inline_css\n"
        "html = inline_css('<html><head><style>p {color: red}</style></head>"
        "<body><p>x</p></body></html>')\n"
        "import premailer.premailer as module\n"
        "print('style=' in html, 'urllib3' in sys.modules, 'requests' in sys.modules)\n"
        "try:\n"
        "    module.requests.get('http://127.0.0.1:9/site.css')\n"
        "except RuntimeError:\n"
        "    print('refused')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.stdout.split() == ["True", "False", "False", "refused"], result.stderr
