"""Pure: the signed tokens in unsubscribe and confirmation links.

A token is `<address>.<mac>` (both base64url, no padding); a confirmation token
also carries its expiry, `<address>.<expires>.<mac>`. The MAC is HMAC-SHA256 over a
purpose word, the address in lower case and the list id, keyed by the secret in
`[send] secret_env`: a token for one purpose or list is worthless for another, and
nobody without the secret can make one. Unsubscribe tokens never expire: a reader
may click the link of a years-old issue. Verifying tries every secret given, the
current first, so a rotated secret keeps old links working while the previous one
is still set (`[send] previous_secret_env`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pipeline.core.audience import AddressError, checked_address, key_of
from pipeline.core.settings import Config

UNSUBSCRIBE = b"unsubscribe"
CONFIRM = b"confirm"
LONGEST_TOKEN = 600  # characters; an address is at most 254


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: a character changed or added is an error, not skipped."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _signed(purpose: bytes, address: str, list_id: str, extra: str = "") -> bytes:
    """What the MAC covers: the purpose, the address (any case) and the list id."""
    return b"\0".join((purpose, key_of(address).encode(), list_id.encode(), extra.encode()))


def _mac(secret: bytes, signed: bytes) -> bytes:
    return hmac.new(secret, signed, hashlib.sha256).digest()


def unsubscribe_token(secret: bytes, address: str, list_id: str) -> str:
    mac = _mac(secret, _signed(UNSUBSCRIBE, address, list_id))
    return f"{_b64(address.encode())}.{_b64(mac)}"


def confirm_token(secret: bytes, address: str, list_id: str, expires: datetime) -> str:
    stamp = str(int(expires.timestamp()))
    mac = _mac(secret, _signed(CONFIRM, address, list_id, stamp))
    return f"{_b64(address.encode())}.{stamp}.{_b64(mac)}"


def _address_of(encoded: str) -> str | None:
    try:
        return checked_address(_unb64(encoded).decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError, AddressError):
        return None


def _matches(secrets: Sequence[bytes], mac: str, signed: bytes) -> bool:
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        return False
    # Every secret is tried, so the time taken does not tell which one matched.
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given, _mac(secret, signed))
    return found


def read_unsubscribe(secrets: Sequence[bytes], token: str, list_id: str) -> str | None:
    """The address the token was made for, or None (forged, altered, truncated)."""
    if len(token) > LONGEST_TOKEN or token.count(".") != 1:
        return None
    encoded, mac = token.split(".")
    address = _address_of(encoded)
    if address is None or not _matches(secrets, mac, _signed(UNSUBSCRIBE, address, list_id)):
        return None
    return address


def read_confirm(
    secrets: Sequence[bytes], token: str, list_id: str, now: datetime
) -> tuple[str | None, bool]:
    """(the address, whether the link has expired); (None, False) when not ours."""
    if len(token) > LONGEST_TOKEN or token.count(".") != 2:
        return None, False
    encoded, stamp, mac = token.split(".")
    address = _address_of(encoded)
    if address is None or not stamp.isdigit() or len(stamp) > 12:
        return None, False
    if not _matches(secrets, mac, _signed(CONFIRM, address, list_id, stamp)):
        return None, False
    return address, int(stamp) < now.timestamp()


def with_token(url: str, token: str) -> str:
    """The URL with `token=` added to its query (its other parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def mailto_with_token(mailto: str, token: str) -> str:
    """The `mailto:` address with the token in its subject, so the mail that comes
    back says who is leaving (its other fields kept)."""
    address, _, query = mailto.partition("?")
    fields = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() != "subject"]
    fields.insert(0, ("subject", f"unsubscribe {token}"))
    return address + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in fields)


@dataclass(frozen=True)
class ReaderLinks:
    """The list's unsubscribe links cut where a reader's token goes, once per send:
    each reader's links are then a join (tokens are URL-safe as they stand)."""

    url: tuple[str, str]
    mailto: tuple[str, str] | None
    list_id: str

    def of(self, secret: bytes, address: str) -> tuple[str, str]:
        """(URL, mailto) of one reader's unsubscribe links; the mailto "" when none."""
        token = unsubscribe_token(secret, address, self.list_id)
        mailto = f"{self.mailto[0]}{token}{self.mailto[1]}" if self.mailto else ""
        return f"{self.url[0]}{token}{self.url[1]}", mailto


_MARK = "T0KEN-MARK"  # base64url characters: no quoting changes it


def reader_links(config: Config) -> ReaderLinks:
    email = config.email
    before, _, after = with_token(email.unsubscribe_url, _MARK).partition(_MARK)
    mailto = None
    if email.unsubscribe_mailto:
        head, _, tail = mailto_with_token(email.unsubscribe_mailto, _MARK).partition(_MARK)
        mailto = (head, tail)
    return ReaderLinks((before, after), mailto, email.list_id)
