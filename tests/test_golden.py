"""The whole out/ of the sample site, compared byte for byte with reviewed copies.

Regenerate with `pytest tests/test_golden.py --update-golden`, then read the diff
(`git diff tests/golden`) before committing it.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, Site

GOLDEN = Path(__file__).parent / "golden" / "sample-site"
NOW = "2026-11-24T08:00:00+00:00"
SINCE = "2026-10-01T00:00:00+00:00"


def build_sample(root: Path) -> Site:
    site = Site(root, (REPO / "newsletter.toml").read_text(encoding="utf-8"))
    shutil.copytree(REPO / "content", site.content, dirs_exist_ok=True)
    site.build("--since", SINCE, now=NOW)
    return site


def readable_diff(name: str, expected: bytes, actual: bytes) -> str:
    try:
        lines = difflib.unified_diff(
            expected.decode().splitlines(),
            actual.decode().splitlines(),
            f"golden/{name}",
            f"built/{name}",
            lineterm="",
        )
        return "\n".join(list(lines)[:60])
    except UnicodeDecodeError:
        return f"{name}: binary content differs"


def test_sample_site_output_matches_golden(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    built = build_sample(tmp_path / "site").files()
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in built.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
        pytest.skip("golden files rewritten; review `git diff tests/golden`")
    golden = {
        p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()
    }
    assert sorted(built) == sorted(golden), "a different set of files was written"
    problems = [
        readable_diff(n, golden[n], built[n]) for n in sorted(built) if built[n] != golden[n]
    ]
    assert not problems, "\n\n".join(problems)


def test_sample_site_has_feeds_and_an_email(tmp_path: Path) -> None:
    site = build_sample(tmp_path / "site")
    names = site.files()
    assert {"feed.xml", "atom.xml", "feed.json"} <= set(names)
    [email] = site.emails()
    text = (email / "email.txt").read_text()
    # the new posts of October and November, newest first; the draft, the scheduled
    # post and the old ones are not in it
    assert text.index("Chamomile") < text.index("Evening Walk") < text.index("Magnesium")
    assert "Draft" not in text and "Darkest Weeks" not in text and "Morning Light" not in text
