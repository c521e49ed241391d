"""The author's desk: `check`, `status` and `preview`, run as the author runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.shell.cli import cli
from tests.conftest import SITE_TOML, Site, post_text
from tests.realtools import CHROMIUM_FLAGS, require

NOW = "2026-06-01T12:00:00+00:00"


def run(site: Site, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--site", str(site.root), "--now", NOW])
    return result.exit_code, result.output


# --- check ------------------------------------------------------------------

BAD_POSTS = {
    "broken-yaml.md": "---\ntitle: [oops\ndate: 2026-05-01\n---\nBody.\n",
    "impossible-date.md": "---\ntitle: T\ndate: 2026-02-30\n---\nBody.\n",
    "no-date.md": "---\ntitle: T\n---\nBody.\n",
    "undisclosed.md": post_text("Buy [oats](https://amzn.to/oats).", slug="undisclosed"),
    "no-alt.md": post_text("Look:\n\n![](/img/cat.jpg)", slug="no-alt"),
    "bad-link.md": post_text(
        "See [this](www.example.com/page) and [that](http//x.example/).", slug="bad-link"
    ),
    "cut.md": post_text(
        "Intro.\n\n**Affiliate disclosure:** I earn from links like [this](https://amzn.to/x).",
        slug="cut",
        excerpt="Intro. Affiliate disclosure: I earn from…",
    ),
    "twin-a.md": post_text("A.", slug="same"),
    "twin-b.md": post_text("B.", slug="same"),
}
EXPECTED = {
    "broken-yaml.md:3": "front matter is not valid YAML",
    "impossible-date.md": "'date' '2026-02-30' is not a real date",
    "no-date.md": "has no publication date",
    "undisclosed.md:7": "has affiliate links (https://amzn.to/oats) but no affiliate disclosure",
    "no-alt.md:9": "image https://blog.example/img/cat.jpg has no alt text",
    "bad-link.md:7": "link 'www.example.com/page' looks like a web address without its https://",
    "cut.md:5": "the excerpt cuts the affiliate disclosure short",
    "twin-b.md": "has the same identity 'same' as twin-a.md",
}


def test_check_reports_each_bad_post_by_file_and_line_and_exits_1(site: Site) -> None:
    for name, text in BAD_POSTS.items():
        site.write(name, text)
    site.post("fine.md", "All good.", slug="fine")
    code, output = run(site, "check")
    assert code == 1
    for where, message in EXPECTED.items():
        assert any(line.startswith(where) and message in line for line in output.splitlines()), (
            where,
            message,
            output,
        )
    assert "hint:" in output and "Traceback" not in output
    assert "fine.md" not in output


def test_check_json_for_machines(site: Site) -> None:
    site.write("no-date.md", BAD_POSTS["no-date.md"])
    code, output = run(site, "check", "--json")
    assert code == 1
    report = json.loads(output)
    [finding] = report["findings"]
    assert finding["file"] == "no-date.md" and finding["severity"] == "error"
    assert finding["hint"].startswith("add published_at:")


def test_check_naive_dates_without_time_zone_are_warnings(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site(toml=SITE_TOML.replace('timezone = "UTC"\n', ""))
    site.write("naive.md", "---\ntitle: T\ndate: 2026-05-01 10:00\n---\nBody.\n")
    code, output = run(site, "check")
    assert code == 0
    assert "naive.md:3: warning: 'date' has no time zone and [site] timezone is not set" in output
    assert run(site, "check", "--strict")[0] == 1


def test_check_reports_missing_unsubscribe_and_postal_address(make_site) -> None:  # type: ignore[no-untyped-def]
    toml = SITE_TOML.replace('unsubscribe_url = "https://blog.example/unsubscribe/"\n', "")
    site = make_site(toml=toml.replace('postal_address = "1 Test Street, Testville"\n', ""))
    site.write("no-date.md", BAD_POSTS["no-date.md"])
    code, output = run(site, "check")
    assert code == 1
    assert "newsletter.toml: error: [email] unsubscribe_url: missing" in output
    assert "newsletter.toml: error: [email] postal_address: missing" in output
    assert "no-date.md: error: has no publication date" in output  # posts still checked


def test_check_validates_the_outputs(site: Site) -> None:
    site.post("a.md", "Body.", date="2026-05-30T00:00:00+00:00", slug="a")
    site.build("--since", "2026-05-01", now=NOW)
    assert run(site, "check")[0] == 0
    [folder] = site.emails()
    (folder / "email.txt").write_text("tampered")
    (site.out / "feed.xml").write_text("<rss><channel>")
    code, output = run(site, "check")
    assert code == 1
    assert f"out/email/{folder.name}/email.txt: error: missing or changed" in output
    assert "out/feed.xml:1: error: not well-formed XML" in output


# --- status -----------------------------------------------------------------


def test_status_before_and_after_a_build(site: Site) -> None:
    site.post("old.md", date="2026-05-01T00:00:00+00:00", slug="old", title="Old")
    site.build(now="2026-05-02T00:00:00+00:00")
    site.post("new.md", date="2026-05-30T00:00:00+00:00", slug="new", title="New")
    site.post("later.md", date="2026-07-01T09:00:00+00:00", slug="later", title="Later")
    code, before = run(site, "status")
    assert code == 0
    assert "write an email: 'New' (1 new, 0 updated)" in before
    assert "new: new.md" in before
    assert "scheduled: later.md at 2026-07-01T09:00:00+00:00" in before
    assert "2026-05-02T00:00:00+00:00: 0 new, 0 modified, 0 removed; no email" in before
    assert "Emails in out/email/: none" in before
    site.build(now=NOW)
    code, after = run(site, "status", "--json")
    status = json.loads(after)
    assert status["would"]["emails"] == [] and status["would"]["new"] == []
    [email] = status["emails_on_disk"]
    assert email["subject"] == "New" and email["recorded"] is True
    assert status["last_builds"][0]["new"] == ["new"]
    assert not (site.root / "out" / "email" / "x").exists()


def test_status_and_preview_never_touch_the_ledger_or_out(site: Site) -> None:
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a")
    run(site, "status")
    assert not site.out.exists() and not (site.root / ".newsletter").exists()
    run(site, "check")  # keeps what it found, beside the cache, and nothing else
    assert not site.out.exists()
    assert [p.name for p in (site.root / ".newsletter").iterdir()] == ["check.sqlite"]


# --- preview, in a real browser -----------------------------------------------


@pytest.fixture
def preview_server(site: Site) -> Iterator[tuple[Site, str]]:
    site.post(
        "a.md",
        "Body of A.",
        date="2026-05-30T00:00:00+00:00",
        slug="a",
        title="First title",
        excerpt="An excerpt for the preheader.",
    )
    site.post("b.md", "Body of B.", date="2026-05-01T00:00:00+00:00", slug="b", title="Older post")
    site.build(now="2026-05-02T00:00:00+00:00")  # b is known; a is what the next email brings
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "preview",
            "--site",
            str(site.root),
            "--no-open",
            "--now",
            NOW,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Preview at http://127.0.0.1:"), line
        yield site, line.split()[2]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_preview_shows_the_next_email_and_reloads_on_every_change(preview_server) -> None:  # type: ignore[no-untyped-def]
    require("chromium")
    from playwright.sync_api import expect, sync_playwright

    site, url = preview_server
    before = site.files()
    ledger = (site.root / ".newsletter" / "ledger.sqlite").read_bytes()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=require("chromium"),
            args=[flag for flag in CHROMIUM_FLAGS if flag != "--headless"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        expect(page.locator("#subject")).to_have_text("First title")
        expect(page.locator("#preheader")).to_contain_text("An excerpt for the preheader.")
        widths = page.eval_on_selector_all(
            "iframe.email", "frames => frames.map(f => f.clientWidth)"
        )
        assert widths == [375, 800, 375, 800]  # the viewports inside the frames
        frame = page.frame_locator("iframe.phone").first
        expect(frame.locator(".post-title")).to_have_text("First title")
        expect(page.locator("#size")).to_contain_text("of Gmail's 102,000")
        expect(page.locator("#checks")).to_contain_text("No problems found")
        expect(page.locator("#text")).to_contain_text("Read more: https://blog.example/a/")

        # Edit the post: the page follows without a manual reload.
        site.post(
            "a.md",
            "Body of A.",
            date="2026-05-30T00:00:00+00:00",
            slug="a",
            title="Second title",
            excerpt="An excerpt for the preheader.",
        )
        started = time.monotonic()
        expect(frame.locator(".post-title")).to_have_text("Second title", timeout=5000)
        expect(page.locator("#subject")).to_have_text("Second title")
        assert time.monotonic() - started < 3

        # Break a template: a readable error page; fix it: the email is back.
        templates = site.root / "templates" / "email"
        templates.mkdir(parents=True)
        (templates / "digest.html").write_text("{% for x in %}broken")
        expect(page.locator("#problem")).to_contain_text("email template", timeout=5000)
        expect(page.locator("#problem")).not_to_contain_text("Traceback")
        (templates / "digest.html").unlink()
        expect(page.locator("#subject")).to_have_text("Second title", timeout=5000)

        # A broken post: named on the page, and the page recovers when it is fixed.
        site.write("a.md", "---\ntitle: [oops\n---\n")
        expect(page.locator("#problem")).to_contain_text("a.md:3", timeout=5000)
        site.post("a.md", "Body.", date="2026-05-30T00:00:00+00:00", slug="a", title="Third")
        expect(page.locator("#subject")).to_have_text("Third", timeout=5000)
        browser.close()
    assert site.files() == before  # nothing written to out/
    assert (site.root / ".newsletter" / "ledger.sqlite").read_bytes() == ledger


def test_preview_of_one_post_renders_it_in_full(site: Site) -> None:
    from pipeline.shell.preview import PreviewSource
    from pipeline.shell.site import load_site

    site.post("a.md", "The **whole** body.", date="2026-05-30T00:00:00+00:00", slug="a", title="A")
    source = PreviewSource(lambda: load_site(site.root), site.root, post="a")
    shown = source.render()
    assert shown.errors == () and "<strong>whole</strong>" in shown.html
    assert "The whole body." in shown.text


def test_with_nothing_changed_the_sample_comes_from_the_index_as_the_dry_run_gives_it(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 100,000 posts a dry run reads all of the index: with nothing changed since
    the last build, preview asks the index for the newest post instead."""
    from datetime import datetime

    from pipeline.shell import build, upcoming
    from pipeline.shell.site import load_site

    site.post("a.md", "Older.", date="2026-05-01T00:00:00+00:00", slug="a", title="A")
    site.post("b.md", "The newest.", date="2026-05-30T00:00:00+00:00", slug="b", title="B")
    site.build(now=NOW)
    now = datetime.fromisoformat(NOW)
    dry = upcoming.from_dry_run(load_site(site.root), now)
    monkeypatch.setattr(build, "run_build", lambda *_: pytest.fail("a dry run"))
    quick = upcoming.upcoming_email(load_site(site.root), now)
    assert (quick.label, quick.email, quick.posts) == (dry.label, dry.email, dry.posts)
    assert [p.title for p in quick.posts] == ["B"]
    site.post("c.md", "New.", date="2026-05-31T00:00:00+00:00", slug="c", title="C")
    with pytest.raises(pytest.fail.Exception):  # something new: the dry run decides
        upcoming.upcoming_email(load_site(site.root), now)


def test_the_preview_watcher_survives_a_missing_file_and_sees_changes(tmp_path: Path) -> None:
    import pipeline.shell.watch as watch

    watched = [tmp_path / "newsletter.toml", tmp_path / "content"]
    watcher = watch.Watcher(lambda: watched)  # neither exists yet: no error
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "a.md").write_text("x")
    watcher._due = 0.0
    assert watcher.changed(), "the folder and its post"
    (tmp_path / "newsletter.toml").write_text("[site]\n")
    watcher._due = 0.0
    assert watcher.changed(), "the configuration"
    watcher._due = 0.0
    assert not watcher.changed()


def test_status_with_nothing_changed_says_what_deciding_would_say(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nothing-changed exit's answer (the last clean build's outcome) is the one
    a dry run would give: checked with the exit taken and with it refused."""
    import pipeline.shell.status

    for n in range(3):
        site.post(f"p{n}.md", date=f"2026-05-1{n}T00:00:00+00:00", slug=f"p{n}")
    site.build(now=NOW)
    taken: list[object] = []
    outcome = pipeline.shell.status._unchanged

    def spied(history: list[tuple[str, dict[str, object]]]) -> object:
        taken.append(history)
        return outcome(history)

    monkeypatch.setattr(pipeline.shell.status, "_unchanged", spied)
    code, quick = run(site, "status", "--json")
    assert taken, "the nothing-changed exit was taken"
    monkeypatch.setattr(pipeline.shell.status, "unchanged", lambda *args: False)
    code, decided = run(site, "status", "--json")
    assert json.loads(quick) == json.loads(decided)
    assert json.loads(quick)["would"]["in_feeds"] == 3


def test_the_preview_watcher_sees_an_edit_between_full_looks(tmp_path: Path) -> None:
    """With a large archive a full look is rare; a quick look still sees a new
    file, a renamed one, an edit to a recently changed post and a template edit,
    and an in-place edit of an old post is seen by the next full look."""
    import pipeline.shell.watch as watch
    from pipeline.shell.scan import scan

    content, templates = tmp_path / "content", tmp_path / "templates"
    (content / "2020").mkdir(parents=True)
    templates.mkdir()
    (templates / "email.html").write_text("<p>x</p>")
    for n in range(watch.SMALL_TREE + watch.RECENT + 10):
        path = content / "2020" / f"p{n:03d}.md"
        path.write_text(f"post {n}")
        os.utime(path, ns=(n * 10**9, n * 10**9))  # p000 is the oldest
    now = [0.0]
    watcher = watch.Watcher(lambda: [content, templates], clock=lambda: now[0])
    watcher._due = float("inf")  # a full look is never due (as at 100,000 posts)
    assert not watcher.changed()
    edits = [
        lambda: (content / "2020" / "new.md").write_text("new"),
        lambda: (content / "2020" / "p001.md").rename(content / "2020" / "moved.md"),
        lambda: (content / "2020" / f"p{watch.SMALL_TREE + watch.RECENT + 9:03d}.md").write_text(
            "the newest, edited"
        ),
        lambda: (templates / "email.html").write_text("<p>edited</p>"),
    ]
    for edit in edits:
        edit()
        watcher._due = float("inf")
        assert watcher.changed(), "seen by a quick look"
        assert watcher.tree(content) == scan(content), "the files as a walk sees them"
        assert not watcher.changed(), "and said once"
        now[0] += watch.VERIFY_AFTER
        assert not watcher.changed(), "the full look after it finds nothing else"
    old = content / "2020" / "p000.md"
    old.write_text("edited in place, long after")
    os.utime(old, ns=(5, 5))  # an old post; writing in place leaves its folder's time
    watcher._due = float("inf")
    assert not watcher.changed(), "not seen by a quick look"
    watcher._due = 0.0
    assert watcher.changed(), "seen by the full look"


@pytest.mark.parametrize("during", ["edit", "new file"])
def test_a_change_made_while_the_full_look_walks_is_said_by_the_next_quick_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, during: str
) -> None:
    """At 100,000 posts a full look walks for most of a second: a post saved after
    the walk passed it is a change the next quick look says, not part of the look."""
    import pipeline.shell.watch as watch

    content = tmp_path / "content"
    (content / "2020").mkdir(parents=True)
    post = content / "2020" / "post.md"
    post.write_text("first")
    now = [0.0]
    watcher = watch.Watcher(lambda: [content], clock=lambda: now[0])
    step = watch.FullLook.step

    def walk_then_save(look: watch.FullLook, seconds: float) -> bool:
        done = step(look, seconds)
        if during == "edit":
            post.write_text("saved while the walk was elsewhere")
            os.utime(post, ns=(10**18, 10**18))
        else:
            (content / "2020" / "new.md").write_text("new")
            os.utime(content / "2020", ns=(10**18, 10**18))
        return done

    monkeypatch.setattr(watch.FullLook, "step", walk_then_save)
    watcher._due = 0.0
    watcher.changed()  # a full look, during which the post is saved
    monkeypatch.setattr(watch.FullLook, "step", step)
    watcher._due = float("inf")
    assert watcher.changed(), "said by the next quick look"


def test_a_save_while_a_full_look_is_under_way_is_said_before_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full look walks a step at a time with a quick look after each step, so
    a save waits for one step of the walk, not all of it (at 100,000 posts the walk
    is most of a second); the walk, out of date, is begun again later and ends."""
    import pipeline.shell.watch as watch
    from pipeline.shell.scan import scan

    content = tmp_path / "content"
    for year in range(2015, 2021):
        (content / str(year)).mkdir(parents=True)
        (content / str(year) / "post.md").write_text(f"post {year}")
    now = [0.0]
    watcher = watch.Watcher(lambda: [content], clock=lambda: now[0])
    monkeypatch.setattr(watch, "STEP", 0.0)  # a folder a step: seven steps to walk all
    watcher._due = 0.0
    assert not watcher.changed(), "one step of the walk, then a quick look"
    assert watcher._walking is not None, "the walk is under way"
    (content / "2016" / "post.md").write_text("saved during the walk")
    os.utime(content / "2016" / "post.md", ns=(10**18, 10**18))  # the newest: watched
    assert watcher.changed(), "said by the quick look after the next step"
    assert watcher._walking is None, "the walk is dropped"
    assert watcher.tree(content) == scan(content)
    now[0] += watch.VERIFY_AFTER
    steps = 0
    while watcher._walking is not None or steps == 0:
        assert not watcher.changed(), "the walk begun again finds nothing else"
        steps += 1
    assert steps == 7, "a folder per step: the root and six years"
    assert watcher.tree(content) == scan(content)


def test_the_watchers_tree_is_what_a_walk_sees_after_each_change(tmp_path: Path) -> None:
    """The preview renders from the watcher's tree instead of walking content/: after
    each change a quick look saw, it holds what a walk would."""
    import pipeline.shell.watch as watch
    from pipeline.shell.scan import scan

    content = tmp_path / "content"
    for year in ("2019", "2020"):
        (content / year).mkdir(parents=True)
        for n in range(watch.SMALL_TREE):
            (content / year / f"p{n:03d}.md").write_text(f"post {n}")
    (content / "drafts" / "empty").mkdir(parents=True)  # folders with no file yet
    now = [0.0]
    watcher = watch.Watcher(lambda: [content], clock=lambda: now[0])
    watcher._due = float("inf")

    def new_folder_with_a_post() -> None:
        (content / "2021" / "deep").mkdir(parents=True)
        (content / "2021" / "deep" / "a.md").write_text("a")

    changes = [
        new_folder_with_a_post,
        lambda: (content / "2020" / "p005.md").unlink(),
        lambda: (content / "top.md").write_text("top"),
        lambda: shutil.rmtree(content / "2019"),
        lambda: (content / "2020" / "p006.md").rename(content / "2021" / "p006.md"),
    ]
    for change in changes:
        change()
        assert watcher.changed()
        assert watcher.tree(content) == scan(content)
        now[0] += watch.VERIFY_AFTER
        watcher._due = float("inf")
        assert not watcher.changed(), "the full look after it finds nothing else"
    watcher._due = float("inf")  # a quick look, not a full one, must see this:
    (content / "drafts" / "empty" / "first.md").write_text("saved into an empty folder")
    assert watcher.changed()
    assert watcher.tree(content) == scan(content)
    assert watcher.tree(tmp_path / "elsewhere") is None
