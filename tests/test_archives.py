"""Archives from other tools, built as a migrating blogger would: a small Jekyll site
and a small Hugo site give a reviewed out/ (golden), their feeds read in feedparser
and newsboat without a trace of template syntax, and what cannot be resolved is
held back or stripped, reported by file and line, and never shown as text."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result

from pipeline.shell.cli import cli
from tests.realtools import newsboat_items
from tests.test_golden import readable_diff

ARCHIVES = Path(__file__).parent / "archives"
GOLDEN = Path(__file__).parent / "golden"
NOW = "2026-06-01T00:00:00+00:00"
SINCE = "2024-01-01T00:00:00+00:00"
TEMPLATE_SYNTAX = re.compile(r"\{%|%\}|\{\{|\}\}|\[/?(?:caption|gallery|embed)\b")
# The posts' own sentences that show template syntax on purpose: Jekyll's raw and
# Hugo's escape.
SHOWN_ON_PURPOSE = re.compile(
    r"<p\b[^>]*>(Liquid written for readers|To show a shortcode).*?</p>", re.DOTALL
)


def prose(html: str) -> str:
    """What a reader sees as text: code and the sentences above taken out."""
    html = re.sub(r"<(pre|code)\b.*?</\1>", "", html, flags=re.DOTALL)
    return SHOWN_ON_PURPOSE.sub("", html)


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    return result


def copy_site(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(ARCHIVES / name, root)
    return root


def built(name: str, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = copy_site(name, tmp_path)
    run("build", "--site", str(root), "--now", NOW, "--since", SINCE)
    out = root / "out"
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return root, files


@pytest.mark.parametrize("name", ["jekyll-site", "hugo-site"])
def test_an_archive_s_out_matches_golden(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    _root, files = built(name, tmp_path)
    golden = GOLDEN / name
    if request.config.getoption("--update-golden"):
        shutil.rmtree(golden, ignore_errors=True)
        for relative, data in files.items():
            (golden / relative).parent.mkdir(parents=True, exist_ok=True)
            (golden / relative).write_bytes(data)
        pytest.skip("golden files rewritten; review `git diff tests/golden`")
    expected = {
        p.relative_to(golden).as_posix(): p.read_bytes() for p in golden.rglob("*") if p.is_file()
    }
    assert sorted(files) == sorted(expected), "a different set of files was written"
    problems = [
        readable_diff(n, expected[n], files[n]) for n in sorted(files) if files[n] != expected[n]
    ]
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("name", ["jekyll-site", "hugo-site"])
def test_no_template_syntax_reaches_a_reader_outside_code(name: str, tmp_path: Path) -> None:
    root, files = built(name, tmp_path)
    feed = feedparser.parse(files["feed.xml"])
    assert not feed.bozo and len(feed.entries) == 3
    for entry in feed.entries:
        assert not TEMPLATE_SYNTAX.search(prose(entry.content[0].value)), entry.link
        assert "iframe" not in entry.content[0].value
    kept = newsboat_items(root / "out" / "feed.xml", tmp_path / "newsboat")
    assert sorted((e.id, e.title) for e in feed.entries) == [(g, t) for g, t, _c in kept]
    for _guid, _title, content in kept:
        assert not TEMPLATE_SYNTAX.search(prose(content))


def test_jekyll_links_point_at_the_posts_and_pages_of_the_old_site(tmp_path: Path) -> None:
    _root, files = built("jekyll-site", tmp_path)
    feed = feedparser.parse(files["feed.xml"])
    by_link = {e.link: e.content[0].value for e in feed.entries}
    welcome = by_link["https://jekyll.example/blog/news/2024/01/10/welcome.html"]
    assert 'href="https://jekyll.example/blog/docs/history.html"' in welcome
    assert 'href="https://jekyll.example/blog/about/"' in welcome
    code = "https://jekyll.example/blog/ruby/static-sites/2024/02/14/liquid-in-code.html"
    assert f'href="{code}"' in welcome
    assert 'src="https://jekyll.example/blog/assets/logo.png"' in welcome
    assert "this paragraph comes from an include" in welcome and "note to self" not in welcome
    assert '<code class="language-ruby">' in by_link[code]
    assert "{{ post.title }}" in by_link[code], "Liquid shown as code stays as written"


def test_hugo_refs_figures_and_embeds(tmp_path: Path) -> None:
    _root, files = built("hugo-site", tmp_path)
    items = json.loads(files["feed.json"])["items"]
    by_url = {item["url"]: item["content_html"] for item in items}
    hello = by_url["https://hugo.example/posts/2024/04/hello-hugo-first-steps/"]
    assert 'href="https://hugo.example/posts/2024/05/a-trip-to-the-coast/"' in hello
    assert 'href="https://hugo.example/posts/2024/04/code-samples/#setup"' in hello
    assert '<figure><a href="https://hugo.example/images/map-large.png"><img' in hello
    assert "<figcaption>The route, <em>roughly</em></figcaption>" in hello
    assert 'href="https://www.youtube.com/watch?v=w7Ft2ymGmfc"' in hello
    trip = by_url["https://hugo.example/posts/2024/05/a-trip-to-the-coast/"]
    assert 'src="https://hugo.example/posts/2024/05/a-trip-to-the-coast/beach.jpg"' in trip


UNKNOWN = "\n\n{% if site.comments %}Comments are open.{% endif %}\n"


def test_an_unknown_tag_holds_the_post_back_and_check_names_each(tmp_path: Path) -> None:
    root = copy_site("jekyll-site", tmp_path)
    post = root / "_posts" / "2024-03-05-a-special-place.md"
    post.write_text(post.read_text() + UNKNOWN)
    result = run("build", "--site", str(root), "--now", NOW, "--since", SINCE, code=1)
    assert "2024-03-05-a-special-place.md:14: the Liquid tag {% if %}" in result.output
    assert "(and 1 more)" in result.output
    feed = (root / "out" / "feed.xml").read_text()
    assert "special" not in feed and "Comments are open" not in feed
    check = run("check", "--site", str(root), code=1)
    assert check.output.count("2024-03-05-a-special-place.md:14: error:") == 2
    assert "{% endif %}" in check.output


def test_strip_publishes_the_post_without_the_tag_and_warns(tmp_path: Path) -> None:
    root = copy_site("jekyll-site", tmp_path)
    toml = root / "newsletter.toml"
    toml.write_text(
        toml.read_text().replace("[email]", '[build]\nunknown_tags = "strip"\n\n[email]')
    )
    post = root / "_posts" / "2024-03-05-a-special-place.md"
    post.write_text(post.read_text() + UNKNOWN)
    result = run("build", "--site", str(root), "--now", NOW, "--since", SINCE)
    assert "warning: 2024-03-05-a-special-place.md: the Liquid tag {% if %}" in result.output
    feed = (root / "out" / "feed.xml").read_text()
    assert "Comments are open." in feed and "{% if site" not in feed
    other = root / "_posts" / "2024-01-10-welcome.md"
    other.write_text(other.read_text() + "\nEdited.\n")
    again = run("build", "--site", str(root), "--now", NOW)
    assert "the Liquid tag {% if %}" in again.output, "warned again by a build that reads"


@pytest.mark.parametrize(
    ("label", "breakage"),
    [
        ("YAML", lambda text: text.replace('title: "A special place"', 'title: "A special: [')),
        ("unknown tag", lambda text: text + UNKNOWN),
        ("date", lambda text: text.replace("2024-03-05T07:00:00Z", "2024-13-45")),
    ],
)
def test_a_published_post_that_breaks_keeps_its_last_version_in_the_feeds(
    label: str, breakage: object, tmp_path: Path
) -> None:
    root = copy_site("jekyll-site", tmp_path)
    run("build", "--site", str(root), "--now", NOW, "--since", SINCE)
    out = root / "out"
    before = {name: (out / name).read_bytes() for name in ("feed.xml", "atom.xml", "feed.json")}
    post = root / "_posts" / "2024-03-05-a-special-place.md"
    assert callable(breakage)
    post.write_text(breakage(post.read_text()))
    for day in ("02", "03"):  # every build names it, and the feeds stay as they were
        result = run("build", "--site", str(root), "--now", f"2026-06-{day}T00:00:00+00:00", code=1)
        assert "2024-03-05-a-special-place.md" in result.output, label
        assert "its last published version stays in the feeds until it is fixed" in result.output
        for name, data in before.items():
            assert (out / name).read_bytes() == data, (label, name)
    full = run("build", "--site", str(root), "--full-scan", "--now", NOW, code=1)
    assert "last published version stays" in full.output
    assert (out / "feed.xml").read_bytes() == before["feed.xml"]
    post.write_text((ARCHIVES / "jekyll-site/_posts/2024-03-05-a-special-place.md").read_text())
    run("build", "--site", str(root), "--now", "2026-06-04T00:00:00+00:00")
    assert len(list((out / "email").iterdir())) == 1, "fixing it mails nobody again"


def test_a_moved_target_re_renders_the_posts_that_link_to_it(tmp_path: Path) -> None:
    root = copy_site("jekyll-site", tmp_path)
    run("build", "--site", str(root), "--now", NOW, "--since", SINCE)
    target = root / "_posts" / "2024-02-14-liquid-in-code.md"
    target.write_text(
        target.read_text().replace("layout: post", "layout: post\npermalink: /moved/")
    )
    run("build", "--site", str(root), "--now", "2026-06-02T00:00:00+00:00")
    feed = feedparser.parse((root / "out" / "feed.xml").read_bytes())
    welcome = next(e for e in feed.entries if e.link.endswith("welcome.html"))
    assert 'href="https://jekyll.example/blog/moved/"' in welcome.content[0].value


def test_an_edited_include_re_renders_the_posts_that_use_it(tmp_path: Path) -> None:
    root = copy_site("jekyll-site", tmp_path)
    run("build", "--site", str(root), "--now", NOW, "--since", SINCE)
    (root / "_includes" / "note.html").write_text("<p>The include, edited.</p>\n")
    post = root / "_posts" / "2024-02-14-liquid-in-code.md"  # any change: not the quick exit
    post.write_text(post.read_text() + "\nOne more line.\n")
    run("build", "--site", str(root), "--now", "2026-06-02T00:00:00+00:00")
    assert "The include, edited." in (root / "out" / "feed.xml").read_text()


def test_check_migrating_shows_whether_the_move_is_safe(tmp_path: Path) -> None:
    root = copy_site("jekyll-site", tmp_path)
    safe = run("check", "--migrating", "--site", str(root))
    lines = safe.output.splitlines()
    assert lines[0] == "3 post(s) read"
    assert "      2  Jekyll post_url" in lines and "      1  Jekyll include" in lines
    assert "template tags left: 0 (a build holds the post back: [build] unknown_tags)" in lines
    assert (
        "  2024-01-10-welcome.md -> https://jekyll.example/blog/news/2024/01/10/welcome.html"
        in lines
    )
    assert lines[-1].startswith("the move is safe")
    post = root / "_posts" / "2024-03-05-a-special-place.md"
    post.write_text(post.read_text() + UNKNOWN + "\n[x]({% post_url 1999-01-01-gone %})\n")
    unsafe = run("check", "--migrating", "--site", str(root), "--json", code=1)
    report = json.loads(unsafe.output)
    assert [p["where"] for p in report["left"]] == ["2024-03-05-a-special-place.md:14"] * 2
    assert report["unresolved"][0]["where"] == "2024-03-05-a-special-place.md:16"
    assert report["rejected"] == [
        {"where": "2024-03-05-a-special-place.md:14", "what": "template syntax left"}
    ]
    assert report["safe"] is False


def test_a_dry_run_resolves_a_link_to_a_post_it_did_not_read_again(tmp_path: Path) -> None:
    """A dry run (status, preview) asks the post index about the unchanged posts: a
    new post's link to one of them still finds its URL, not the home page."""
    root = copy_site("jekyll-site", tmp_path)
    run("build", "--site", str(root), "--now", NOW, "--since", SINCE)
    (root / "_posts" / "2026-06-01-new.md").write_text(
        "---\ntitle: New\ndate: 2026-06-01 09:00:00 +0000\n---\n"
        "See [the welcome]({% post_url 2024-01-10-welcome %}).\n"
    )
    later = "2026-06-02T00:00:00+00:00"
    dry = run("build", "--dry-run", "--json", "--site", str(root), "--now", later)
    assert json.loads(dry.stdout)["new"] == ["2026-06-01-new.md"], dry.output
    assert "names no post" not in dry.output
    run("build", "--site", str(root), "--now", later)
    feed = (root / "out" / "feed.xml").read_text()
    assert "https://jekyll.example/blog/news/2024/01/10/welcome.html" in feed
