"""Shell: `newsletter serve`, the readers' side of the list: unsubscribing, and
signing up with double opt-in. One WSGI application (`make_app`), run by waitress
on 127.0.0.1 behind the site's web server, or by any WSGI server
(`pipeline.shell.wsgi:application`).

The unsubscribe path is the path of `[email] unsubscribe_url`. A POST there with a
valid token and `List-Unsubscribe=One-Click` (RFC 8058) unsubscribes at once, with
no cookie, login or redirect, and the change is committed before the answer; a GET
shows one button that makes that POST, and never unsubscribes by itself: link
scanners and previews follow links. A token that is not ours changes nothing.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipeline.core import delivery, tokens
from pipeline.core.audience import AddressError, checked_address
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.core.settings import merge_tag_service
from pipeline.core.signup import confirm_url, confirmation_email
from pipeline.shell.sender import make_transport
from pipeline.shell.site import Site
from pipeline.shell.templates import load_templates
from pipeline.store import signups, subscribers

logger = logging.getLogger(__name__)

MAX_BODY = 4096  # bytes: a form with one address, or the one-click body
ONE_CLICK = "One-Click"
SECURITY_HEADERS = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # the token stays in this page's URL
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
)
STATUS = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    410: "410 Gone",
    413: "413 Content Too Large",
    415: "415 Unsupported Media Type",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    token: str
    form: Mapping[str, str]
    client: str


@dataclass(frozen=True)
class Form:
    """One form with one button; `email`: with an address field."""

    action: str
    button: str
    hidden: tuple[tuple[str, str], ...] = ()
    email: bool = False
    email_value: str = ""


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    message: str = ""
    error: str = ""
    form: Form | None = None
    headers: tuple[tuple[str, str], ...] = ()


class BadRequest(Exception):
    def __init__(self, page: Page) -> None:
        super().__init__(page.title)
        self.page = page


def server_problems(site: Site, environ: Mapping[str, str]) -> list[str]:
    """What stops `serve` from starting (a configuration error, exit 2)."""
    config, problems = site.config, []
    url = config.email.unsubscribe_url
    if merge_tag_service(url):
        problems.append(
            f"[email] unsubscribe_url: {url} is a merge tag: the service it belongs to answers "
            "those links, not `newsletter serve`; set the https URL this server will answer"
        )
    name = config.send.secret_env
    if not name:
        problems.append(
            "[send] secret_env: missing; the server checks the links' tokens with it: name "
            'the variable, e.g. secret_env = "NEWSLETTER_SECRET"'
        )
    elif not environ.get(name):
        problems.append(
            f"[send] secret_env: the environment variable {name} is not set; export the same "
            "value `send` signs with"
        )
    if config.subscribe.enabled:
        problems += [
            p for p in delivery.send_problems(config, environ) if not p.startswith("[send] ")
        ]
    return problems


class ReaderDesk:
    """The WSGI application."""

    def __init__(
        self, site: Site, environ: Mapping[str, str], clock: Callable[[], datetime]
    ) -> None:
        problems = server_problems(site, environ)
        if problems:
            raise ConfigError(
                f"{site.config_file}: cannot serve, {len(problems)} problem(s):\n  - "
                + "\n  - ".join(problems),
                "fix each key named above; README, 'Unsubscribing and sign-up', shows a setup",
            )
        self.site = site
        self.config = config = site.config
        self.clock = clock
        send = config.send
        self.secrets = [environ[send.secret_env].encode()]
        if send.previous_secret_env and environ.get(send.previous_secret_env):
            self.secrets.append(environ[send.previous_secret_env].encode())
        self.password = (
            environ.get(config.smtp.password_env, "") if config.smtp.password_env else ""
        )
        self.pages = load_templates(site.template_dir.parent / "pages", "pages")
        self.unsubscribe_path = _normal(urlsplit(config.email.unsubscribe_url).path)
        self.subscribe_path = _normal(config.subscribe.path)
        self.confirm_path = _normal(config.subscribe.path + "/confirm")
        self.limits = signups.Limits(
            config.subscribe.per_address_day, config.subscribe.per_client_hour
        )
        self.render(Page(200, "A page"))  # a site's own template fails now, not per request

    def __call__(
        self, environ: Mapping[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            page = self.answer(_request(environ))
        except BadRequest as refused:
            page = refused.page
        except PipelineError as error:  # the ledger busy or broken: nothing was changed
            logger.warning("serve: %s", error.message)
            page = Page(503, "Not now", "Nothing was changed. Please try again in a minute.")
        except Exception:
            logger.exception("serve: %s %s failed", environ.get("REQUEST_METHOD"), _path(environ))
            page = Page(500, "Something went wrong", "Nothing was changed. Please try again later.")
        body = self.render(page)
        logger.info("%s %s -> %s", environ.get("REQUEST_METHOD"), _path(environ), page.status)
        headers = [*SECURITY_HEADERS, *page.headers, ("Content-Length", str(len(body)))]
        start_response(STATUS[page.status], headers)
        return [body]

    def render(self, page: Page) -> bytes:
        site = self.config.site
        context = {
            "site": {"title": site.title, "url": site.url, "language": site.language},
            "title": page.title,
            "message": page.message,
            "error": page.error,
            "form": page.form,
        }
        return self.pages.render("page.html", context).encode("utf-8")

    def answer(self, request: Request) -> Page:
        path = _normal(request.path)
        if path == self.unsubscribe_path:
            return self.unsubscribe(request)
        if self.config.subscribe.enabled and path == self.subscribe_path:
            return self.subscribe(request)
        if self.config.subscribe.enabled and path == self.confirm_path:
            return self.confirm(request)
        return Page(404, "Not found", "There is no page here.")

    # Unsubscribing

    def unsubscribe(self, request: Request) -> Page:
        _allow(request, "GET, HEAD, POST")
        address = tokens.read_unsubscribe(self.secrets, request.token, self.config.email.list_id)
        if address is None:
            return _bad_link("unsubscribe")
        if request.method in ("GET", "HEAD"):
            return Page(
                200,
                "Unsubscribe?",
                f"Press the button to stop receiving {self.config.site.title} at {address}.",
                form=Form(
                    f"{self.unsubscribe_path_as_written()}?token={request.token}",
                    "Unsubscribe",
                    hidden=(("List-Unsubscribe", ONE_CLICK),),
                ),
            )
        if request.form.get("List-Unsubscribe") != ONE_CLICK:
            return Page(400, "Nothing was changed", error="The request did not ask to unsubscribe.")
        outcome = subscribers.unsubscribe(self.site.state_path, address, self.clock())
        if outcome == "unknown":
            return Page(404, "Not on the list", f"{address} does not receive this newsletter.")
        said = "You are unsubscribed" if outcome == "unsubscribed" else "Already unsubscribed"
        return Page(200, said, f"{address} will get no more emails from {self.config.site.title}.")

    def unsubscribe_path_as_written(self) -> str:
        return urlsplit(self.config.email.unsubscribe_url).path or "/"

    # Signing up

    def subscribe(self, request: Request) -> Page:
        _allow(request, "GET, HEAD, POST")
        action = self.config.subscribe.path
        if request.method in ("GET", "HEAD"):
            return Page(
                200,
                f"Subscribe to {self.config.site.title}",
                "New posts, by email. We will send you one email to confirm the address.",
                form=Form(action, "Subscribe", email=True),
            )
        raw = request.form.get("email", "")
        try:
            address = checked_address(raw)
        except AddressError as exc:
            return Page(
                400,
                f"Subscribe to {self.config.site.title}",
                error=f"That is not an email address we can write to: {exc}",
                form=Form(action, "Subscribe", email=True, email_value=" ".join(raw.split())[:254]),
            )
        now = self.clock()
        verdict = signups.request(self.site.state_path, address, request.client, now, self.limits)
        if verdict == "client-limit":
            return Page(
                429,
                "Too many requests",
                "Please try again in an hour.",
                headers=(("Retry-After", "3600"),),
            )
        if verdict == "send":
            expires = now + timedelta(hours=self.config.subscribe.confirm_hours)
            token = tokens.confirm_token(
                self.secrets[0], address, self.config.email.list_id, expires
            )
            if not self._send_confirmation(address, confirm_url(self.config, token), now):
                return Page(
                    503,
                    "The email could not be sent",
                    "Nothing was changed. Please try again later.",
                    headers=(("Retry-After", "600"),),
                )
        # The same answer whether the address was new, active or over its limit: the
        # page does not tell a stranger who is subscribed.
        return Page(
            200,
            "Check your inbox",
            f"If {address} can receive {self.config.site.title}, an email with a link to "
            "confirm is on its way.",
        )

    def _send_confirmation(self, address: str, link: str, now: datetime) -> bool:
        data = confirmation_email(self.config, self.pages, address, link, now)
        envelope = parseaddr(self.config.email.from_address)[1]
        transport = make_transport(self.site, self.password)
        try:
            outcome = transport.deliver(envelope, address, data)
        except Exception:
            logger.exception("serve: the confirmation email could not be sent")
            return False
        finally:
            transport.close()
        if outcome.state != "sent":
            logger.warning("serve: confirmation to the relay: %s", outcome.reply)
        return outcome.state == "sent"

    def confirm(self, request: Request) -> Page:
        _allow(request, "GET, HEAD, POST")
        address, expired = tokens.read_confirm(
            self.secrets, request.token, self.config.email.list_id, self.clock()
        )
        if address is None:
            return _bad_link("confirmation")
        if expired:
            return Page(
                410,
                "This link has expired",
                "Nothing was changed. Sign up again to get a new one.",
                form=Form(
                    self.config.subscribe.path, "Sign up again", email=True, email_value=address
                ),
            )
        if request.method in ("GET", "HEAD"):
            return Page(
                200,
                "Confirm your subscription",
                f"Press the button to receive {self.config.site.title} at {address}.",
                form=Form(f"{self.config.subscribe.path}/confirm?token={request.token}", "Confirm"),
            )
        subscribers.confirm(self.site.state_path, address, self.clock())
        return Page(200, "You are subscribed", f"{address} will receive {self.config.site.title}.")


def _normal(path: str) -> str:
    return path.rstrip("/") or "/"


def _path(environ: Mapping[str, Any]) -> str:
    return str(environ.get("PATH_INFO", ""))  # never the query: it holds tokens


def _allow(request: Request, methods: str) -> None:
    if request.method not in methods.split(", "):
        raise BadRequest(
            Page(
                405, "Not allowed", "This page takes only " + methods, headers=(("Allow", methods),)
            )
        )


def _bad_link(what: str) -> Page:
    return Page(
        400,
        "This link is not valid",
        f"Nothing was changed. The {what} link may have been cut off or altered: open it "
        "again from the email, or copy the whole link.",
    )


def _request(environ: Mapping[str, Any]) -> Request:
    """The parts of a request the pages use, read within the size limit."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    query = parse_qs(str(environ.get("QUERY_STRING", "")), max_num_fields=10)
    tokens_given = query.get("token", [])
    if len(tokens_given) > 1:
        raise BadRequest(_bad_link("given"))
    form: dict[str, str] = {}
    if method == "POST":
        form = _form(environ)
    return Request(
        method,
        _path(environ),
        tokens_given[0] if tokens_given else "",
        form,
        _client(environ),
    )


def _form(environ: Mapping[str, Any]) -> dict[str, str]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if length < 0 or length > MAX_BODY:
        raise BadRequest(Page(413, "Too large", "This form takes a few hundred bytes at most."))
    data = environ["wsgi.input"].read(length) if length else b""
    kind = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if kind == "multipart/form-data":  # RFC 8058 allows it for the one-click body
        head = f"Content-Type: {environ.get('CONTENT_TYPE')}\r\n\r\n".encode("latin-1", "replace")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
        fields = {}
        for part in message.iter_parts() if message.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    fields[name] = payload.decode("utf-8", "replace")
        return fields
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise BadRequest(Page(415, "Not a form", "This page takes a form."))
    try:
        text = data.decode("utf-8")
        parsed = parse_qs(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=10
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(Page(400, "Not a form", "The form could not be read.")) from None
    return {name: values[0] for name, values in parsed.items() if len(values) == 1}


def _client(environ: Mapping[str, Any]) -> str:
    """Who asked, for the rate limit: behind a proxy on this machine, the address it
    adds last to X-Forwarded-For (the README's nginx block sets it)."""
    remote = str(environ.get("REMOTE_ADDR", ""))
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR", ""))
    if forwarded and delivery.is_loopback(remote):
        return forwarded.split(",")[-1].strip()[:64]
    return remote[:64]


def make_app(site: Site, environ: Mapping[str, str], now: datetime | None = None) -> ReaderDesk:
    return ReaderDesk(site, environ, (lambda: now) if now else (lambda: datetime.now(UTC)))


def run_server(app: ReaderDesk, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve until interrupted; port 0 is a free one, printed."""
    from waitress.server import create_server

    server = create_server(
        app, host=host, port=port, threads=4, max_request_body_size=MAX_BODY, ident="newsletter"
    )
    paths = [app.unsubscribe_path_as_written()]
    if app.config.subscribe.enabled:
        paths += [app.config.subscribe.path, app.config.subscribe.path + "/confirm"]
    announce(
        f"Serving on http://{host}:{getattr(server, 'effective_port', port)}  "
        f"({', '.join(paths)}); Ctrl-C stops"
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
