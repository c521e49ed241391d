"""core.checks: what could embarrass the author, as findings, from bytes and values."""

from __future__ import annotations

import hashlib

from pipeline.core.checks import check_outputs, check_posts, config_findings
from pipeline.core.manifest import Manifest
from tests.conftest import make_config, post_text

CONFIG = make_config()


def by_kind(files: list[tuple[str, str]]) -> dict[str, list[tuple[str, int | None, str]]]:
    findings = check_posts([(name, text.encode()) for name, text in files], CONFIG)
    found: dict[str, list[tuple[str, int | None, str]]] = {}
    for finding in findings:
        found.setdefault(finding.kind, []).append((finding.file, finding.line, finding.severity))
    return found


def test_each_rule_names_its_kind_file_and_line() -> None:
    found = by_kind(
        [
            ("aff.md", post_text("Buy [oats](https://amzn.to/oats).", slug="aff")),
            ("alt.md", post_text("![](https://blog.example/pic.png)", slug="alt")),
            ("www.md", post_text("See [this](www.example.com/page).", slug="www")),
            ("js.md", post_text('<a href="javascript:alert(1)">x</a>', slug="js")),
            ("late.md", post_text("Body.", slug="late", modified_at="2026-01-01T00:00:00Z")),
        ]
    )
    # post_text writes title, date, slug (and the rest) on lines 2-4, the body on line 7
    assert found["undisclosed-affiliate"] == [("aff.md", 7, "error")]
    assert found["missing-alt"] == [("alt.md", 7, "error")]
    assert found["not-a-web-address"] == [("www.md", 7, "error"), ("js.md", 7, "error")]
    assert found["modified-before-published"] == [("late.md", 5, "warning")]


def test_a_duplicate_identity_and_an_unreadable_post_are_errors_in_file_order() -> None:
    findings = check_posts(
        [
            ("a.md", post_text(slug="same").encode()),
            ("b.md", b"no front matter"),
            ("c.md", post_text(slug="same").encode()),
        ],
        CONFIG,
    )
    assert [(f.file, f.kind, f.line) for f in findings] == [
        ("b.md", "unreadable", 1),
        ("c.md", "unreadable", 4),  # its slug: line
    ]
    assert "same identity 'same' as a.md" in findings[1].message


def test_an_excerpt_that_cuts_a_disclosure_short_is_an_error() -> None:
    text = post_text(
        "⚕️ **Medical disclosure:** Not advice, ever.\n\nText.",
        slug="x",
        excerpt="Medical disclosure: Not",
    )
    assert by_kind([("x.md", text)])["excerpt-cuts-disclosure"] == [("x.md", 5, "error")]


def manifest_files(html: bytes) -> dict[str, bytes]:
    manifest = Manifest(
        "2026-05-01-abc",
        "Subject",
        "Pre",
        "2026-05-01T00:00:00+00:00",
        "digest",
        (),
        len(html),
        {"email.html": hashlib.sha256(html).hexdigest()},
    )
    return {"email/x/manifest.json": manifest.to_bytes(), "email/x/email.html": html}


def test_outputs_that_do_not_parse_or_changed_since_written_are_errors() -> None:
    files = {
        "feed.xml": b"<rss><channel></rss>",
        "feed.json": b"{not json",
        **manifest_files(b"<p>fine</p>"),
    }
    assert [f.kind for f in check_outputs(files, CONFIG)] == ["bad-json", "bad-xml"]
    files["email/x/email.html"] = b"<p>edited by hand</p>"
    [changed] = [f for f in check_outputs(files, CONFIG) if f.kind == "email-changed"]
    assert changed.file == "out/email/x/email.html"


def test_an_email_over_gmails_clipping_size_is_an_error() -> None:
    kinds = [f.kind for f in check_outputs(manifest_files(b"x" * 102_000), CONFIG)]
    assert kinds == ["email-clipped"]


def test_configuration_problems_become_one_finding_each() -> None:
    message = "newsletter.toml: 2 problem(s):\n  - [site] url: missing\n  - [feed] limit: bad"
    findings = config_findings(message, "newsletter.toml")
    assert [f.message for f in findings] == ["[site] url: missing", "[feed] limit: bad"]
    assert {f.severity for f in findings} == {"error"}
