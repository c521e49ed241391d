"""Pure: a written email -> each recipient's message, and what an attempt means.

A message is the written `email.eml` with the recipient's parts filled in: To, a
Message-ID unique per email and recipient (the same on every retry), and Date,
the moment it is sent. Nothing is rendered again: the written bytes are split once
around those three headers and joined per recipient. Addresses were checked (ASCII,
one line) when they entered, and every header value is checked again here, so no
recipient can add a header.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from pipeline.core.audience import AddressError, checked_address
from pipeline.core.settings import Config, merge_tag_service

FILLED = (b"to", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post")
FIRST_RETRY = timedelta(minutes=5)
LONGEST_WAIT = timedelta(hours=6)
HTML_SLOT, TEXT_SLOT = 1, 2  # where a reader's unsubscribe link goes, in which part
Piece = bytes | int


@dataclass(frozen=True)
class Written:
    """A written .eml, split once: its header lines but the filled ones, and its
    body; with `link` given, the body also as pieces around each place that link
    stands (the footer, List-Unsubscribe is filled anyway), so a reader's own link
    costs a join, not a rendering."""

    email_id: str
    headers: tuple[bytes, ...]  # each a whole header, folded lines and CRLF included
    body: bytes  # from the blank line that ends the headers
    host: str  # of the Message-ID
    pieces: tuple[Piece, ...] = ()  # the body: bytes, and HTML_SLOT / TEXT_SLOT

    @property
    def has_link(self) -> bool:
        return HTML_SLOT in self.pieces


def split_eml(email_id: str, eml: bytes, link: str = "") -> Written:
    end = eml.index(b"\r\n\r\n") + 2
    headers: list[bytes] = []
    for line in eml[:end].split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] += line + b"\r\n"  # a folded continuation
        else:
            headers.append(line + b"\r\n")
    host, boundary = "localhost", b""
    kept = []
    for header in headers:
        name, _, value = header.partition(b":")
        name = name.strip().lower()
        if name == b"message-id":
            host = value.strip().decode("ascii").strip("<>").rpartition("@")[2] or host
        if name == b"content-type":
            found = re.search(rb'boundary="([^"]+)"', value)
            boundary = found.group(1) if found else b""
        if name not in FILLED:
            kept.append(header)
    body = eml[end:]
    pieces = _pieces(body, boundary, link) if link and boundary else ()
    return Written(email_id, tuple(kept), body, host, pieces)


def _pieces(body: bytes, boundary: bytes, link: str) -> tuple[Piece, ...]:
    """The multipart body cut where `link` stands in its text and HTML parts. Each
    part's quoted-printable text is decoded, cut, and each cut encoded again on its
    own, ending in a soft line break, so a link of any length fits in between."""
    marker = b"\r\n--" + boundary
    pieces: list[Piece] = []
    parts = body.split(marker)
    for index, part in enumerate(parts):
        lead = marker if index else b""
        start = part.find(b"\r\n\r\n") + 4
        head = part[:start].lower()
        if start < 4 or b"quoted-printable" not in head:
            pieces.append(lead + part)
            continue
        slot, pattern = (
            (HTML_SLOT, _html_link(link)) if b"text/html" in head else (TEXT_SLOT, _text_link(link))
        )
        cuts = pattern.split(binascii.a2b_qp(part[start:]))
        pieces.append(lead + part[:start])
        for at, text in enumerate(cuts):
            if at:
                pieces += [b"=\r\n", slot, b"=\r\n"]
            pieces.append(_qp(text))
    return tuple(pieces)


def _html_link(link: str) -> re.Pattern[bytes]:
    return re.compile(rb'(?<=href=")' + re.escape(html.escape(link).encode()) + rb'(?=")')


def _text_link(link: str) -> re.Pattern[bytes]:
    return re.compile(re.escape(link.encode()) + rb"(?=[\s>)\]]|$)")


def _qp(data: bytes) -> bytes:
    """Quoted-printable with CRLF line ends (binascii picks LF when `data` has no
    line end of its own)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", binascii.b2a_qp(data, istext=True))


def message_id(email_id: str, recipient: str, host: str) -> str:
    """Unique per email and recipient, and the same on every retry."""
    digest = hashlib.sha256(f"{email_id}\0{recipient.lower()}".encode()).hexdigest()[:20]
    return f"<{email_id}.{digest}@{host}>"


def _one_line(value: str) -> bytes:
    if any(c in value for c in "\r\n\0") or not value.isascii():
        raise ValueError(f"not a one-line ASCII header value: {value!r}")
    return value.encode("ascii")


def list_headers(unsubscribe: Mapping[str, str]) -> bytes:
    """List-Unsubscribe and its one-click claim as header lines, each link on its
    own folded line."""
    lines = b""
    for name, value in unsubscribe.items():
        links = [_one_line(link.strip()) for link in value.split(",")]
        lines += name.encode("ascii") + b": " + b",\r\n ".join(links) + b"\r\n"
    return lines


def fill(
    written: Written,
    to: str,
    msg_id: str,
    date: datetime,
    subject_prefix: str = "",
    unsubscribe: bytes = b"",
    link: str = "",
) -> bytes:
    """The message for one recipient. `unsubscribe` is the List-Unsubscribe header
    lines (`list_headers`); `link` the reader's own unsubscribe URL, put where the
    written email has the list's (a Written split with that link). With
    `subject_prefix` (a test send), the Subject is folded anew with it in front."""
    filled = [
        b"To: " + _one_line(to) + b"\r\n",
        b"Date: " + _one_line(format_datetime(date)) + b"\r\n",
        b"Message-ID: " + _one_line(msg_id) + b"\r\n",
    ]
    headers = list(written.headers)
    if subject_prefix:
        for index, header in enumerate(headers):
            if header.lower().startswith(b"subject:"):
                raw = header[8:].decode("ascii").replace("\r\n", "").strip()
                subject = SMTP.header_factory("Subject", raw)
                headers[index] = SMTP.fold_binary("Subject", subject_prefix + str(subject))
    # To, Date and Message-ID stand right after From, where the build wrote them;
    # the list headers after List-Id.
    at = next((i + 1 for i, h in enumerate(headers) if h.lower().startswith(b"from:")), 0)
    headers[at:at] = filled
    if unsubscribe:
        at = next((i + 1 for i, h in enumerate(headers) if h.lower().startswith(b"list-id:")), at)
        headers.insert(at, unsubscribe)
    body = written.body
    if link and written.pieces:
        in_html, in_text = _qp(html.escape(_one_line(link).decode()).encode()), _qp(link.encode())
        body = b"".join(
            in_html if p == HTML_SLOT else in_text if p == TEXT_SLOT else p  # type: ignore[misc]
            for p in written.pieces
        )
    return b"".join(headers) + body


def retry_after(attempts: int) -> timedelta:
    """How long a deferred message waits: 5 minutes, doubling, at most 6 hours."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


def gives_up(attempts: int, first_try: datetime, now: datetime, config: Config) -> bool:
    """A deferred message is failed after `max_attempts` tries or `give_up_hours`."""
    send = config.send
    return attempts >= send.max_attempts or now - first_try >= timedelta(hours=send.give_up_hours)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def send_problems(config: Config, environ: Mapping[str, str]) -> list[str]:
    """Everything that stops a send, all at once (a configuration error, exit 2)."""
    problems = []
    smtp, send = config.smtp, config.send
    if send.transport == "maildir":
        if not send.maildir:
            problems.append('[send] maildir: missing; set the folder, e.g. maildir = "outbox"')
    else:
        if not smtp.host:
            problems.append(
                '[smtp] host: missing; set the relay, e.g. host = "127.0.0.1" (a local '
                'Postfix) or host = "smtp.example-service.com"'
            )
        elif smtp.security == "none" and not is_loopback(smtp.host):
            problems.append(
                f'[smtp] security: "none" sends in plain text, allowed for 127.0.0.1 only, '
                f'not {smtp.host!r}; use "starttls" or "tls"'
            )
        if smtp.password_env and not environ.get(smtp.password_env):
            problems.append(
                f"[smtp] password_env: the environment variable {smtp.password_env} is not "
                "set; export it in the environment cron runs `send` with"
            )
        if smtp.username and not smtp.password_env:
            problems.append(
                "[smtp] password_env: a username needs a password; name the environment "
                'variable that holds it, e.g. password_env = "SMTP_PASSWORD"'
            )
    dkim = (send.dkim_domain, send.dkim_selector, send.dkim_key_file)
    if any(dkim) and not all(dkim):
        problems.append(
            "[send] dkim_domain, dkim_selector and dkim_key_file go together: set all three or none"
        )
    if not config.email.enabled:
        problems.append("[email] enabled: false; there is nothing to send")
    service = merge_tag_service(config.email.unsubscribe_url)
    if service:
        problems.append(
            f"[email] unsubscribe_url: {config.email.unsubscribe_url} is {service}'s merge tag: "
            f"these emails are for pasting into {service} (or its API), which fills in each "
            "reader's link; `send` cannot. Send them from there, or set an https URL that "
            "`newsletter serve` answers"
        )
    elif send.audience == "subscribers":
        if not send.secret_env:
            problems.append(
                '[send] secret_env: missing; audience = "subscribers" signs each reader\'s '
                'unsubscribe link with it: name the variable, e.g. secret_env = "NEWSLETTER_SECRET"'
            )
        elif not environ.get(send.secret_env):
            problems.append(
                f"[send] secret_env: the environment variable {send.secret_env} is not set; "
                "export it (a long random value, the same every run) where `send` runs"
            )
    for key, value in (("from", config.email.from_address), ("to", config.email.to_address)):
        try:
            checked_address(parseaddr(value)[1])
        except AddressError as exc:
            problems.append(f"[email] {key}: {value!r} holds no address a relay takes ({exc})")
    return problems
