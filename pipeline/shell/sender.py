"""Shell: what each message goes through on its way out of `send`.

The written emails (each read and split once per run), each recipient's parts
filled in (their own unsubscribe links when the email goes to subscribers), DKIM,
the rate, and one transport per sending thread: the relay, or a Maildir folder.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from pipeline.core import delivery
from pipeline.core.errors import OutputError
from pipeline.core.manifest import EMAIL_FOLDER
from pipeline.core.settings import merge_tag_service
from pipeline.core.tokens import reader_links
from pipeline.core.unsubscribe import list_unsubscribe
from pipeline.shell.maildir import MaildirBox
from pipeline.shell.site import Site
from pipeline.shell.smtp import Guard, Outcome, Relay, tls_context

DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


class Transport(Protocol):
    def deliver(
        self, sender: str, recipient: str, data: bytes, guard: Guard | None = None
    ) -> Outcome: ...

    def close(self) -> None: ...


class WrittenEmails:
    """The written .eml files, each read and split once per run, around the list's
    unsubscribe link (where a subscriber's own goes)."""

    def __init__(self, site: Site) -> None:
        self.out_dir = site.out_dir
        url = site.config.email.unsubscribe_url
        self.link = "" if merge_tag_service(url) else url
        self._split: dict[str, delivery.Written] = {}

    def path(self, email_id: str) -> Path:
        return self.out_dir / EMAIL_FOLDER / email_id / "email.eml"

    def __call__(self, email_id: str) -> delivery.Written:
        if email_id not in self._split:
            path = self.path(email_id)
            try:
                self._split[email_id] = delivery.split_eml(email_id, path.read_bytes(), self.link)
            except (OSError, ValueError) as exc:
                raise OutputError(
                    f"{path}: the written email cannot be read ({exc})",
                    "run `newsletter build` again: it rewrites the same email",
                ) from None
        return self._split[email_id]


def secret_of(site: Site, environ: Mapping[str, str]) -> bytes:
    """The secret that signs unsubscribe links (send_problems made sure it is set
    wherever it is needed)."""
    name = site.config.send.secret_env
    return environ.get(name, "").encode() if name else b""


def make_transport(site: Site, password: str, context: ssl.SSLContext | None = None) -> Transport:
    """The relay of `[smtp]`, or the Maildir folder of `[send] transport = "maildir"`."""
    config = site.config
    if config.send.transport == "maildir":
        return MaildirBox((site.config_file or Path()).parent / config.send.maildir)
    return Relay(config.smtp, password, context or tls_context(config.smtp.ca_file))


class Sender:
    """The transport, the clock, DKIM and the rate: what each message goes through."""

    def __init__(self, site: Site, environ: Mapping[str, str], now: datetime | None) -> None:
        self.site = site
        config = site.config
        self.envelope = parseaddr(config.email.from_address)[1]  # checked by send_problems
        self._fixed_now = now
        self._local = threading.local()
        self._made: list[Transport] = []
        self._lock = threading.Lock()
        self._password = (
            environ.get(config.smtp.password_env, "") if config.smtp.password_env else ""
        )
        self._secret = secret_of(site, environ)
        self._list_headers = delivery.list_headers(list_unsubscribe(config))
        self._reader_links = reader_links(config)
        self._context = (
            tls_context(config.smtp.ca_file) if config.send.transport == "smtp" else None
        )
        self._dkim_key = b""
        if config.send.dkim_key_file:
            folder = (site.config_file or Path()).parent
            self._dkim_key = folder.joinpath(config.send.dkim_key_file).read_bytes()
        rate = config.smtp.rate
        self._interval = 1.0 / rate if rate else 0.0
        self._next_slot = time.monotonic()

    def now(self) -> datetime:
        return self._fixed_now or datetime.now(UTC)

    def transport(self) -> Transport:
        made: Transport | None = getattr(self._local, "transport", None)
        if made is None:
            made = make_transport(self.site, self._password, self._context)
            self._local.transport = made
            with self._lock:
                self._made.append(made)
        return made

    def pace(self) -> None:
        """Wait for the next slot of [smtp] rate."""
        if not self._interval:
            return
        delay = self._next_slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_slot = max(self._next_slot, time.monotonic()) + self._interval

    def message(
        self,
        written: delivery.Written,
        to: str,
        msg_id: str,
        prefix: str = "",
        personal: bool = False,
    ) -> bytes:
        """One recipient's message; `personal`: with their own unsubscribe links."""
        if personal:
            url, mailto = self._reader_links.of(self._secret, to)
            headers = delivery.list_headers(list_unsubscribe(self.site.config, (url, mailto)))
            data = delivery.fill(written, to, msg_id, self.now(), prefix, headers, url)
        else:
            data = delivery.fill(written, to, msg_id, self.now(), prefix, self._list_headers)
        if self._dkim_key:
            data = self._sign(data)
        return data

    def _sign(self, data: bytes) -> bytes:
        import dkim

        send = self.site.config.send
        signature = dkim.sign(
            data,
            send.dkim_selector.encode(),
            send.dkim_domain.encode(),
            self._dkim_key,
            include_headers=list(DKIM_HEADERS),
        )
        return bytes(signature) + data

    def deliver(self, recipient: str, data: bytes, guard: Guard | None = None) -> Outcome:
        return self.transport().deliver(self.envelope, recipient, data, guard)

    def close(self) -> None:
        for made in self._made:
            made.close()
