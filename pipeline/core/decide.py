"""Pure: post headers + ledger snapshot + now -> what this build announces, records, drops.

Decided from the front-matter timestamps: a post is new when its identity is not in
the ledger, modified when its `modified_at` is later than the ledger's; the content
hash only catches quiet edits (the feeds update, nobody is emailed). Nothing here
reads the clock or the disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.core.model import Changes, Header, LedgerSnapshot


@dataclass(frozen=True)
class Policy:
    """The knobs of a decision, from the configuration and the command line."""

    since: datetime | None = None  # announce what was published (or changed) since then
    max_age_days: int = 30  # older new posts go into the feeds, not into an email
    settle_minutes: int = 0  # leave posts changed more recently than this for the next run


def newest_first(posts: Iterable[Header]) -> tuple[Header, ...]:
    """The feed order: publication time descending, identity breaking ties."""
    ordered = sorted(posts, key=lambda p: p.identity)
    return tuple(sorted(ordered, key=lambda p: p.published, reverse=True))


def decide(
    posts: Iterable[Header],
    snapshot: LedgerSnapshot,
    now: datetime,
    policy: Policy,
    already_emailed: Mapping[str, datetime] | None = None,
) -> Changes:
    """Classify every post.

    `already_emailed` maps identities to the `modified_at` an email written by an
    interrupted build already carries, so a re-run never announces them twice.
    """
    pending = already_emailed or {}
    live: list[Header] = []
    new: list[Header] = []
    modified: list[Header] = []
    recorded_only: list[Header] = []
    quiet: list[Header] = []
    scheduled: list[Header] = []
    held: list[Header] = []
    settle = timedelta(minutes=policy.settle_minutes)
    oldest_new = now - timedelta(days=policy.max_age_days)

    def settling(post: Header) -> bool:
        return bool(policy.settle_minutes) and now - post.modified < settle

    def announced_already(post: Header) -> bool:
        return post.identity in pending and pending[post.identity] >= post.modified

    for post in posts:
        if post.draft:
            continue
        if post.is_scheduled(now):
            scheduled.append(post)
            continue
        entry = snapshot.entries.get(post.identity)
        if entry is None:
            if settling(post):
                held.append(post)  # not in the feeds either: the author is still at it
                continue
            live.append(post)
            if policy.since is not None:
                wanted = post.published >= policy.since
            else:
                wanted = not snapshot.first_build and post.published >= oldest_new
            (new if wanted and not announced_already(post) else recorded_only).append(post)
            continue
        live.append(post)
        if entry.removed:
            recorded_only.append(post)  # back after removal: in the feeds, not announced again
        elif post.modified > entry.modified:
            if settling(post):
                held.append(post)
            elif announced_already(post) or (
                policy.since is not None and post.modified < policy.since
            ):
                quiet.append(post)
            else:
                modified.append(post)
        elif post.content_hash != entry.content_hash or post.source != entry.source:
            quiet.append(post)

    present = {post.identity for post in live} | {post.identity for post in held}
    removed = sorted(
        identity
        for identity, entry in snapshot.entries.items()
        if not entry.removed and identity not in present
    )
    by_time = newest_first
    return Changes(
        live=by_time(live),
        new=by_time(new),
        modified=by_time(modified),
        recorded_only=by_time(recorded_only),
        edited_quietly=by_time(quiet),
        removed=tuple(removed),
        scheduled=tuple(sorted(scheduled, key=lambda p: (p.published, p.identity))),
        held=by_time(held),
        first_build=snapshot.first_build,
    )
