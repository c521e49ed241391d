"""newsletter.toml -> Config (frozen).

Every problem in the file is collected and reported at once, each naming the table
and key and saying what to write instead, then one `ConfigError` (exit 2).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.core.errors import ConfigError

CONFIG_NAME = "newsletter.toml"

DEFAULT_AFFILIATE_HOSTS = (
    "amzn.to",
    "amazon.*?tag",  # an Amazon store link carrying an associate tag
    "checkout-ds24.com",
    "digistore24.com",
)
DEFAULT_AFFILIATE_DISCLOSURE = (
    "🔗 **Affiliate disclosure:** Some links in this post are affiliate links. "
    "If you buy through them, I may earn a small commission at no extra cost to you."
)


@dataclass(frozen=True)
class SiteConfig:
    title: str
    url: str  # always ends with "/"
    description: str
    language: str
    author: str
    timezone: tzinfo | None  # None: naive times are read as UTC (and `check` says so)
    permalink: str  # "{site_url}{slug}/"; also {year} {month} {day}


@dataclass(frozen=True)
class FeedConfig:
    base_url: str  # where out/ is served, ends with "/"; the feeds' self links start here
    limit: int
    entry_id: str  # "wordpress" or a pattern with {site_url} {id} {identity} {url} {uuid}
    category_feeds: bool
    tag_feeds: bool
    max_bytes: int  # per feed file; beyond it the oldest entries lose their content, then go
    websub_hub: str  # a WebSub hub to advertise, or ""
    stylesheet: bool  # reference feed.xsl so a browser shows a readable page


@dataclass(frozen=True)
class EmailConfig:
    enabled: bool
    mode: str  # "digest" or "per-post"
    from_address: str
    to_address: str
    reply_to: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    postal_address: str
    updated_section: bool
    max_age_days: int
    subject_one: str
    subject_many: str
    max_bytes: int  # HTML size budget; Gmail clips messages above about 102 KB


@dataclass(frozen=True)
class Config:
    site: SiteConfig
    feed: FeedConfig
    email: EmailConfig
    affiliate_hosts: tuple[str, ...]
    affiliate_disclosure: str
    excerpt_length: int
    settle_minutes: int
    max_post_bytes: int  # a larger post file is refused (a runaway export, an attack)
    content_dir: Path
    out_dir: Path
    state_path: Path
    template_dir: Path  # the site's own templates/email, may not exist
    config_file: Path | None = None  # the newsletter.toml this came from


Check = Callable[[Any], str | None]  # returns a problem, or None when the value is fine


def _is(kind: type | tuple[type, ...], what: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and kind is not bool:
            return f"must be {what}, not true/false"
        return None if isinstance(value, kind) else f"must be {what}"

    return check


def _positive_int(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "must be a whole number, 0 or more"
    return None


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a text value"
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        return f"must be an absolute http(s) URL, got {value!r}"
    return None


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _str_list(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return 'must be a list of text values, e.g. ["amzn.to"]'
    return None


_TEXT = _is(str, "a text value")
_BOOL = _is(bool, "true or false")

# table -> key -> (default, check)
SCHEMA: dict[str, dict[str, tuple[Any, Check]]] = {
    "site": {
        "title": ("", _TEXT),
        "url": ("", _http_url),
        "description": ("", _TEXT),
        "language": ("en", _TEXT),
        "author": ("", _TEXT),
        "timezone": ("", _TEXT),
        "permalink": ("{site_url}{slug}/", _TEXT),
    },
    "paths": {
        "content": ("content", _TEXT),
        "out": ("out", _TEXT),
        "state": (".newsletter/ledger.sqlite", _TEXT),
        "templates": ("templates/email", _TEXT),
    },
    "feed": {
        "base_url": ("", _http_url),
        "limit": (20, _positive_int),
        "entry_id": ("wordpress", _TEXT),
        "category_feeds": (True, _BOOL),
        "tag_feeds": (False, _BOOL),
        "max_bytes": (512_000, _positive_int),
        "websub_hub": ("", _http_url),
        "stylesheet": (True, _BOOL),
    },
    "email": {
        "enabled": (True, _BOOL),
        "mode": ("digest", _one_of("digest", "per-post")),
        "from": ("", _TEXT),
        "to": ("", _TEXT),
        "reply_to": ("", _TEXT),
        "unsubscribe_url": ("", _http_url),
        "unsubscribe_mailto": ("", _TEXT),
        "postal_address": ("", _TEXT),
        "updated_section": (True, _BOOL),
        "max_age_days": (30, _positive_int),
        "subject_one": ("{title}", _TEXT),
        "subject_many": ("{site}: {title} and {more} more", _TEXT),
        "max_bytes": (100_000, _positive_int),
    },
    "affiliate": {
        "hosts": (list(DEFAULT_AFFILIATE_HOSTS), _str_list),
        "default_disclosure": (DEFAULT_AFFILIATE_DISCLOSURE, _TEXT),
    },
    "build": {
        "excerpt_length": (300, _positive_int),
        "settle_minutes": (0, _positive_int),
        "max_post_bytes": (2_000_000, _positive_int),
    },
}

REQUIRED = {
    ("site", "title"): 'the blog\'s name, e.g. title = "Driftly"',
    ("site", "url"): 'the blog\'s home page, e.g. url = "https://driftly.blog/"',
}
REQUIRED_FOR_EMAIL = {
    ("email", "from"): 'the sender, e.g. from = "Driftly <hello@driftly.blog>"',
    ("email", "to"): 'the list address, e.g. to = "readers@lists.driftly.blog"',
    ("email", "unsubscribe_url"): "the one-click unsubscribe page (https), required by Gmail "
    "and Yahoo for bulk senders",
    ("email", "postal_address"): "your postal address, which CAN-SPAM requires in every email",
}


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


def parse_config(
    raw: Mapping[str, Any],
    site_dir: Path,
    origin: str = CONFIG_NAME,
    path_overrides: Mapping[str, Path | None] | None = None,
    config_file: Path | None = None,
) -> Config:
    """Validate the whole file, then build the Config or raise one ConfigError."""
    problems: list[str] = []
    values: dict[str, dict[str, Any]] = {}
    for table in raw:
        if table not in SCHEMA:
            problems.append(f"[{table}]: unknown table (known: {', '.join(SCHEMA)})")
    for table, keys in SCHEMA.items():
        given = raw.get(table, {})
        if not isinstance(given, dict):
            problems.append(f"{table}: must be a table, [{table}]")
            given = {}
        for key in given:
            if key not in keys:
                problems.append(f"[{table}] {key}: unknown key (known: {', '.join(keys)})")
        values[table] = {}
        for key, (default, check) in keys.items():
            value = given.get(key, default)
            problem = check(value)
            if problem:
                problems.append(f"[{table}] {key}: {problem}")
                value = default
            values[table][key] = value

    required = dict(REQUIRED)
    if values["email"]["enabled"]:
        required.update(REQUIRED_FOR_EMAIL)
    for (table, key), hint in required.items():
        if not values[table][key]:
            problems.append(f"[{table}] {key}: missing; set {hint}")

    timezone: tzinfo | None = None
    if values["site"]["timezone"]:
        try:
            timezone = ZoneInfo(values["site"]["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"[site] timezone: unknown time zone {values['site']['timezone']!r}; "
                'use an IANA name such as "Europe/London" or "UTC"'
            )
    for key in ("permalink",):
        pattern = values["site"][key]
        try:
            pattern.format(site_url="", slug="", year="", month="", day="")
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(
                f"[site] {key}: bad pattern {pattern!r} ({exc}); "
                "use {site_url} {slug} {year} {month} {day}"
            )
    entry_id = values["feed"]["entry_id"]
    if entry_id != "wordpress":
        try:
            entry_id.format(site_url="", id="", identity="", url="", uuid="")
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(
                f'[feed] entry_id: bad pattern {entry_id!r} ({exc}); use "wordpress" or '
                "a pattern with {site_url} {id} {identity} {url} {uuid}"
            )
    for key in ("subject_one", "subject_many"):
        try:
            values["email"][key].format(site="", title="", more=0, count=0)
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(
                f"[email] {key}: bad pattern ({exc}); use {{site}} {{title}} {{more}} {{count}}"
            )
    mailto = values["email"]["unsubscribe_mailto"]
    if mailto and not mailto.startswith("mailto:"):
        problems.append(f"[email] unsubscribe_mailto: must start with mailto:, got {mailto!r}")
    if problems:
        raise ConfigError(
            f"{origin}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems),
            "fix each key named above; README lists every setting",
        )

    site = values["site"]
    url = _with_slash(site["url"])
    overrides = path_overrides or {}

    def path_of(key: str) -> Path:
        override = overrides.get(key)
        return override if override is not None else site_dir / values["paths"][key]

    email = values["email"]
    return Config(
        site=SiteConfig(
            title=site["title"],
            url=url,
            description=site["description"] or site["title"],
            language=site["language"],
            author=site["author"] or site["title"],
            timezone=timezone,
            permalink=site["permalink"],
        ),
        feed=FeedConfig(
            base_url=_with_slash(values["feed"]["base_url"] or url),
            limit=values["feed"]["limit"],
            entry_id=entry_id,
            category_feeds=values["feed"]["category_feeds"],
            tag_feeds=values["feed"]["tag_feeds"],
            max_bytes=values["feed"]["max_bytes"],
            websub_hub=values["feed"]["websub_hub"],
            stylesheet=values["feed"]["stylesheet"],
        ),
        email=EmailConfig(
            enabled=email["enabled"],
            mode=email["mode"],
            from_address=email["from"],
            to_address=email["to"],
            reply_to=email["reply_to"],
            unsubscribe_url=email["unsubscribe_url"],
            unsubscribe_mailto=email["unsubscribe_mailto"],
            postal_address=email["postal_address"],
            updated_section=email["updated_section"],
            max_age_days=email["max_age_days"],
            subject_one=email["subject_one"],
            subject_many=email["subject_many"],
            max_bytes=email["max_bytes"],
        ),
        affiliate_hosts=tuple(values["affiliate"]["hosts"]),
        affiliate_disclosure=values["affiliate"]["default_disclosure"],
        excerpt_length=values["build"]["excerpt_length"],
        settle_minutes=values["build"]["settle_minutes"],
        max_post_bytes=values["build"]["max_post_bytes"],
        content_dir=path_of("content"),
        out_dir=path_of("out"),
        state_path=path_of("state"),
        template_dir=path_of("templates"),
        config_file=config_file,
    )


def default_template_dirs() -> list[Path]:
    """Where the shipped email templates are: inside the wheel, or the repository's."""
    package = Path(__file__).resolve().parent.parent  # pipeline/
    return [package / "_templates" / "email", package.parent / "templates" / "email"]


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def load_config(
    site_dir: Path,
    config_path: Path | None = None,
    path_overrides: Mapping[str, Path | None] | None = None,
) -> Config:
    """Read and validate the site's configuration (the shell's entry point)."""
    path = config_path or site_dir / CONFIG_NAME
    return parse_config(read_config_file(path), site_dir, str(path), path_overrides, path)
