"""newsletter.toml's tables -> Config (frozen), each key declared once.

A key is a dataclass field made by `setting()`: its type, default, check, the help
text the README's settings table shows (a test holds the two equal) and, where the
value is not used as written, a conversion. `parse_config` validates the whole
file, reporting every problem at once (table, key, what to write instead), then
raises one `ConfigError` (exit 2). Pure: the shell reads the file and resolves
the `[paths]` against the site folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from datetime import tzinfo
from email.utils import parseaddr
from typing import Any, NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.core.entry import PATH_DEFAULTS
from pipeline.core.errors import ConfigError
from pipeline.core.posts.permalinks import problem as permalink_problem
from pipeline.core.schedule import Schedule, parse_schedule

CONFIG_NAME = "newsletter.toml"

Check = Callable[[Any], str | None]  # returns a problem, or None when the value is fine


def _is(kind: type, what: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and kind is not bool:
            return f"must be {what}, not true/false"
        return None if isinstance(value, kind) else f"must be {what}"

    return check


def _whole_number(value: Any) -> str | None:
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


# An email service's own unsubscribe link, which the service fills in per reader:
# kept verbatim in the written email for pasting into that service.
MERGE_TAGS = {
    "*|UNSUB|*": "Mailchimp",
    "{{ unsubscribe_url }}": "Kit",
    "{{ UnsubscribeURL }}": "listmonk",
    "%%{unsubscribe_url}%%": "Ghost",
}


def merge_tag_service(value: str) -> str:
    """The service whose merge tag `value` is ("" when it is a URL); the `{{ }}`
    tags may be written with or without the inner spaces."""
    for tag, service in MERGE_TAGS.items():
        if value.replace(" ", "") == tag.replace(" ", ""):
            return service
    return ""


def _unsubscribe_url(value: Any) -> str | None:
    if isinstance(value, str) and merge_tag_service(value):
        return None
    problem = _http_url(value)
    if problem:
        return f"{problem}, or an email service's unsubscribe merge tag: " + ", ".join(MERGE_TAGS)
    return None


def _schedule(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a text value"
    try:
        parse_schedule(value)
    except ValueError as exc:
        return str(exc)
    return None


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _text_list(value: Any) -> str | None:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return 'must be a list of text values, e.g. ["amzn.to"]'
    return None


def _time_zone(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a text value"
    if value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return f'unknown time zone {value!r}; use an IANA name such as "Europe/London" or "UTC"'
    return None


def _zone(value: str) -> tzinfo | None:
    return ZoneInfo(value) if value else None


TEXT = _is(str, "a text value")
BOOL = _is(bool, "true or false")


def setting(
    default: Any,
    check: Check,
    help: str,  # noqa: A002 (the README's word for it)
    *,
    toml: str = "",
    shown: str = "",
    convert: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare one key: `toml` is its name in the file when it differs from the
    field's, `shown` the README's default column when it is not the TOML literal."""
    metadata = {"check": check, "help": help, "toml": toml, "shown": shown, "convert": convert}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class SiteConfig:
    title: str = setting("", TEXT, "the blog's name", shown="required")
    url: str = setting(
        "", _http_url, "its home page; post URLs and WordPress ids start here", shown="required"
    )
    description: str = setting("", TEXT, "feed description", shown="the title")
    language: str = setting("en", TEXT, "feed and email language")
    author: str = setting("", TEXT, "author when a post names none", shown="the title")
    timezone: tzinfo | None = setting(
        "",
        _time_zone,
        "IANA zone for dates written without an offset",
        shown="UTC",
        convert=_zone,  # None: naive times are read as UTC (and `check` says so)
    )
    permalink: str = setting(
        "{site_url}{slug}/",
        TEXT,
        "URL of a post without `url:` or `permalink:`; also `{year}` `{month}` `{day}`, "
        "Jekyll's styles (`date`, `pretty`, `ordinal`, `none`) and Jekyll's or Hugo's "
        "`:placeholders` (`/:year/:month/:title/`)",
    )
    permalink_style: str = setting(
        "",
        _one_of("", "jekyll", "hugo"),
        "whose meaning `:title` and `:slug` have; unset: Hugo's when the pattern has a "
        "placeholder only Hugo has (`:section`, `:filename`), else Jekyll's",
        shown='`""`',
    )


@dataclass(frozen=True)
class PathsConfig:
    """As written in the file: the shell resolves them against the site folder."""

    content: str = setting(
        PATH_DEFAULTS["content"], TEXT, "the posts: `*.md` and `*.markdown`, any depth"
    )
    out: str = setting(PATH_DEFAULTS["out"], TEXT, "where feeds and emails are written")
    state: str = setting(
        PATH_DEFAULTS["state"],
        TEXT,
        "the ledger (its lock file and `cache.sqlite`, the disposable post index and "
        "rendered-post cache, sit beside it)",
    )
    templates: str = setting(
        PATH_DEFAULTS["templates"], TEXT, "the site's own email templates, if any"
    )


@dataclass(frozen=True)
class FeedConfig:
    base_url: str = setting(
        "",
        _http_url,
        "where `out/` is served (the feeds' self links)",
        shown="the site URL",
    )
    limit: int = setting(20, _whole_number, "entries per feed")
    entry_id: str = setting(
        "wordpress",
        TEXT,
        "`<site url>?p=<id>` for numeric ids, else the post URL identity or a stable "
        "`urn:uuid:`; or a pattern with `{site_url}` `{id}` `{identity}` `{url}` `{uuid}`",
    )
    category_feeds: bool = setting(True, BOOL, "a feed per category under `out/category/<slug>/`")
    tag_feeds: bool = setting(False, BOOL, "a feed per tag under `out/tag/<slug>/`")
    max_bytes: int = setting(
        512_000,
        _whole_number,
        "byte budget per feed file: beyond it the oldest entries lose their content "
        "(summary only), then drop out; `0` is no limit",
    )
    websub_hub: str = setting(
        "",
        _http_url,
        'a WebSub hub to advertise (`rel="hub"`, JSON Feed `hubs`) and to tell of each '
        "feed a build rewrote (`hub.mode=publish`; a failed ping is retried by the next build)",
        shown="none",
    )
    stylesheet: bool = setting(
        True,
        BOOL,
        "write `feed.xsl` and reference it, so a browser shows a readable page instead of raw XML",
    )


@dataclass(frozen=True)
class EmailConfig:
    enabled: bool = setting(True, BOOL, "write emails at all")
    mode: str = setting(
        "digest",
        _one_of("digest", "per-post"),
        '`"digest"` (one email per build) or `"per-post"`',
    )
    from_address: str = setting("", TEXT, "the sender", toml="from", shown="required")
    to_address: str = setting("", TEXT, "the list address", toml="to", shown="required")
    reply_to: str = setting("", TEXT, "Reply-To", shown="none")
    unsubscribe_url: str = setting(
        "",
        _unsubscribe_url,
        "the unsubscribe page (https), served by `newsletter serve`; or the unsubscribe "
        "merge tag of Mailchimp, Kit, listmonk or Ghost, for pasting the email into that "
        "service (README, Hand-off)",
        shown="required",
    )
    unsubscribe_mailto: str = setting(
        "", TEXT, "`mailto:` unsubscribe address, also in List-Unsubscribe", shown="none"
    )
    list_handles_one_click: bool = setting(
        False,
        BOOL,
        "the list server at `to` rewrites List-Unsubscribe per reader, so an email to the "
        "list may claim one-click unsubscribing (List-Unsubscribe-Post)",
    )
    list_id: str = setting(
        "",
        TEXT,
        "the List-Id, which unsubscribe tokens are signed with: set it before changing "
        "`to` or the site URL, or old unsubscribe links stop working",
        shown="`newsletter.` and the domain of `to`",
    )
    postal_address: str = setting("", TEXT, "shown in every footer (CAN-SPAM)", shown="required")
    updated_section: bool = setting(True, BOOL, 'include modified posts ("Updated") in the digest')
    max_age_days: int = setting(30, _whole_number, "new posts older than this are not emailed")
    subject_one: str = setting("{title}", TEXT, "subject for one post")
    subject_many: str = setting(
        "{site}: {title} and {more} more", TEXT, "subject for several; also `{count}`"
    )
    max_bytes: int = setting(
        100_000,
        _whole_number,
        "HTML budget (Gmail clips above about 102 KB): beyond it excerpts are shortened, "
        "then the last posts become a list of links; disclosures are never shortened",
    )
    schedule: Schedule = setting(
        "each",
        _schedule,
        'when emails go out: `"each"` build with something new, `"daily HH:MM"`, '
        '`"weekly DAY HH:MM"` or `"monthly D HH:MM"` in the site\'s time zone; between '
        "slots builds update the feeds only, and the first build after a slot emails "
        "everything that waited",
        convert=parse_schedule,
    )
    utm_source: str = setting(
        "",
        TEXT,
        "campaign tags on the email's links to the site's own pages (never in feeds, "
        "never over the author's own `utm_`): the source, e.g. `newsletter`",
        shown="none (off)",
    )
    utm_medium: str = setting("", TEXT, "the campaign medium", shown='`"email"`')
    utm_campaign: str = setting("", TEXT, "the campaign name", shown="the email id")


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
class AffiliateConfig:
    hosts: tuple[str, ...] = setting(
        DEFAULT_AFFILIATE_HOSTS,
        _text_list,
        "affiliate link patterns: a host (subdomains match, `*` is one label), `?param` "
        "requires that query parameter",
        shown=", ".join(f"`{host}`" for host in DEFAULT_AFFILIATE_HOSTS),
        convert=tuple,
    )
    default_disclosure: str = setting(
        DEFAULT_AFFILIATE_DISCLOSURE,
        TEXT,
        "added, with a warning, to posts with affiliate links and no disclosure of their own",
        shown="a short affiliate disclosure",
    )


@dataclass(frozen=True)
class BuildConfig:
    excerpt_length: int = setting(300, _whole_number, "length of an excerpt made from the body")
    settle_minutes: int = setting(
        0,
        _whole_number,
        "leave posts changed more recently than this for the next run",
        shown="`0` (off)",
    )
    max_post_bytes: int = setting(
        2_000_000, _whole_number, "a larger post file is refused with a message"
    )
    featured_image_from_body: bool = setting(
        False,
        BOOL,
        "a post whose front matter names no featured image takes the first image of its body",
    )
    unknown_tags: str = setting(
        "reject",
        _one_of("reject", "strip"),
        "template syntax the pipeline cannot resolve: `reject` holds the post back until "
        "it is fixed, `strip` removes the tag and publishes the rest (both warn)",
    )
    site_root: str = setting(
        "",
        TEXT,
        "the old site's folder, for `{% link %}` to its pages",
        shown="content's parent if content is `_posts`, else content",
    )
    includes: str = setting(
        "",
        TEXT,
        "the folder `{% include %}` reads plain HTML or Markdown from",
        shown="`_includes` in the site root",
    )


@dataclass(frozen=True)
class ArchiveConfig:
    enabled: bool = setting(
        True,
        BOOL,
        "each email also as a web page, `out/archive/<email-id>/`, with an index and a feed "
        "of issues; every email links to its page (View in browser)",
    )
    base_url: str = setting(
        "", _http_url, "where `out/archive/` is served", shown="the feeds' base URL + `archive/`"
    )


def _port(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        return "must be a port number, 1 to 65535 (or 0: the usual one for `security`)"
    return None


def _env_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a text value"
    if value and not value.replace("_", "A").isalnum():
        return f"must be the name of an environment variable, e.g. SMTP_PASSWORD, got {value!r}"
    return None


def _rate(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return "must be a number of messages per second, 0 for no limit"
    return None


@dataclass(frozen=True)
class SmtpConfig:
    host: str = setting("", TEXT, "the SMTP relay that `send` delivers through", shown="none")
    port: int = setting(
        0, _port, "its port; `0` is 587 for starttls, 465 for tls, 25 for none", shown="`0`"
    )
    security: str = setting(
        "starttls",
        _one_of("starttls", "tls", "none"),
        '`"starttls"` (required, never a silent plain login), `"tls"` (implicit TLS), '
        'or `"none"` for a relay on 127.0.0.1 only',
    )
    username: str = setting("", TEXT, "the relay's login, if it wants one", shown="none")
    password_env: str = setting(
        "",
        _env_name,
        "the name of the environment variable holding the password (never the password)",
        shown="none",
    )
    ca_file: str = setting(
        "", TEXT, "a CA bundle for a relay with a private certificate authority", shown="none"
    )
    timeout: int = setting(30, _whole_number, "seconds to wait for the relay at each step")
    rate: float = setting(0, _rate, "messages per second at most; `0` is no limit", shown="`0`")
    connections: int = setting(1, _whole_number, "connections to the relay at once")


@dataclass(frozen=True)
class SendConfig:
    audience: str = setting(
        "list",
        _one_of("list", "subscribers"),
        '`"list"`: one message to `[email] to`; `"subscribers"`: one per active subscriber',
    )
    transport: str = setting(
        "smtp",
        _one_of("smtp", "maildir"),
        '`"smtp"` through `[smtp]`, or `"maildir"`: into the folder `maildir`, for trying it out',
    )
    maildir: str = setting("", TEXT, "the Maildir folder of the maildir transport", shown="none")
    max_age_days: int = setting(
        7, _whole_number, "an email written longer ago than this is sent only with `--force`"
    )
    max_attempts: int = setting(
        8, _whole_number, "a deferred message is tried this many times, then failed"
    )
    give_up_hours: int = setting(
        72, _whole_number, "or once it has been deferred this long, whichever comes first"
    )
    dkim_domain: str = setting("", TEXT, "sign with DKIM as this domain", shown="none")
    dkim_selector: str = setting("", TEXT, "the DKIM selector (its DNS record)", shown="none")
    dkim_key_file: str = setting(
        "", TEXT, "the DKIM private key (PEM), kept outside the site's files", shown="none"
    )
    secret_env: str = setting(
        "",
        _env_name,
        "the environment variable holding the secret that signs unsubscribe and "
        'confirmation links (needed for `audience = "subscribers"` and `serve`)',
        shown="none",
    )
    previous_secret_env: str = setting(
        "",
        _env_name,
        "while rotating the secret: the variable holding the old one, whose links still work",
        shown="none",
    )


def _url_path(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith("/") or "?" in value or "#" in value:
        return 'must be a path on the unsubscribe URL\'s host, e.g. "/subscribe"'
    return None


@dataclass(frozen=True)
class SubscribeConfig:
    enabled: bool = setting(
        False, BOOL, "sign-up with double opt-in at `path`, served by `newsletter serve`"
    )
    path: str = setting(
        "/subscribe",
        _url_path,
        "the sign-up form's path (the confirmation link is `<path>/confirm`), on the host "
        "of `[email] unsubscribe_url`",
    )
    confirm_hours: int = setting(48, _whole_number, "a confirmation link expires after this")
    per_address_day: int = setting(
        2, _whole_number, "confirmation emails to one address in 24 hours, at most"
    )
    per_client_hour: int = setting(
        10, _whole_number, "sign-up requests from one client address in an hour, at most"
    )


@dataclass(frozen=True)
class Config:
    """The whole file, one dataclass per table."""

    site: SiteConfig
    paths: PathsConfig
    feed: FeedConfig
    email: EmailConfig
    affiliate: AffiliateConfig
    build: BuildConfig
    archive: ArchiveConfig = ArchiveConfig()
    smtp: SmtpConfig = SmtpConfig()
    send: SendConfig = SendConfig()
    subscribe: SubscribeConfig = SubscribeConfig()


TABLES: dict[str, type[Any]] = {
    "site": SiteConfig,
    "paths": PathsConfig,
    "feed": FeedConfig,
    "email": EmailConfig,
    "affiliate": AffiliateConfig,
    "build": BuildConfig,
    "archive": ArchiveConfig,
    "smtp": SmtpConfig,
    "send": SendConfig,
    "subscribe": SubscribeConfig,
}
REQUIRED = (("site", "title"), ("site", "url"))
REQUIRED_FOR_EMAIL = (
    ("email", "from"),
    ("email", "to"),
    ("email", "unsubscribe_url"),
    ("email", "postal_address"),
)
HINTS = {
    ("site", "title"): 'the blog\'s name, e.g. title = "Driftly"',
    ("site", "url"): 'the blog\'s home page, e.g. url = "https://driftly.blog/"',
    ("email", "from"): 'the sender, e.g. from = "Driftly <hello@driftly.blog>"',
    ("email", "to"): 'the list address, e.g. to = "readers@lists.driftly.blog"',
    ("email", "unsubscribe_url"): "the unsubscribe page, e.g. unsubscribe_url = "
    '"https://driftly.blog/unsubscribe" (Gmail and Yahoo require one from bulk senders)',
    ("email", "postal_address"): "your postal address, which CAN-SPAM requires in every email",
}


class Key(NamedTuple):
    """One declared key, as the parser and the README see it."""

    table: str
    name: str  # in the file
    attribute: str  # in the dataclass
    default: Any
    check: Check
    help: str
    shown: str
    convert: Callable[[Any], Any] | None

    @property
    def shown_default(self) -> str:
        """The README's default column: `shown`, else the default as TOML writes it."""
        if self.shown:
            return self.shown
        value = self.default
        if isinstance(value, bool):
            return f"`{str(value).lower()}`"
        if isinstance(value, str):
            return f'`"{value}"`'
        return f"`{value}`"


def _key(table: str, declared: Field[Any]) -> Key:
    meta = declared.metadata
    default = declared.default if declared.default is not MISSING else None
    return Key(
        table,
        meta["toml"] or declared.name,
        declared.name,
        default,
        meta["check"],
        meta["help"],
        meta["shown"],
        meta["convert"],
    )


def keys() -> Iterator[Key]:
    """Every key, in the order of the tables and their fields."""
    for table, kind in TABLES.items():
        for declared in fields(kind):
            yield _key(table, declared)


def parse_config(raw: Mapping[str, Any], origin: str = CONFIG_NAME) -> Config:
    """Validate the whole file, then build the Config or raise one ConfigError."""
    problems: list[str] = []
    values: dict[str, dict[str, Any]] = {table: {} for table in TABLES}
    for table in raw:
        if table not in TABLES:
            problems.append(f"[{table}]: unknown table (known: {', '.join(TABLES)})")
    declared: dict[str, list[Key]] = {table: [] for table in TABLES}
    for key in keys():
        declared[key.table].append(key)
    for table, table_keys in declared.items():
        given = raw.get(table, {})
        if not isinstance(given, dict):
            problems.append(f"{table}: must be a table, [{table}]")
            given = {}
        names = [key.name for key in table_keys]
        for name in given:
            if name not in names:
                problems.append(f"[{table}] {name}: unknown key (known: {', '.join(names)})")
        for key in table_keys:
            value = given.get(key.name, key.default)
            problem = key.check(value)
            if problem:
                problems.append(f"[{table}] {key.name}: {problem}")
                value = key.default
            values[table][key.name] = value

    required = REQUIRED + (REQUIRED_FOR_EMAIL if values["email"]["enabled"] else ())
    for table, name in required:
        if not values[table][name]:
            problems.append(f"[{table}] {name}: missing; set {HINTS[table, name]}")
    problems.extend(_pattern_problems(values))
    if problems:
        raise ConfigError(
            f"{origin}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems),
            "fix each key named above; README lists every setting",
        )
    tables = {
        table: TABLES[table](
            **{
                key.attribute: key.convert(values[table][key.name])
                if key.convert
                else values[table][key.name]
                for key in declared[table]
            }
        )
        for table in TABLES
    }
    return _derived(Config(**tables))


def _pattern_problems(values: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    """The keys whose text is a pattern: each placeholder must be one we fill in."""
    pattern = values["site"]["permalink"]
    if "{" in pattern:
        try:
            pattern.format(site_url="", slug="", year="", month="", day="")
        except (KeyError, IndexError, ValueError) as exc:
            yield (
                f"[site] permalink: bad pattern {pattern!r} ({exc}); "
                "use {site_url} {slug} {year} {month} {day}"
            )
    else:
        problem = permalink_problem(pattern, values["site"]["permalink_style"])
        if problem:
            yield f"[site] permalink: {problem}"
    entry_id = values["feed"]["entry_id"]
    if entry_id != "wordpress":
        try:
            entry_id.format(site_url="", id="", identity="", url="", uuid="")
        except (KeyError, IndexError, ValueError) as exc:
            yield (
                f'[feed] entry_id: bad pattern {entry_id!r} ({exc}); use "wordpress" or '
                "a pattern with {site_url} {id} {identity} {url} {uuid}"
            )
    for name in ("subject_one", "subject_many"):
        try:
            values["email"][name].format(site="", title="", more=0, count=0)
        except (KeyError, IndexError, ValueError) as exc:
            yield f"[email] {name}: bad pattern ({exc}); use {{site}} {{title}} {{more}} {{count}}"
    mailto = values["email"]["unsubscribe_mailto"]
    if mailto and not mailto.startswith("mailto:"):
        yield f"[email] unsubscribe_mailto: must start with mailto:, got {mailto!r}"


def _derived(config: Config) -> Config:
    """The values that default to others: URLs end with "/", the description and
    author default to the title, the feeds' base URL to the site's, the list id to
    the domain of the list address (or of the site)."""
    site = config.site
    url = _with_slash(site.url)
    list_host = parseaddr(config.email.to_address)[1].partition("@")[2]
    list_id = config.email.list_id or f"newsletter.{list_host or urlsplit(url).hostname}"
    feeds = _with_slash(config.feed.base_url or url)
    archive = f"{feeds}archive/"
    return replace(
        config,
        site=replace(
            site,
            url=url,
            description=site.description or site.title,
            author=site.author or site.title,
        ),
        feed=replace(config.feed, base_url=feeds),
        email=replace(config.email, list_id=list_id),
        archive=replace(config.archive, base_url=_with_slash(config.archive.base_url or archive)),
    )


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
