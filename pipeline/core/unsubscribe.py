"""Pure: which unsubscribe links an email carries, for the list or for one reader.

A list address's link cannot tell who is leaving, so it claims no one-click
unsubscribing unless the list server rewrites it; a subscriber's link carries a
token signed for that address (`tokens`), so a mail provider's POST to it is
enough; a service's merge tag leaves the headers to that service.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.settings import Config, merge_tag_service
from pipeline.core.tokens import mailto_with_token, unsubscribe_token, with_token


def _one_line(text: str) -> str:
    return " ".join(text.split())


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


def list_unsubscribe(config: Config, personal: tuple[str, str] | None = None) -> dict[str, str]:
    """The List-Unsubscribe headers: the list's links, or `personal` (one reader's
    URL and mailto, which `send` fills in). One-click (RFC 8058) is claimed only
    where a POST to the URL tells who is leaving: a reader's own token, or a list
    server that rewrites the header (`list_handles_one_click`). A merge tag leaves
    the headers to the service that fills it in."""
    email = config.email
    if merge_tag_service(email.unsubscribe_url):
        return {}
    url, mailto = personal or (email.unsubscribe_url, email.unsubscribe_mailto)
    targets = [f"<{_one_line(url)}>"] + ([f"<{_one_line(mailto)}>"] if mailto else [])
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if personal or email.list_handles_one_click:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def unsubscribe_case(config: Config) -> str:
    """For `check`: which unsubscribe links the emails carry, and why."""
    email, service = config.email, merge_tag_service(config.email.unsubscribe_url)
    if service:
        return (
            f"unsubscribe: {service}'s merge tag {email.unsubscribe_url}, kept verbatim in "
            f"email.html and email.txt for pasting into {service}, which fills it in per "
            "reader; the .eml leaves List-Unsubscribe to the service, and `send` refuses it"
        )
    if config.send.audience == "subscribers":
        return (
            "unsubscribe: `send` gives each subscriber their own link (a signed token) in the "
            "footer and List-Unsubscribe, with one-click (List-Unsubscribe-Post); "
            "`newsletter serve` answers them"
        )
    if email.list_handles_one_click:
        return (
            f"unsubscribe: one link for the list {email.to_address}, claiming one-click "
            "because [email] list_handles_one_click says the list server rewrites it per reader"
        )
    return (
        f"unsubscribe: one link for the list {email.to_address}; it cannot tell who is "
        "leaving, so no one-click claim (List-Unsubscribe-Post). Set [send] audience = "
        '"subscribers" for per-reader links, or [email] list_handles_one_click = true if '
        "the list server rewrites List-Unsubscribe"
    )
