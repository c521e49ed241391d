"""Pure: which unsubscribe links an email carries, for the list or for one reader.

A list address's link cannot tell who is leaving, so it claims no one-click
unsubscribing unless the list server rewrites it; a subscriber's link carries a
token signed for that address (`tokens.reader_links`), so a mail provider's POST to
it is enough; a service's merge tag leaves the headers to that service. Light on
purpose: every build imports it, and only `send` and `serve` need the tokens.
"""

from __future__ import annotations

from pipeline.core.settings import Config, merge_tag_service


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
