"""Shell: the `newsletter` command. Commands only translate options into library
calls; this is the one place where errors become messages and exit statuses."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline import __version__
from pipeline.config import Config, load_config
from pipeline.dates import DateError, parse_date
from pipeline.errors import PipelineError, UsageError

logger = logging.getLogger("pipeline")

F = TypeVar("F", bound=Callable[..., Any])


def setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("pipeline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class _Formatter(logging.Formatter):
    """Plain lines for information, `warning:`/`error:` prefixes for what cron mails."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


def site_options(command: F) -> F:
    """--site, --config, --now and --json, the same on every command."""
    options = [
        click.option(
            "--site",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("."),
            show_default="the current folder",
            help="The site folder holding newsletter.toml.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Use this configuration file instead of SITE/newsletter.toml.",
        ),
        click.option(
            "--now",
            metavar="ISO",
            help="The time to act as of (default: the clock), e.g. 2026-06-20T08:00:00+00:00.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _moment(value: str | None, option: str, config: Config) -> datetime | None:
    if value is None:
        return None
    try:
        moment, _naive = parse_date(value, config.site.timezone)
    except DateError as exc:
        raise UsageError(f"{option} {exc}", f"write {option} 2026-06-20T08:00:00+00:00") from None
    return moment


def run(action: Callable[[], int], verbose: bool = False) -> None:
    """Call `action`; turn a PipelineError into a message and its exit status."""
    try:
        code = action()
    except PipelineError as error:
        for line in str(error).splitlines():
            click.echo(line if line.startswith("  ") else f"error: {line}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; nothing was recorded, the next build redoes this one", err=True)
        sys.exit(130)
    except Exception:
        if verbose:
            raise
        logger.exception("internal error (a bug); run again with -v for the traceback")
        sys.exit(70)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsletter")
def cli() -> None:
    """Turn a blog's Markdown posts into feeds and email digests, from cron."""


@cli.command()
@site_options
@click.option(
    "--content",
    type=click.Path(file_okay=False, path_type=Path),
    help="Posts folder (overrides the configuration).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (overrides the configuration).",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ledger file (overrides the configuration).",
)
@click.option(
    "--since",
    metavar="ISO",
    help="Email the posts published since then (overrides max_age_days; works on a first build).",
)
@click.option("--dry-run", is_flag=True, help="Decide and render, but write nothing.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Print only warnings and errors (what cron mails)."
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Print more, and tracebacks of internal errors."
)
def build(
    site: Path,
    config_path: Path | None,
    now: str | None,
    as_json: bool,
    content: Path | None,
    out: Path | None,
    state: Path | None,
    since: str | None,
    dry_run: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Find new and modified posts; write feeds and emails to out/ (the cron job)."""
    setup_logging(quiet or as_json, verbose)

    def action() -> int:
        from pipeline.build import BuildOptions, run_build
        from pipeline.report import describe

        config = load_config(site, config_path, {"content": content, "out": out, "state": state})
        options = BuildOptions(
            now=_moment(now, "--now", config) or datetime.now(UTC),
            since=_moment(since, "--since", config),
            dry_run=dry_run,
        )
        show_bar = sys.stderr.isatty() and not (quiet or as_json or verbose)
        report = run_build(config, options, _progress_bar if show_bar else None)
        for level, message in describe(report, config):
            logger.log(level, message)
        if as_json:
            click.echo(json.dumps(report.summary(), indent=2, ensure_ascii=False))
        return report.exit_code

    run(action, verbose)


def _progress_bar(paths: list[Path]) -> Iterable[Path]:
    with click.progressbar(paths, label="reading posts", file=sys.stderr) as bar:
        yield from bar


def main() -> None:
    cli()
