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

from pipeline.core.entry import PATH_DEFAULTS
from pipeline.core.errors import ConfigError
from pipeline.core.settings import CONFIG_NAME, Config, parse_config
from pipeline.shell.paths import SitePaths, resolve


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

    @property
    def check_cache_path(self) -> Path:
        """What `check` found in each post, beside the build's cache."""
        return self.state_path.with_name("check.sqlite")

    @property
    def old_root(self) -> Path:
        """The old site's folder, which `{% link %}` paths start from."""
        given = self.config.build.site_root
        if given:
            return self._folder / given
        return self.content_dir.parent if self.content_dir.name == "_posts" else self.content_dir

    @property
    def includes_dir(self) -> Path:
        given = self.config.build.includes
        return self._folder / given if given else self.old_root / "_includes"

    @property
    def _folder(self) -> Path:
        return self.config_file.parent if self.config_file else self.content_dir.parent

    @property
    def paths(self) -> SitePaths:
        return SitePaths(
            self.content_dir, self.out_dir, self.state_path, self.template_dir, self.config_file
        )


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
    table = {key: getattr(config.paths, key) for key in PATH_DEFAULTS}
    return Site(config, *resolve(folder, table, overrides, config_file))


def load_site(
    folder: Path,
    config_path: Path | None = None,
    overrides: Mapping[str, Path | None] | None = None,
) -> Site:
    """Read and validate the site's configuration (the shell's entry point)."""
    path = config_path or folder / CONFIG_NAME
    config = parse_config(read_config_file(path), str(path))
    return site_of(config, folder, overrides, path)
