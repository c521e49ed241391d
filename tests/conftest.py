"""Shared helpers: a site in a temporary folder, posts written into it, the CLI."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.core.settings import Config, parse_config
from pipeline.shell.cli import cli

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "gut-health-and-sleep.md"

SITE_TOML = """\
[site]
title = "Test Blog"
url = "https://blog.example/"
author = "Ada"
timezone = "UTC"

[email]
from = "Test Blog <hello@blog.example>"
to = "readers@lists.blog.example"
unsubscribe_url = "https://blog.example/unsubscribe/"
unsubscribe_mailto = "mailto:unsubscribe@blog.example"
postal_address = "1 Test Street, Testville"
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite tests/golden/ from the current output (review the diff before committing).",
    )


def make_config(**tables: dict[str, Any]) -> Config:
    """A Config from SITE_TOML's values, with tables merged over them."""
    import tomllib

    raw = tomllib.loads(SITE_TOML)
    for table, values in tables.items():
        raw.setdefault(table, {}).update(values)
    return parse_config(raw)


def post_text(body: str = "Hello there, this is the body.", **front: Any) -> str:
    """A post file's text: front matter from keyword arguments, then the body."""
    import yaml

    meta = {"title": "A Post", "date": "2026-05-01T10:00:00+00:00", **front}
    meta = {k: v for k, v in meta.items() if v is not None}
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    return f"---\n{head}---\n\n{textwrap.dedent(body).strip()}\n"


class Site:
    """A site folder: newsletter.toml, content/, and the CLI run inside it."""

    def __init__(self, root: Path, toml: str = SITE_TOML) -> None:
        self.root = root
        self.content = root / "content"
        self.out = root / "out"
        self.content.mkdir(parents=True, exist_ok=True)
        (root / "newsletter.toml").write_text(toml, encoding="utf-8")

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def post(self, name: str, body: str = "Hello there, this is the body.", **front: Any) -> Path:
        return self.write(name, post_text(body, **front))

    def build(self, *args: str, now: str = "2026-06-01T12:00:00+00:00", code: int = 0) -> Result:
        result = CliRunner().invoke(cli, ["build", "--site", str(self.root), "--now", now, *args])
        assert result.exit_code == code, (
            f"exit {result.exit_code}, expected {code}\n--- output:\n{result.output}"
            f"\n--- exception: {result.exception!r}"
        )
        return result

    def files(self) -> dict[str, bytes]:
        """Every file under out/, by relative path."""
        return {
            p.relative_to(self.out).as_posix(): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file()
        }

    def emails(self) -> list[Path]:
        return sorted((self.out / "email").glob("*/")) if (self.out / "email").is_dir() else []

    def read(self, relative: str) -> str:
        return (self.out / relative).read_text(encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "site")


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[..., Site]:
    def make(name: str = "site", toml: str = SITE_TOML) -> Site:
        return Site(tmp_path / name, toml)

    return make
