"""Shell: a site folder -> its configuration and the paths a build uses.

Reads newsletter.toml (the only place the file is opened) and resolves `[paths]`
against the site folder, with the command line's overrides.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.settings import CONFIG_NAME, Config, parse_config

PACKAGE = Path(__file__).resolve().parent.parent  # pipeline/


@dataclass(frozen=True)
class Site:
    """A configuration and where its files are."""

    config: Config
    content_dir: Path
    out_dir: Path
    state_path: Path  # the ledger
    template_dir: Path  # the site's own templates/email, may not exist
    config_file: Path | None = None  # the newsletter.toml this came from

    @property
    def lock_path(self) -> Path:
        return self.state_path.with_name(self.state_path.name + ".lock")

    @property
    def cache_path(self) -> Path:
        """The disposable post index and rendered-post cache, beside the ledger."""
        return self.state_path.with_name("cache.sqlite")


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file as a dict; a missing or broken file is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no configuration file here",
            f"create {CONFIG_NAME} in the site folder (see README), or pass --site/--config",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read it ({exc})", "check the file's permissions"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", "fix the line it names") from None


def site_of(
    config: Config,
    folder: Path,
    overrides: Mapping[str, Path | None] | None = None,
    config_file: Path | None = None,
) -> Site:
    """The site's paths: `[paths]` under `folder`, unless the command line overrides."""
    given = overrides or {}

    def path_of(key: str) -> Path:
        override = given.get(key)
        return override if override is not None else folder / getattr(config.paths, key)

    return Site(
        config=config,
        content_dir=path_of("content"),
        out_dir=path_of("out"),
        state_path=path_of("state"),
        template_dir=path_of("templates"),
        config_file=config_file,
    )


def load_site(
    folder: Path,
    config_path: Path | None = None,
    overrides: Mapping[str, Path | None] | None = None,
) -> Site:
    """Read and validate the site's configuration (the shell's entry point)."""
    path = config_path or folder / CONFIG_NAME
    config = parse_config(read_config_file(path), str(path))
    return site_of(config, folder, overrides, path)


def default_template_dirs() -> list[Path]:
    """Where the shipped email templates are: inside the wheel, or the repository's."""
    return [PACKAGE / "_templates" / "email", PACKAGE.parent / "templates" / "email"]
