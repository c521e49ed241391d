"""Store: rendered posts by content hash in `cache.sqlite`, and the cache's key.

A feed of 20 entries renders only the new one: the others come from here. This
module owns the `rendered` table; the post index (`postindex`) shares the file.
Both are keyed by `cache_key`, a digest of the configuration and the code version,
so changing either invalidates them. Losing or damaging the cache only costs time:
every problem with it is a warning, never a failed build.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from functools import cache
from pathlib import Path

from pipeline import __version__
from pipeline.core.codec import post_from_json, post_to_json
from pipeline.core.model import Post
from pipeline.core.settings import Config, SendConfig, SmtpConfig, SubscribeConfig
from pipeline.store.sqlite import chunks, marks

logger = logging.getLogger(__name__)

CACHE_FORMAT = 9  # bump when Header, Post or rendering changes shape
SCHEMA = """
CREATE TABLE IF NOT EXISTS rendered (
    content_hash TEXT NOT NULL, key TEXT NOT NULL, post TEXT NOT NULL,
    PRIMARY KEY (content_hash, key)
);
"""


@cache
def _renderer_versions() -> str:
    """The libraries whose upgrade can change a post's HTML (their own version
    attributes: importlib.metadata costs 50 ms to import and search)."""
    import markdown_it_pyrs
    import nh3
    import yaml

    versions = (
        ("markdown-it-pyrs", markdown_it_pyrs.__version__),  # type: ignore[attr-defined]
        ("markdown-it-py", _declared_version("markdown_it")),  # captions
        ("nh3", nh3.__version__),  # type: ignore[attr-defined]
        ("PyYAML", yaml.__version__),
    )
    return ",".join(f"{name} {version}" for name, version in versions)


def _declared_version(package: str) -> str:
    """The `__version__` a package's __init__.py declares, read without importing
    it (markdown-it-py's import costs 15 ms, and only a post with captions needs it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return "absent"
    text = Path(spec.origin).read_text(encoding="utf-8")
    declared = re.search(r"^__version__ = [\"']([^\"']+)[\"']", text, re.MULTILINE)
    return declared[1] if declared else "unknown"


def cache_key(config: Config) -> str:
    """Changes whenever the configuration, our code or the renderer changes. The
    configuration holds `[paths]` as written, so the same site reached as "." or by
    its full path has the same key."""
    built = replace(  # delivery and sign-up change no output
        config, smtp=SmtpConfig(), send=SendConfig(), subscribe=SubscribeConfig()
    )
    text = f"{CACHE_FORMAT}|{__version__}|{_renderer_versions()}|{built!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=10)) as db:
        db.execute("PRAGMA synchronous = OFF")  # a cache: see postindex._prepare
        db.executescript(SCHEMA)
        yield db


def load_rendered(path: Path, key: str, hashes: Iterable[str]) -> dict[str, Post]:
    """Rendered posts for these content hashes, where cached under `key`."""
    wanted = list(hashes)
    if not path.exists() or not wanted:
        return {}
    found: dict[str, Post] = {}
    try:
        with _connect(path) as db:
            for chunk in chunks(wanted):
                query = (
                    "SELECT content_hash, post FROM rendered "  # noqa: S608 (only "?" marks)
                    f"WHERE key = ? AND content_hash IN ({marks(len(chunk))})"
                )
                for content_hash, post in db.execute(query, (key, *chunk)):
                    found[content_hash] = post_from_json(post)
    except (sqlite3.Error, ValueError, TypeError, KeyError) as exc:
        logger.warning("%s: cache unreadable (%s); rendering again", path, exc)
        return {}
    return found


MAX_RENDERED = 5000  # rows kept: the newest entries of many feeds, and recent edits


def save(path: Path, key: str, rendered: Iterable[Post]) -> None:
    """Store rendered posts; forget the oldest beyond MAX_RENDERED (a forgotten one
    only costs rendering it again)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _connect(path) as db, db:
            db.execute("DELETE FROM rendered WHERE key != ?", (key,))
            db.executemany(
                "INSERT OR REPLACE INTO rendered VALUES (?, ?, ?)",
                ((p.content_hash, key, post_to_json(p)) for p in rendered),
            )
            db.execute(
                "DELETE FROM rendered WHERE rowid <= "
                "(SELECT rowid FROM rendered ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
                (MAX_RENDERED,),
            )
    except (sqlite3.Error, OSError) as exc:
        logger.warning("%s: cannot update the cache (%s); the next build renders more", path, exc)
