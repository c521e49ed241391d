"""Shell: where a site's files are, from `[paths]` and the command line's overrides.

Standard library only: the nothing-changed exit resolves the paths from the raw
TOML, before the configuration's schema is even imported (the fingerprint holds
the file's size and modification time, so a file that validated at the last clean
build and has not changed since needs no second validation).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.core.entry import PATH_DEFAULTS

PACKAGE = Path(__file__).resolve().parent.parent  # pipeline/


def default_template_dirs(kind: str = "email") -> list[Path]:
    """Where the shipped templates of `kind` ("email", "pages") are: inside the
    wheel, or the repository's."""
    return [PACKAGE / "_templates" / kind, PACKAGE.parent / "templates" / kind]


class SitePaths(NamedTuple):
    content_dir: Path
    out_dir: Path
    state_path: Path  # the ledger
    template_dir: Path  # the site's own templates/email, may not exist
    config_file: Path | None  # the newsletter.toml the paths came from


def resolve(
    folder: Path,
    paths: Mapping[str, Any],
    overrides: Mapping[str, Path | None] | None = None,
    config_file: Path | None = None,
) -> SitePaths:
    """`[paths]` values (text, relative to `folder`; the defaults where absent), unless
    the command line overrides them."""
    given = overrides or {}

    def path_of(key: str) -> Path:
        override = given.get(key)
        if override is not None:
            return override
        return folder / str(paths.get(key, PATH_DEFAULTS[key]))

    return SitePaths(
        path_of("content"), path_of("out"), path_of("state"), path_of("templates"), config_file
    )
