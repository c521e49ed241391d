"""Pure: the web archive's index of issues and its feed, from the emails written.

Each email's own page is rendered with it (`emails`); this module lists them all,
newest first, in `out/archive/index.html` and `out/archive/feed.xml`. Both are
made from the emails' manifests only, so they cost nothing but a listing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pipeline.core.dates import display_date
from pipeline.core.emails import ARCHIVE_FOLDER, Templates
from pipeline.core.feeds import issues_feed
from pipeline.core.model import OutputFile
from pipeline.core.settings import Config


@dataclass(frozen=True)
class Issue:
    email_id: str
    subject: str
    preheader: str
    date: datetime


def archive_index(
    issues: Iterable[Issue], config: Config, templates: Templates
) -> list[OutputFile]:
    """index.html and feed.xml of out/archive/, newest issue first (one per id)."""
    unique = {issue.email_id: issue for issue in issues}
    ordered = sorted(unique.values(), key=lambda i: (i.date, i.email_id), reverse=True)
    base = config.archive.base_url
    feed_url = f"{base}feed.xml"
    page = templates.render(
        "archive-index.html",
        {
            "site": {
                "title": config.site.title,
                "url": config.site.url,
                "language": config.site.language,
            },
            "feed_url": feed_url,
            "issues": [
                {
                    "url": f"{base}{issue.email_id}/",
                    "subject": issue.subject,
                    "preheader": issue.preheader,
                    "date": display_date(issue.date, config.site.timezone),
                }
                for issue in ordered
            ],
        },
    )
    entries = [
        (f"{base}{issue.email_id}/", issue.subject, issue.preheader, issue.date)
        for issue in ordered[: config.feed.limit]
    ]
    return [
        OutputFile(f"{ARCHIVE_FOLDER}/index.html", page.encode("utf-8")),
        OutputFile(f"{ARCHIVE_FOLDER}/feed.xml", issues_feed(entries, feed_url, config)),
    ]
