"""Shell: the `newsletter` command. Commands only translate options into library
calls; this is the one place where errors become messages and exit statuses."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pipeline import __version__
from pipeline.core.dates import DateError, parse_date
from pipeline.core.errors import PipelineError, UsageError
from pipeline.core.settings import Config
from pipeline.shell.quick import ContentScan, nothing_to_do, say_unchanged
from pipeline.shell.site import load_site

if TYPE_CHECKING:
    from pipeline.shell.check import CheckReport
    from pipeline.shell.site import Site

logger = logging.getLogger("pipeline")

F = TypeVar("F", bound=Callable[..., Any])


def echo_json(value: object, compact: bool = False) -> None:
    """Print JSON on stdout (json is imported here: the nothing-changed exit skips it)."""
    import json

    if compact:
        click.echo(json.dumps(value))
    else:
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))


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
    except BrokenPipeError:
        # The reader went away (`newsletter status | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet too.
        with contextlib.suppress(OSError, ValueError):  # no real stdout: nothing to quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # 128 + SIGPIPE, as the shell reports it
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
    "--full-scan",
    is_flag=True,
    help="Re-read every post, trusting no file size or modification time.",
)
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
    full_scan: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Find new and modified posts; write feeds and emails to out/ (the cron job)."""
    setup_logging(quiet or as_json, verbose)

    def action() -> int:
        folder = load_site(site, config_path, {"content": content, "out": out, "state": state})
        config = folder.config
        moment = _moment(now, "--now", config) or datetime.now(UTC)
        content_scan = None
        if not (since or full_scan):  # before the heavy imports
            content_scan = nothing_to_do(folder.paths, moment, _handed_scan())
            if content_scan is None:
                say_unchanged(as_json, quiet, dry_run)
                return 0

        from pipeline.core.report import describe
        from pipeline.shell.build import BuildOptions, run_build

        options = BuildOptions(
            now=moment,
            since=_moment(since, "--since", config),
            dry_run=dry_run,
            full_scan=full_scan,
            content_scan=content_scan,
        )
        show_bar = sys.stderr.isatty() and not (quiet or as_json or verbose)
        report = run_build(folder, options, _progress_bar("reading posts") if show_bar else None)
        settle = config.build.settle_minutes
        for level, message in describe(report, settle, str(folder.out_dir)):
            logger.log(level, message)
        if as_json:
            echo_json(report.summary())
        return report.exit_code

    run(action, verbose)


@cli.command()
@site_options
@click.option("--strict", is_flag=True, help="Warnings count as problems too (exit 1).")
@click.option(
    "--migrating",
    is_flag=True,
    help="For an archive from Jekyll, Hugo, Pelican or WordPress: one screen on whether "
    "the move is safe (tags resolved and left, posts held back, sample permalinks).",
)
def check(
    site: Path,
    config_path: Path | None,
    now: str | None,
    as_json: bool,
    strict: bool,
    migrating: bool,
) -> None:
    """Lint posts and configuration, validate out/; exit 1 on any problem."""
    setup_logging(quiet=as_json, verbose=False)

    def action() -> int:
        from pipeline.shell.check import CheckReport, load_for_check, run_check

        report = CheckReport()
        config = load_for_check(site, config_path, report, {})
        if migrating:
            return _migrating(config, report, as_json)
        if config is not None:
            run_check(config, report, os.environ)
        if as_json:
            echo_json(report.summary())
        else:
            for finding in report.findings:
                click.echo(str(finding))
            for note in report.notes:
                click.echo(f"note: {note}")
            errors, total = len(report.errors), len(report.findings)
            unchanged = report.posts_checked - report.posts_read
            kept = f" ({unchanged} as they were last checked)" if unchanged > 0 else ""
            click.echo(
                f"{report.posts_checked} post(s){kept} and {report.outputs_checked} output "
                f"file(s) checked: {errors} error(s), {total - errors} warning(s)"
            )
        return report.exit_code(strict)

    run(action)


def _migrating(config: Site | None, report: CheckReport, as_json: bool) -> int:
    from pipeline.core.migration import describe_migration
    from pipeline.shell.check import migration

    if config is None:
        for finding in report.findings:
            click.echo(str(finding), err=True)
        return 2
    result = migration(config)
    if as_json:
        echo_json(result.as_dict())
    else:
        for line in describe_migration(result):
            click.echo(line)
    return 0 if result.safe else 1


@cli.command()
@site_options
def status(site: Path, config_path: Path | None, now: str | None, as_json: bool) -> None:
    """What a build would do now, the last builds, and the emails in out/email/."""
    setup_logging(quiet=True, verbose=False)

    def action() -> int:
        from pipeline.shell.status import describe_status, gather_status

        folder = load_site(site, config_path)
        moment = _moment(now, "--now", folder.config) or datetime.now(UTC)
        result = gather_status(folder, moment)
        if as_json:
            echo_json(result)
        else:
            for line in describe_status(result):
                click.echo(line)
        return 0

    run(action)


@cli.command()
@site_options
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port on 127.0.0.1 (default: a free one).",
)
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
@click.option(
    "--email", "email_id", metavar="ID", help="Show a written email from out/email/ instead."
)
@click.option(
    "--post", metavar="POST", help="Show this post (id, slug or file) as a per-post email."
)
def preview(
    site: Path,
    config_path: Path | None,
    now: str | None,
    as_json: bool,
    port: int,
    no_open: bool,
    email_id: str | None,
    post: str | None,
) -> None:
    """Serve the next email on 127.0.0.1; it reloads on every change. Nothing is written."""
    setup_logging(quiet=as_json, verbose=False)

    def action() -> int:
        from pipeline.shell.preview import Preview, PreviewSource, run_preview

        folder = load_site(site, config_path)  # a missing file stops here (exit 2)
        moment = _moment(now, "--now", folder.config)
        source = PreviewSource(lambda: load_site(site, config_path), site, moment, email_id, post)
        preview = Preview(source, config_path or site / "newsletter.toml")

        def announce(url: str) -> None:
            if as_json:
                echo_json({"url": url}, compact=True)
            else:
                click.echo(f"Preview at {url} (Ctrl-C to stop)")
            sys.stdout.flush()
            if not no_open:
                import webbrowser

                webbrowser.open(url)

        try:
            run_preview(preview, port, announce)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", "choose another --port, or 0"
            ) from None
        return 0

    run(action)


@cli.command()
@site_options
@click.option("--dry-run", is_flag=True, help="List who would get what; send nothing.")
@click.option(
    "--test",
    "tests",
    multiple=True,
    metavar="ADDRESS",
    help="Send one copy of what preview shows to ADDRESS ([Test] subject); record nothing.",
)
@click.option("--force", is_flag=True, help="Send emails older than [send] max_age_days too.")
@click.option(
    "--retry-unknown",
    is_flag=True,
    help="Resend messages whose outcome a crash left unknown (with the same Message-ID).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print each message's outcome.")
def send(
    site: Path,
    config_path: Path | None,
    now: str | None,
    as_json: bool,
    dry_run: bool,
    tests: tuple[str, ...],
    force: bool,
    retry_unknown: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Deliver the written emails through the SMTP relay, each exactly once."""
    setup_logging(quiet or as_json, verbose)

    def action() -> int:
        from pipeline.shell.send import SendOptions, run_send
        from pipeline.shell.send_report import describe_send

        folder = load_site(site, config_path)
        options = SendOptions(
            _moment(now, "--now", folder.config), dry_run, tests, force, retry_unknown
        )
        show_bar = sys.stderr.isatty() and not (quiet or as_json or verbose)
        bar = _progress_bar("sending") if show_bar else None
        report = run_send(folder, options, os.environ, bar)
        for level, message in describe_send(report):
            logger.log(level, message)
        if as_json:
            echo_json(report.summary())
        return report.exit_code

    run(action, verbose)


@cli.command()
@site_options
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (the site's web server forwards to it).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8058,
    show_default=True,
    help="Port to listen on; 0 is a free one, printed on start.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
def serve(
    site: Path,
    config_path: Path | None,
    now: str | None,
    as_json: bool,
    host: str,
    port: int,
    quiet: bool,
) -> None:
    """Answer the readers: unsubscribe links (one-click), and sign-up when enabled."""
    setup_logging(quiet=quiet or as_json, verbose=False)

    def action() -> int:
        from pipeline.shell.serve import make_app, run_server

        folder = load_site(site, config_path)
        app = make_app(folder, os.environ, _moment(now, "--now", folder.config))

        def announce(line: str) -> None:
            if as_json:
                echo_json({"url": line.split()[2]}, compact=True)
            else:
                click.echo(line)
            sys.stdout.flush()

        try:
            run_server(app, host, port, announce)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror}", "choose another --port"
            ) from None
        return 0

    run(action)


@cli.group()
def subscribers() -> None:
    """Import, add, remove, list and export the subscribers (kept in the ledger)."""


def _ledger_of(site: Path, config_path: Path | None) -> Path:
    return load_site(site, config_path).state_path


@subscribers.command("import")
@site_options
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def subscribers_import(
    site: Path, config_path: Path | None, now: str | None, as_json: bool, csv_file: Path
) -> None:
    """Import a CSV: a list with an email column, or a Mailchimp, Substack, Buttondown,
    Ghost or Kit export (who left is imported as suppressed, never as active)."""
    setup_logging(quiet=as_json, verbose=False)

    def action() -> int:
        from pipeline.core.csv_exports import read_export
        from pipeline.store import subscribers as store

        folder = load_site(site, config_path)
        moment = _moment(now, "--now", folder.config) or datetime.now(UTC)
        try:
            text = csv_file.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{csv_file}: cannot read it ({exc})", "save it as UTF-8 CSV"
            ) from None
        export = read_export(text, csv_file.name)
        found = export.counts()
        unconfirmed = [row for row in export.rows if row.status == "unconfirmed"]
        rows = [row for row in export.rows if row.status != "unconfirmed"]
        counts = store.import_rows(folder.state_path, rows, moment, f"import of {csv_file.name}")
        for line, problem in export.problems:
            click.echo(f"{csv_file}:{line}: skipped: {problem}", err=True)
        summary = {
            "service": export.service,
            "found": found,
            "added": counts.added,
            "already_active": counts.already,
            "kept_suppressed": counts.kept_suppressed,
            "imported_as_suppressed": counts.suppressed,
            "unconfirmed_not_imported": len(unconfirmed),
            "invalid": len(export.problems),
        }
        if as_json:
            echo_json(summary)
        else:
            kind = f"a {export.service} export" if export.service else "a list"
            listed = ", ".join(f"{n} {status}" for status, n in sorted(found.items()))
            click.echo(f"{csv_file.name}: read as {kind}: {listed or 'no rows'}")
            click.echo(
                f"{counts.added} added, {counts.already} already active, "
                f"{counts.kept_suppressed} suppressed before (kept so), "
                f"{counts.suppressed} marked gone in the file (suppressed), "
                f"{len(unconfirmed)} never confirmed (not imported), "
                f"{len(export.problems)} invalid"
            )
        return 1 if export.problems else 0

    run(action)


def _one_address(
    site: Path, config_path: Path | None, now: str | None, address: str
) -> tuple[Path, datetime, str]:
    """(the ledger, the moment, the checked address) for `subscribers add/remove`."""
    from pipeline.core.audience import AddressError, checked_address

    folder = load_site(site, config_path)
    moment = _moment(now, "--now", folder.config) or datetime.now(UTC)
    try:
        return folder.state_path, moment, checked_address(address)
    except AddressError as exc:
        raise UsageError(f"{address!r} is not an address: {exc}") from None


@subscribers.command("add")
@site_options
@click.argument("address")
def subscribers_add(
    site: Path, config_path: Path | None, now: str | None, as_json: bool, address: str
) -> None:
    """Add one active subscriber (a suppressed address stays suppressed)."""
    setup_logging(quiet=as_json, verbose=False)

    def action() -> int:
        from pipeline.core.csv_exports import Row
        from pipeline.store import subscribers as store

        ledger_path, moment, checked = _one_address(site, config_path, now, address)
        counts = store.import_rows(ledger_path, [Row(0, checked, "", "active")], moment, "add")
        said = "added" if counts.added else "already active" if counts.already else "suppressed"
        click.echo(f"{checked}: {said}")
        return 0 if counts.added or counts.already else 1

    run(action)


@subscribers.command("remove")
@site_options
@click.argument("address")
def subscribers_remove(
    site: Path, config_path: Path | None, now: str | None, as_json: bool, address: str
) -> None:
    """Remove a subscriber: kept as suppressed, so no import brings it back."""
    setup_logging(quiet=as_json, verbose=False)

    def action() -> int:
        from pipeline.store import subscribers as store

        ledger_path, moment, checked = _one_address(site, config_path, now, address)
        was = store.suppress(ledger_path, checked, moment, "removed by the author")
        click.echo(f"{checked}: {'removed' if was else 'suppressed'} (no send reaches it)")
        return 0

    run(action)


@subscribers.command("list")
@site_options
def subscribers_list(site: Path, config_path: Path | None, now: str | None, as_json: bool) -> None:
    """Every subscriber, active and suppressed."""
    setup_logging(quiet=True, verbose=False)

    def action() -> int:
        from pipeline.store import subscribers as store

        everyone = store.everyone(_ledger_of(site, config_path))
        if as_json:
            echo_json([s.__dict__ for s in everyone])
        else:
            for s in everyone:
                reason = f" ({s.reason})" if s.reason else ""
                click.echo(f"{s.address}\t{s.status}{reason}\t{s.name}")
            active = sum(s.status == "active" for s in everyone)
            click.echo(f"{active} active, {len(everyone) - active} suppressed", err=True)
        return 0

    run(action)


@subscribers.command("export")
@site_options
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
def subscribers_export(
    site: Path, config_path: Path | None, now: str | None, as_json: bool, csv_file: Path
) -> None:
    """Write every subscriber to a CSV file (email, name, status)."""
    setup_logging(quiet=as_json, verbose=False)

    def action() -> int:
        from pipeline.core.audience import export_csv
        from pipeline.shell.files import write_atomic
        from pipeline.store import subscribers as store

        everyone = store.everyone(_ledger_of(site, config_path))
        data = export_csv(iter([(s.address, s.name, s.status) for s in everyone]))
        write_atomic(csv_file, data.encode("utf-8"))
        click.echo(f"{len(everyone)} subscriber(s) written to {csv_file}")
        return 0

    run(action)


def _handed_scan() -> ContentScan | None:
    """The walk of content/ that `launch` made before handing over to click."""
    context = click.get_current_context(silent=True)
    obj = context.find_root().obj if context is not None else None
    return obj.get("content_scan") if isinstance(obj, dict) else None


def _progress_bar(label: str) -> Callable[[Iterable[Any], int], Iterable[Any]]:
    """A progress bar on stderr, for a terminal."""

    def bar(items: Iterable[Any], length: int) -> Iterable[Any]:
        with click.progressbar(items, length=length, label=label, file=sys.stderr) as shown:
            yield from shown

    return bar


def main() -> None:
    cli()
