"""Anything that can land in content/: the bad-post corpus, attacks, and a fuzzer."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from pipeline.core.errors import PostError
from pipeline.shell.files import read_limited
from tests.conftest import SITE_TOML, Site

CORPUS = Path(__file__).parent / "corpus"

# file -> ("rejected", what the message must say) or ("built", what must hold)
REJECTED = {
    "broken-yaml.md": "broken-yaml.md:4: front matter is not valid YAML",
    "no-front-matter.md": "no-front-matter.md:1: has no front matter",
    "not-a-mapping.md": "not-a-mapping.md:2: front matter is a list, not a set of",
    "missing-date.md": "missing-date.md: has no publication date",
    "impossible-date.md": "impossible-date.md: 'date' '2026-13-45' is not a real date",
    "not-utf8.md": "not-utf8.md: is not UTF-8 text (byte 53 is 0xe9)",
    "empty-file.md": "empty-file.md:1: has no front matter",
    "duplicate-b.md": "duplicate-b.md: has the same identity '77' as duplicate-a.md",
    "title-not-text.md": "title-not-text.md: 'title' must be text, not list",
    "yaml-object-tag.md": "yaml-object-tag.md:2: front matter uses a YAML tag that builds objects",
    "yaml-alias-bomb.md": "yaml-alias-bomb.md:1: front matter holds more than 10,000 values",
}
BUILT = {
    "naive-date.md": "2026-05-01T09:30:00+01:00",  # Europe/London summer time
    "yaml-dates.md": "2026-05-02T00:00:00+01:00",
    "epoch-number.md": "2026-05-02T00:00:00+00:00",
    "single-tag-string.md": "2026-05-04T00:00:00+00:00",
    "bom-crlf.md": "2026-05-05T00:00:00+00:00",
    "empty-body.md": "2026-05-07T00:00:00+00:00",
    "duplicate-a.md": "2026-05-08T00:00:00+00:00",
    "modified-before-published.md": "2026-05-10T00:00:00+00:00",
    "emoji-rtl.md": "2026-05-11T00:00:00+00:00",
    "control-characters.md": "2026-05-12T00:00:00+00:00",
    "very-long-title.md": "2026-05-13T00:00:00+00:00",
}


def corpus_site(root: Path) -> Site:
    site = Site(root, SITE_TOML.replace('timezone = "UTC"', 'timezone = "Europe/London"'))
    for path in sorted(CORPUS.glob("*.md")):
        if path.name != "README.md":
            site.write(path.name, path.read_bytes())
    return site


def test_every_corpus_file_is_listed_here() -> None:
    names = {p.name for p in CORPUS.glob("*.md")} - {"README.md"}
    assert names == set(REJECTED) | set(BUILT)


def test_bad_posts_are_rejected_by_name_the_rest_build_exit_1(tmp_path: Path) -> None:
    site = corpus_site(tmp_path / "site")
    result = site.build("--since", "2026-01-01", now="2026-06-01T00:00:00+00:00", code=1)
    output = result.output
    assert "Traceback" not in output
    for message in REJECTED.values():
        assert f"error: {message}" in output, message
    assert output.count("hint: ") >= len(REJECTED)
    assert "modified-before-published.md: 'modified_at'" in output  # a warning, still built
    items = json.loads(site.read("feed.json"))["items"]
    by_date = {item["date_published"]: item for item in items}
    assert sorted(by_date) == sorted(BUILT.values())
    assert by_date["2026-05-12T00:00:00+00:00"]["title"] == "Controlchars"
    assert "\x07" not in site.read("feed.xml") and "\x1b" not in site.read("atom.xml")
    assert by_date["2026-05-11T00:00:00+00:00"]["title"] == "נדודי שינה 🌙 and emoji ✨"
    assert by_date["2026-05-04T00:00:00+00:00"]["tags"] == ["Wellness", "sleep"]
    assert "<p>Second paragraph.</p>" in by_date["2026-05-05T00:00:00+00:00"]["content_html"]
    assert by_date["2026-05-07T00:00:00+00:00"]["content_html"] == ""
    for name in ("feed.xml", "atom.xml"):
        assert feedparser.parse(site.read(name)).bozo == 0
    [email] = site.emails()
    subject = json.loads((email / "manifest.json").read_text())["subject"]
    assert len(subject) <= 200 and subject.endswith("…")
    assert not Path("/tmp/pwned").exists()


# --- attacks ------------------------------------------------------------------

EVIL = '<script>alert(1)</script><iframe src="https://evil.example/"></iframe>'
EVIL_ATTR = '<img src="x.png" alt="x" onerror="alert(2)"><a href="javascript:alert(3)">j</a>'


class _Markup(HTMLParser):
    """Collects executable markup: dangerous tags, event attributes, script URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "style", "link", "base", "form"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}@{name}")
            if value and re.match(r"\s*(javascript|vbscript|data):", value, re.IGNORECASE):
                self.found.append(f"{tag}@{name}={value}")


def executable_markup(fragment: str, allow_style: bool = False) -> list[str]:
    parser = _Markup()
    parser.feed(fragment)
    return [f for f in parser.found if not (allow_style and f == "<style>")]


def html_fields(site: Site) -> dict[str, str]:
    """Every piece of HTML our outputs carry, as a reader or mail client would get it."""
    fields: dict[str, str] = {}
    for name in ("feed.xml", "atom.xml"):
        for index, entry in enumerate(
            feedparser.parse(site.read(name), sanitize_html=False).entries
        ):
            fields[f"{name}[{index}].content"] = entry.content[0].value
            if entry.summary_detail.type == "text/html":  # Atom's type="text" is shown as text
                fields[f"{name}[{index}].summary"] = entry.summary
    for index, item in enumerate(json.loads(site.read("feed.json"))["items"]):
        fields[f"feed.json[{index}]"] = item["content_html"]
    for folder in site.emails():
        fields[f"{folder.name}/email.html"] = (folder / "email.html").read_text()
    return fields


def test_scripts_and_event_handlers_never_reach_any_output(site: Site) -> None:
    site.post(
        "evil.md",
        f'Body {EVIL} {EVIL_ATTR}\n\n<div onclick="alert(4)">div</div>\n\n[x](javascript:alert(5))',
        date="2026-05-30T00:00:00+00:00",
        slug="evil",
        title=f"Title {EVIL}",
        excerpt=f"Excerpt {EVIL_ATTR}",
        categories=[f"Cat {EVIL}"],
    )
    site.build("--since", "2026-05-01")
    mode = SITE_TOML.replace("[email]", '[email]\nmode = "per-post"')
    (site.root / "newsletter.toml").write_text(mode)
    site.post(
        "evil2.md", f"Per-post {EVIL} {EVIL_ATTR}", date="2026-05-31T00:00:00+00:00", slug="e2"
    )
    site.build()
    fields = html_fields(site)
    assert len(site.emails()) == 2
    for where, fragment in fields.items():
        allow = where.endswith("email.html")  # the email's own <style> block
        assert executable_markup(fragment, allow_style=allow) == [], where
    # the text survives as text
    assert "Title &lt;script&gt;" in fields[f"{site.emails()[0].name}/email.html"]
    atom = feedparser.parse(site.read("atom.xml"))
    assert atom.entries[-1].title.startswith("Title <script>")


def test_post_styles_and_links_cannot_restyle_the_email_or_make_premailer_fetch(
    site: Site,
) -> None:
    requests: list[str] = []

    class Spy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"body { display: none !important; }")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Spy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spy = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        body = (
            f'<link rel="stylesheet" href="{spy}/post.css">\n\n'
            f"<style>@import url({spy}/import.css); body {{ display: none }}</style>\n\n"
            f'<p style="background:url({spy}/inline.png)">Styled?</p>'
        )
        (site.root / "newsletter.toml").write_text(
            SITE_TOML.replace("[email]", '[email]\nmode = "per-post"')
        )
        templates = site.root / "templates" / "email"
        templates.mkdir(parents=True)
        css = Path(__file__).parent.parent / "templates" / "email" / "email.css"
        (templates / "email.css").write_text(f"@import url({spy}/site.css);\n" + css.read_text())
        site.post("a.md", body, date="2026-05-30T00:00:00+00:00", slug="a")
        site.build("--since", "2026-05-01")
    finally:
        server.shutdown()
        server.server_close()
    assert requests == []
    html = (site.emails()[0] / "email.html").read_text()
    assert "display: none }" not in html and "display:none !important" not in html
    assert f"{spy}/post.css" not in html and f"{spy}/inline.png" not in html


def test_paths_from_post_data_stay_inside_out(site: Site, tmp_path: Path) -> None:
    site.post(
        "a.md",
        date="2026-05-30T00:00:00+00:00",
        id="../../../../tmp/escape",
        slug="../../escape",
        url="https://blog.example/../../x/",
        categories=["../../../etc", "/absolute", "..", "C:\\windows"],
        tags=["../tag"],
    )
    (site.root / "newsletter.toml").write_text(SITE_TOML + "\n[feed]\ntag_feeds = true\n")
    site.build("--since", "2026-05-01")
    out = site.out.resolve()
    for path in site.out.rglob("*"):
        assert path.resolve().is_relative_to(out)
        assert ".." not in path.relative_to(site.out).parts
    assert not (tmp_path / "escape").exists() and not Path("/tmp/escape").exists()


def test_symlinks_leaving_content_are_not_followed(site: Site, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "private.md").write_text(
        "---\ntitle: Private diary\ndate: 2026-05-01\n---\nSecret.\n"
    )
    (site.content / "linked.md").symlink_to(secret / "private.md")
    (site.content / "linked-folder").symlink_to(secret, target_is_directory=True)
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="Public")
    result = site.build("--since", "2026-05-01")
    assert "a symlink to outside content/; skipped" in result.output
    for data in site.files().values():
        assert b"Private diary" not in data and b"Secret." not in data


def test_a_20_mb_post_is_refused_quickly_with_a_clear_message(site: Site) -> None:
    site.write("huge.md", "---\ntitle: Huge\ndate: 2026-05-30\n---\n" + "word " * 4_000_000)
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))\n"
        "from pipeline.shell.cli import main\n"
        "sys.argv = ['newsletter', *sys.argv[1:]]\n"
        "main()\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "build",
            "--site",
            str(site.root),
            "--now",
            "2026-06-01T00:00:00+00:00",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "huge.md: is 20.0 MB, over the 2.0 MB limit" in result.stderr
    assert "raise [build] max_post_bytes" in result.stderr
    assert (site.out / "feed.xml").is_file()


@pytest.mark.parametrize("size", [0, 1, 4095, 65536, 200_001])
def test_a_post_is_read_whole_in_one_read_or_refused_over_the_limit(
    tmp_path: Path, size: int
) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "post.md"
    path.write_bytes(data)
    assert read_limited(path, "post.md", 200_001) == data
    if size:
        with pytest.raises(PostError, match="post.md: is .* MB, over the"):
            read_limited(path, "post.md", size - 1)


def test_pathological_markdown_is_handled(site: Site) -> None:
    deep = "> " * 500 + "quote\n\n" + "[" * 5000 + "\n\n" + "*" * 5000 + "\n\n" + "<div>" * 2000
    site.post("deep.md", deep, date="2026-05-30T00:00:00+00:00", slug="deep")
    site.build("--since", "2026-05-01")
    etree.fromstring(site.files()["atom.xml"])
    feed = feedparser.parse(site.read("atom.xml"))
    [entry] = feed.entries
    assert feed.bozo == 0 and entry.title == "A Post"
    content = entry.content[0].value
    assert "quote" in content  # the 500-deep quote keeps its words
    assert 0 < content.count("<blockquote>") <= 100  # nesting is capped, not followed down
    assert "[" * 1000 in content  # a run of brackets stays text
    assert "<hr" in content  # a line of stars is a thematic break, as CommonMark says
    assert content.count("<div") == content.count("</div>") > 0  # unclosed divs are closed
    [email] = site.emails()
    text = (email / "email.txt").read_text(encoding="utf-8")
    assert "A Post" in text and "[" * 200 in text  # the excerpt: the first paragraph, cut


def test_markdown_nested_as_deep_as_a_post_can_hold_is_built(site: Site) -> None:
    """The parser recurses once per level: emphasis and images nested 100,000s deep
    would overflow the stack and kill the build without a word (in a process of its
    own here, so a crash fails this test instead of ending the run)."""
    site.post(
        "emphasis.md",
        "*" * 400_000 + "deepest" + "*" * 400_000 + "\n\nAfter.",
        date="2026-05-30T00:00:00+00:00",
        slug="emphasis",
    )
    site.post(
        "images.md",
        "![" * 100_000 + "alt" + "](i.png)" * 100_000,
        date="2026-05-29T00:00:00+00:00",
        slug="images",
    )
    site.post(
        "quotes.md", ("> - 1. " * 100_000 + "q\n") * 2, date="2026-05-28T00:00:00+00:00", slug="q"
    )
    result = build_in_a_process(site, "--since", "2026-05-01")
    assert result.returncode == 0, result.stderr[-2000:]
    feed = site.read("feed.xml")
    assert "deepest" in feed and "After." in feed


def test_corpus_never_shows_a_traceback_from_the_command_line(tmp_path: Path) -> None:
    site = corpus_site(tmp_path / "site")
    result = build_in_a_process(site, "--now", "2026-06-01T00:00:00+00:00")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout


def build_in_a_process(site: Site, *options: str) -> subprocess.CompletedProcess[str]:
    """`newsletter build` as the command line runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "build", "--site", str(site.root), *options],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_post_files_are_found_by_suffix_in_any_case_and_hidden_folders_skipped(
    tmp_path: Path,
) -> None:
    from pipeline.shell.scan import find_posts

    for name in (
        "a.md",
        "B.MD",
        "2026/c.Markdown",
        "d.markdown",
        "notes.txt",
        "e.md.bak",
        ".drafts/f.md",
        "_private/g.md",
        "2026/.h.md",
        "2026/_drafts/i.md",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [entry.relative for entry in find_posts(tmp_path)]
    assert found == ["2026/c.Markdown", "B.MD", "a.md", "d.markdown"]


def test_a_walk_that_does_not_stat_sees_the_same_files_and_says_it_did_not(
    tmp_path: Path,
) -> None:
    from pipeline.shell.scan import scan

    for name in ("a.md", "2026/b.md", "2026/deep/c.md", ".hidden/d.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x" * len(name))
    (tmp_path / "link.md").symlink_to(tmp_path / "a.md")
    looked, unlooked = scan(tmp_path), scan(tmp_path, stat=False)
    assert [(e.path, e.relative, e.symlink) for e in unlooked] == [
        (e.path, e.relative, e.symlink) for e in looked
    ]
    assert {(e.size, e.mtime_ns, e.stat) for e in unlooked} == {(-1, -1, "")}
    assert all(e.size == len(e.relative) or e.symlink for e in looked)
