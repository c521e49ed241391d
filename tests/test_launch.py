"""The entry point's quick exit: a cron run with nothing to do, before click loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.shell.launch import plain_build
from pipeline.shell.quick import MESSAGE
from tests.conftest import Site

NOW = "2026-06-01T12:00:00+00:00"


def newsletter(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, as cron runs it (`python -m pipeline` is `newsletter`)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=site.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build"], {}),
        (["build", "-q", "--json"], {"quiet": True, "json": True}),
        (["build", "--site", "s", "--now=N"], {"--site": "s", "--now": "N"}),
        (["build", "--config", "c.toml", "--quiet"], {"--config": "c.toml", "quiet": True}),
        (["build", "--dry-run"], None),  # anything else: the full command line
        (["build", "--since", "2026-01-01"], None),
        (["build", "--full-scan"], None),
        (["build", "-qv"], None),
        (["build", "--site"], None),  # a missing value: click says so
        (["build", "--site", "a", "--site", "b"], None),
        (["status"], None),
        ([], None),
    ],
)
def test_only_the_plain_cron_forms_take_the_quick_exit(
    argv: list[str], expected: dict[str, object] | None
) -> None:
    assert plain_build(argv) == expected


def test_nothing_changed_exits_before_click_is_imported(site: Site) -> None:
    site.post("a.md", "A.", date="2026-05-01T00:00:00+00:00", slug="a")
    assert newsletter(site, "build", "-q", "--now", NOW).returncode == 0
    probe = (
        "import sys\n"
        f"sys.argv = ['newsletter', 'build', '--now', {NOW!r}, '-q']\n"
        "from pipeline.shell.launch import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n"
        "    print(exit.code, 'click' in sys.modules, 'pipeline.shell.build' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=site.root, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["0", "False", "False"], result.stderr


def test_status_with_nothing_changed_reads_without_the_renderers(site: Site) -> None:
    """At 100,000 posts `status` is a walk of content/ and a few reads of the ledger:
    importing Markdown, Jinja and the address checker cost it a third of its time."""
    site.post("a.md", "A.", date="2026-05-01T00:00:00+00:00", slug="a")
    assert newsletter(site, "build", "-q", "--now", NOW).returncode == 0
    heavy = ("markdown_it", "markdown_it_pyrs", "jinja2", "email_validator", "pipeline.core.emails")
    probe = (
        "import sys\n"
        f"sys.argv = ['newsletter', 'status', '--now', {NOW!r}]\n"
        "from pipeline.shell.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([name for name in {heavy!r} if name in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=site.root, capture_output=True, text=True, check=False
    )
    assert "would" in result.stdout, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


def test_preview_starts_without_the_build_and_the_feed_writers() -> None:
    """preview's first page, with nothing new, is the newest post as a sample: the
    build (and feedgen, lxml and the archive with it) is imported only for a dry run.
    At 100,000 posts that import was a fifth of the wait for the page."""
    heavy = ("pipeline.shell.build", "pipeline.core.feeds", "feedgen", "pipeline.core.archive")
    probe = f"import sys, pipeline.shell.preview; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_a_build_that_writes_no_email_loads_no_message_writer() -> None:
    """The email package's message classes and header registry, and markupsafe, are
    loaded only to write an email: a first build writes none, and every build pays
    for what its start imports, on one core, before the workers fork."""
    heavy = ("email.message", "email.policy", "email.headerregistry", "markupsafe")
    probe = (
        "import sys, pipeline.shell.cli, pipeline.shell.build\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_the_quick_exit_says_what_the_full_command_says(site: Site) -> None:
    site.post("a.md", "A.", date="2026-05-01T00:00:00+00:00", slug="a")
    newsletter(site, "build", "--now", NOW)
    quiet = newsletter(site, "build", "-q", "--now", NOW)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    said = newsletter(site, "build", "--now", NOW)
    assert (said.returncode, said.stderr.strip()) == (0, MESSAGE)
    as_json = newsletter(site, "build", "--json", "--now", NOW)
    through_click = subprocess.run(
        [sys.executable, "-c", "from pipeline.shell.cli import main; main()"]
        + ["build", "--json", "--now", NOW],
        cwd=site.root,
        capture_output=True,
        text=True,
        check=False,
    )
    expected = {"unchanged": True, "dry_run": False}
    assert json.loads(as_json.stdout) == json.loads(through_click.stdout) == expected


def test_a_change_is_handed_to_the_full_build(site: Site) -> None:
    site.post("a.md", "A.", date="2026-05-01T00:00:00+00:00", slug="a")
    newsletter(site, "build", "--now", NOW)
    site.post("b.md", "B.", date="2026-05-30T00:00:00+00:00", slug="b")
    result = newsletter(site, "build", "--json", "--now", NOW)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["new"] == ["b"]


def test_doubtful_input_goes_to_the_full_command_line(site: Site, tmp_path: Path) -> None:
    site.post("a.md", "A.", date="2026-05-01T00:00:00+00:00", slug="a")
    newsletter(site, "build", "--now", NOW)
    bad_date = newsletter(site, "build", "-q", "--now", "someday")
    assert bad_date.returncode != 0 and "--now" in bad_date.stderr
    missing = newsletter(site, "build", "-q", "--config", str(tmp_path / "none.toml"))
    assert missing.returncode != 0 and "none.toml" in missing.stderr


def test_a_build_ends_its_process_at_once_keeping_its_output_and_status(site: Site) -> None:
    """build, check and status leave by os._exit (no teardown of their objects):
    whatever they printed is all there, and their exit statuses are kept."""
    for number in range(40):
        site.post(f"p{number}.md", "Text.", date=f"2026-05-{number % 28 + 1:02d}T00:00:00+00:00")
    site.write("broken.md", "no front matter at all\n")
    as_json = newsletter(site, "build", "--json", "--now", NOW)
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)  # the whole document, flushed before the exit
    assert len(report["recorded_only"]) == 40 and report["in_feeds"] == 40
    assert [problem["file"] for problem in report["rejected"]] == ["broken.md"]
    assert (site.out / "feed.xml").read_bytes().count(b"<item>") == 20
    again = newsletter(site, "build", "--now", NOW, "--full-scan")  # the full command line
    assert again.returncode == 1 and "broken.md" in again.stderr
    checked = newsletter(site, "check", "--json", "--now", NOW)
    assert checked.returncode == 1, checked.stderr
    assert "broken.md" in {finding["file"] for finding in json.loads(checked.stdout)["findings"]}
    status = newsletter(site, "status", "--json", "--now", NOW)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["would"]["first_build"] is False
