"""Pure: the small values the nothing-changed exit needs, kept apart from `model`
so that a cron run with nothing to do compiles and imports as little as it can."""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """A file under a folder, as one walk saw it (a tuple: 100,000s are made)."""

    path: str
    relative: str  # with forward slashes
    size: int  # -1 (and `stat` "") when the walk did not stat it: its reader will
    mtime_ns: int
    symlink: bool
    stat: str  # "relative\0size\0mtime_ns": what the fingerprint and the post index compare


# [paths] defaults, declared in settings.PathsConfig from here.
PATH_DEFAULTS = {
    "content": "content",
    "out": "out",
    "state": ".newsletter/ledger.sqlite",
    "templates": "templates/email",
}


class BuildMarks(NamedTuple):
    """What a clean build notes for the next one ("" when unknown)."""

    fingerprint: str = ""  # of all a build reads and writes: the nothing-changed exit
    next_due: str = ""  # RFC 3339: when time alone changes the outcome
    feeds_key: str = ""  # the cache key the written feeds were made with
    build_token: str = ""  # which ledger the post index last agreed with
    websub_pending: str = ""  # feed URLs the WebSub hub was not told of yet, one a line
    last_slot: str = ""  # RFC 3339: the schedule's slot the last email went out for
