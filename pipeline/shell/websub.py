"""Shell: telling the WebSub hub which feeds changed, so push subscribers need not
wait for their next poll.

One `hub.mode=publish` POST per changed feed URL, the form most hubs take (WebSub
leaves the publishing request to the hub; WebSub.rocks, Google's and Superfeedr's
hubs accept this one). A hub that does not answer 2xx is a warning, and the URL
is kept for the next build to try again.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from pipeline import __version__

TIMEOUT = 10.0  # seconds a hub may take; the build holds its lock meanwhile


def publish(hub: str, urls: Sequence[str], timeout: float = TIMEOUT) -> list[tuple[str, str]]:
    """Tell `hub` each URL changed; returns (url, what went wrong) for those it was
    not told of."""
    failed = []
    for url in urls:
        request = Request(  # noqa: S310 (the hub is an http(s) URL: settings check it)
            hub,
            data=urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": f"newsletter-pipeline/{__version__}",
            },
            method="POST",
        )
        try:
            with urlopen(request, timeout=timeout) as answer:  # noqa: S310
                status = answer.status
        except HTTPError as exc:
            failed.append((url, f"it answered {exc.code} {exc.reason}"))
            continue
        except (URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            failed.append((url, f"it could not be reached: {reason}"))
            continue
        if not 200 <= status < 300:
            failed.append((url, f"it answered {status}"))
    return failed
