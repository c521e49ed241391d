"""The command line's wiring: help text everywhere, `python -m pipeline`, exit codes."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from pipeline.shell.cli import cli


def test_every_command_and_option_has_help_text() -> None:
    assert cli.help
    seen = []

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            seen.append(f"{prefix}{name}")
            assert command.help, f"{prefix}{name}"
            for param in command.params:
                if isinstance(param, click.Option):
                    assert param.help, f"{prefix}{name} {param.opts}"
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")

    walk(cli, "")
    assert {"send", "subscribers import", "subscribers export"} <= set(seen)


def test_build_help_lists_the_spec_options() -> None:
    output = CliRunner().invoke(cli, ["build", "--help"]).output
    for option in (
        "--site",
        "--content",
        "--out",
        "--state",
        "--config",
        "--now",
        "--since",
        "--dry-run",
        "--json",
        "-q",
        "-v",
    ):
        assert option in output


def test_python_dash_m_pipeline_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("newsletter, version")


def test_bad_now_is_a_usage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "newsletter.toml").write_text(
        '[site]\ntitle = "T"\nurl = "https://t.example/"\n[email]\nenabled = false\n'
    )
    result = CliRunner().invoke(cli, ["build", "--site", str(tmp_path), "--now", "soon"])
    assert result.exit_code == 2
    assert "--now 'soon' is not a date" in result.output


def test_a_closed_pipe_is_not_reported_as_a_bug(capsys: pytest.CaptureFixture[str]) -> None:
    """`newsletter status | head -1`: the reader goes away mid-output."""
    from pipeline.shell.cli import run

    def action() -> int:
        raise BrokenPipeError

    with pytest.raises(SystemExit) as stopped:
        run(action)
    assert stopped.value.code == 141
    assert "internal error" not in capsys.readouterr().err
