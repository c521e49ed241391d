"""Shell: talking to the SMTP relay (the outbox decides; this module only talks).

One connection per worker, opened on first use: implicit TLS, or STARTTLS that is
required (a relay that does not offer it is an error, never a silent plain-text
login), certificates verified, then AUTH when a username is set. The DATA phase
is spoken step by step so that a connection lost before the final dot (the
message was not taken: deferred) is told apart from one lost after it, before the
reply (the server may have delivered it: unknown).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.core.settings import SmtpConfig

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
# Called with the recipient and the hand-over: True when it handed the message over.
Guard = Callable[[str, Callable[[], None]], bool]


class RelayError(Exception):
    """The relay cannot be used as configured (TLS, login): stop, send nothing more."""


@dataclass(frozen=True)
class Outcome:
    state: str  # "sent", "deferred", "failed", "unknown" or "skipped"
    reply: str  # the server's own words, or what went wrong


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"[:500]


def _by_code(code: int, message: bytes) -> Outcome:
    if 200 <= code < 300:
        return Outcome("sent", _reply(code, message))
    if 400 <= code < 500:
        return Outcome("deferred", _reply(code, message))
    return Outcome("failed", _reply(code, message))


class Relay:
    """One connection to the relay, opened when first needed, reopened after a loss."""

    def __init__(self, config: SmtpConfig, password: str, context: ssl.SSLContext) -> None:
        self.config = config
        self.password = password
        self.context = context
        self._conn: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        config = self.config
        port = config.port or DEFAULT_PORTS[config.security]
        timeout = float(config.timeout or 600)
        try:
            if config.security == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, port, timeout=timeout, context=self.context
                )
            else:
                conn = smtplib.SMTP(config.host, port, timeout=timeout)
            # The final dot of a guarded message is written on its own, after the
            # body: without this, Nagle's algorithm holds it for the body's ACK, which
            # the relay delays (some 40 ms a message).
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            if config.security == "starttls":
                if not conn.has_extn("starttls"):
                    conn.close()
                    raise RelayError(
                        f"{config.host}:{port} does not offer STARTTLS; refusing to log in or "
                        'send in plain text (use security = "tls" for implicit TLS)'
                    )
                conn.starttls(context=self.context)
                conn.ehlo()
            if config.username:
                conn.login(config.username, self.password)
        except ssl.SSLError as exc:
            raise RelayError(f"{config.host}:{port}: TLS failed ({exc.reason or exc})") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise RelayError(
                f"{config.host}:{port} refused the login: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        return conn

    def deliver(
        self, sender: str, recipient: str, data: bytes, guard: Guard | None = None
    ) -> Outcome:
        """One message; a lost connection is reopened by the next call. With a
        `guard`, the final dot is sent through it: when it refuses (the reader
        unsubscribed meanwhile), the connection is dropped before the dot, which
        makes the relay discard the message."""
        try:
            if self._conn is None:
                self._conn = self._open()
            conn = self._conn
            # The addresses were checked where they entered (ASCII, one line): no
            # parsing of them again for every message, as smtplib's mail() does.
            code, message = conn.docmd(f"MAIL FROM:<{sender}>")
            if code != 250:
                conn.rset()
                return _by_code(code, message)
            code, message = conn.docmd(f"RCPT TO:<{recipient}>")
            if code not in (250, 251):
                conn.rset()
                return _by_code(code, message)
            code, message = conn.docmd("DATA")
            if code != 354:
                conn.rset()
                return _by_code(code, message)
            if guard is None:
                conn.send(_dot_stuffed(data) + b".\r\n")
            else:
                conn.send(_dot_stuffed(data))
                if not guard(recipient, lambda: conn.send(b".\r\n")):
                    self._drop()
                    return Outcome("skipped", "unsubscribed while the message was on its way")
        except RelayError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            return Outcome("deferred", f"before the message was taken: {_what(exc)}")
        try:
            code, message = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            return Outcome("unknown", f"after the message was handed over: {_what(exc)}")
        return _by_code(code, message)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # no QUIT: that would need the dot first

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def _dot_stuffed(data: bytes) -> bytes:
    """A line that starts with "." gets another (RFC 5321 4.5.2); the message ends
    with CRLF. Most messages have no such line: the search alone is cheap."""
    if data.startswith(b".") or b"\n." in data:
        data = smtplib._quote_periods(data)  # type: ignore[attr-defined]
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _what(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "the relay did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "the relay refused the connection"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Certificates verified, against the system's authorities or `ca_file`'s."""
    return ssl.create_default_context(cafile=ca_file or None)
