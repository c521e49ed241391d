"""Shell: the `newsletter` command's entry point, and a cron run's quickest exit.

A cron run with nothing to do should cost little more than one walk of content/.
For the plain forms a crontab uses (`build` with -q/--quiet, --json, --site,
--config, --now) the nothing-changed fingerprint is checked here with the standard
library alone, before click and the rest are imported. Any other form, and any
doubt (an unreadable configuration, a bad date), goes to the full command line,
which reports it properly; the walk of content/ made here is handed on to it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from pipeline.shell.quick import ContentScan, say_unchanged

_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--json": "json"}
_VALUES = ("--site", "--config", "--now")


def plain_build(argv: list[str]) -> dict[str, str | bool] | None:
    """The options of `build` in the plain forms above; None for anything else."""
    if not argv or argv[0] != "build":
        return None
    options: dict[str, str | bool] = {}
    rest = argv[1:]
    while rest:
        arg = rest.pop(0)
        if arg in _FLAGS:
            options[_FLAGS[arg]] = True
            continue
        name, equals, value = arg.partition("=")
        if name not in _VALUES or name in options:
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        options[name] = value
    return options


def quick(argv: list[str]) -> ContentScan | bool:
    """True when nothing changed (said, as the full command would say it); else the
    scan of content/ to hand on, or False when this form is not one for here."""
    options = plain_build(argv)
    if options is None:
        return False
    try:
        from pipeline.core.dates import parse_date
        from pipeline.shell.quick import nothing_to_do, raw_site

        folder = Path(str(options.get("--site", ".")))
        config_file = options.get("--config")
        paths, zone = raw_site(folder, Path(str(config_file)) if config_file else None)
        now = options.get("--now")
        moment = parse_date(str(now), zone)[0] if now else datetime.now(UTC)
        content = nothing_to_do(paths, moment)
    except Exception:  # noqa: BLE001 (the full command line reports it properly)
        return False
    if content is not None:
        return content
    say_unchanged(bool(options.get("json")), bool(options.get("quiet")))
    return True


def main() -> None:
    argv = sys.argv[1:]
    handed = quick(argv)
    if handed is True:
        sys.exit(0)
    from pipeline.shell.cli import cli

    content = handed if isinstance(handed, ContentScan) else None
    try:
        cli.main(args=argv, prog_name="newsletter", obj={"content_scan": content})
    except SystemExit as done:
        if argv[:1] not in _ENDING_AT_ONCE or not isinstance(done.code, int | None):
            raise
        _exit_now(done.code or 0)


# Commands whose work is on disk and committed when they return, with no thread
# left running: their processes end without tearing down what they read.
_ENDING_AT_ONCE = (["build"], ["check"], ["status"])


def _exit_now(code: int) -> None:
    """End the process at once: tearing down 100,000s of objects one by one (and a
    last collection over all of them) would add a tenth of a second to a cold build
    of 10,000 posts. Output is flushed first."""
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a pipe gone: nothing to keep
            code = code or 120
    os._exit(code)
