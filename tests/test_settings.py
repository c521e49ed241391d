"""The configuration schema: each key declared once, and the README agrees with it."""

from __future__ import annotations

import re

import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.settings import keys, parse_config
from tests.conftest import REPO, make_config

ROW = re.compile(r"^\| `\[(\w+)\] (\w+)` \| (.*?) \| (.*) \|$")


def readme_rows() -> list[tuple[str, str, str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [m.groups() for line in text.splitlines() if (m := ROW.match(line))]


def test_the_readme_settings_table_is_the_declared_schema() -> None:
    declared = [(k.table, k.name, k.shown_default, k.help) for k in keys()]
    expected = "\n".join(f"| `[{t}] {n}` | {d} | {h} |" for t, n, d, h in declared)
    actual = "\n".join(f"| `[{t}] {n}` | {d} | {h} |" for t, n, d, h in readme_rows())
    assert actual == expected, f"README's settings table should read:\n{expected}"


def test_every_key_has_help_and_its_default_passes_its_own_check() -> None:
    for key in keys():
        assert key.help, f"[{key.table}] {key.name} has no help text"
        assert key.check(key.default) is None, f"[{key.table}] {key.name}'s default"


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "site": {"title": "", "url": "ftp://x", "colour": "red"},
        "feed": {"limit": -1, "category_feeds": "yes"},
        "typo": {},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "site/newsletter.toml")
    message = caught.value.message
    for expected in (
        "[typo]: unknown table",
        "[site] colour: unknown key",
        "[site] url: must be an absolute http(s) URL",
        "[feed] limit: must be a whole number",
        "[feed] category_feeds: must be true or false",
        "[site] title: missing",
        "[email] from: missing",
    ):
        assert expected in message
    assert message.startswith("site/newsletter.toml: ")


def test_derived_values_default_to_others() -> None:
    config = make_config(site={"url": "https://blog.example/sub", "description": ""})
    assert config.site.url == "https://blog.example/sub/"
    assert config.feed.base_url == "https://blog.example/sub/"
    assert config.site.description == "Test Blog"
    assert config.email.from_address == "Test Blog <hello@blog.example>"  # [email] from
    assert config.affiliate.hosts[0] == "amzn.to"
    assert config.site.timezone is not None and str(config.site.timezone) == "UTC"
