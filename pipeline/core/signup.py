"""Pure: the confirmation email of a sign-up with double opt-in.

Plain text, one link (signed, expiring: `tokens.confirm_token`), marked as
automatic (RFC 3834) so that vacation responders stay quiet. The address came
through `checked_address`, so no header can be made from it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from urllib.parse import urlsplit

from pipeline.core.emails import Templates, one_line
from pipeline.core.settings import Config


def confirm_url(config: Config, token: str) -> str:
    """The confirmation link: the sign-up path plus `/confirm`, on the host of the
    unsubscribe URL (where `newsletter serve` answers)."""
    parts = urlsplit(config.email.unsubscribe_url)
    return f"{parts.scheme}://{parts.netloc}{config.subscribe.path}/confirm?token={token}"


def confirmation_email(
    config: Config, templates: Templates, address: str, link: str, now: datetime
) -> bytes:
    site = config.site
    text = templates.render(
        "confirm.txt",
        {
            "site": {"title": site.title, "url": site.url},
            "link": link,
            "hours": config.subscribe.confirm_hours,
        },
    )
    host = urlsplit(site.url).hostname or "localhost"
    digest = hashlib.sha256(f"{address}\0{link}".encode()).hexdigest()[:20]
    message = EmailMessage(policy=SMTP)
    message["From"] = one_line(config.email.from_address)
    message["To"] = address
    message["Subject"] = one_line(f"Confirm your subscription to {site.title}")
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<confirm.{digest}@{host}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    return message.as_bytes(policy=SMTP)
