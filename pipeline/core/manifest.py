"""Pure: an email folder's manifest.json, written last, so a folder with one is complete.

One home for its shape: the build writes it, and the build (emails an interrupted
build left), `status`, `preview` and `check` read it back through `parse_manifest`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EMAIL_FOLDER = "email"  # out/email/<email-id>/: one folder an email, its manifest last


@dataclass(frozen=True)
class ManifestPost:
    identity: str
    section: str  # "new" or "updated"
    title: str
    url: str
    modified_at: str  # RFC 3339: the change this email carries


@dataclass(frozen=True)
class Manifest:
    email_id: str
    subject: str
    preheader: str
    date: str
    mode: str
    posts: tuple[ManifestPost, ...]
    html_bytes: int
    files: Mapping[str, str]  # file name -> sha256 of its bytes

    def carried(self) -> tuple[tuple[str, datetime], ...]:
        """(identity, modified_at) of each post the email carries."""
        return tuple((p.identity, datetime.fromisoformat(p.modified_at)) for p in self.posts)

    def to_bytes(self) -> bytes:
        document = {
            "email_id": self.email_id,
            "subject": self.subject,
            "preheader": self.preheader,
            "date": self.date,
            "mode": self.mode,
            "posts": [
                {
                    "identity": p.identity,
                    "section": p.section,
                    "title": p.title,
                    "url": p.url,
                    "modified_at": p.modified_at,
                }
                for p in self.posts
            ],
            "html_bytes": self.html_bytes,
            "files": dict(self.files),
        }
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is not text")
    return value


def parse_manifest(data: bytes) -> Manifest:
    """The manifest, or ValueError saying what is wrong with it."""
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    posts = document.get("posts")
    files = document.get("files", {})
    if not isinstance(posts, list) or not isinstance(files, dict):
        raise ValueError("'posts' or 'files' has the wrong shape")
    parsed = []
    for item in posts:
        if not isinstance(item, dict):
            raise ValueError("a post entry is not an object")
        fields = [_text(item, k) for k in ("identity", "section", "title", "url", "modified_at")]
        datetime.fromisoformat(fields[-1])  # raises ValueError for a bad date
        parsed.append(ManifestPost(*fields))
    html_bytes = document.get("html_bytes", 0)
    return Manifest(
        email_id=_text(document, "email_id"),
        subject=_text(document, "subject"),
        preheader=_text(document, "preheader"),
        date=_text(document, "date"),
        mode=_text(document, "mode"),
        posts=tuple(parsed),
        html_bytes=html_bytes if isinstance(html_bytes, int) else 0,
        files={str(k): str(v) for k, v in files.items()},
    )
