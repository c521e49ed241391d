"""Real SMTP servers on 127.0.0.1 for the delivery tests (aiosmtpd), with handlers
that accept, refuse, drop the connection or stall on purpose."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "marina", "s3cret-relay-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """Accepts every message, unless `reply_for` says otherwise for a recipient:
    a reply line ("451 ...", "550 ..."), "drop" (close before replying to the final
    dot) or "stall:SECONDS" (wait that long before replying)."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    reply_for: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # recipient -> when each message had arrived whole (time.monotonic), before any delay
    arrived: dict[str, list[float]] = field(default_factory=dict)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        [recipient] = envelope.rcpt_tos
        self.arrived.setdefault(recipient, []).append(time.monotonic())
        action = self.reply_for.get(recipient, "")
        if self.delay:
            await asyncio.sleep(self.delay)
        if action == "drop":
            with self.lock:  # it was received: the sender cannot know
                self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            server.transport.close()
            return "421 closing"
        if action.startswith("stall:"):
            with self.lock:
                self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            await asyncio.sleep(float(action.split(":")[1]))
            return "250 OK, late"
        if action:
            return action
        with self.lock:
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 Message accepted"

    def to(self, recipient: str) -> list[bytes]:
        return [data for _sender, rcpts, data in self.messages if recipient in rcpts]


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    inbox: Inbox, tls: ssl.SSLContext | None = None, auth: bool = False
) -> Iterator[int]:
    """Serve `inbox` on a free loopback port; with `tls`, STARTTLS offered and
    required; with `auth`, AUTH required (after STARTTLS)."""
    port = free_port()
    options: dict[str, Any] = {}
    if tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    if auth:
        options.update(authenticator=_authenticator, auth_required=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
