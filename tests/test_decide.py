"""core.decide: pure, with plain values (no files, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pipeline.core.decide import Policy, decide
from pipeline.core.model import Header, LedgerEntry, LedgerSnapshot

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def post(
    identity: str, days_ago: float = 1, modified_days_ago: float | None = None, **kw: object
) -> Header:
    published = NOW - timedelta(days=days_ago)
    modified = (
        NOW - timedelta(days=modified_days_ago) if modified_days_ago is not None else published
    )
    values: dict[str, object] = dict(
        identity=identity,
        source=f"{identity}.md",
        content_hash=f"hash-{identity}",
        title=identity.title(),
        url=f"https://blog.example/{identity}/",
        entry_id=f"id-{identity}",
        published=published,
        modified=modified,
        draft=False,
        categories=(),
        tags=(),
        author="Ada",
        excerpt="",
    )
    values.update(kw)
    return Header(**values)  # type: ignore[arg-type]


def entry(p: Header, **kw: object) -> LedgerEntry:
    values: dict[str, object] = dict(
        identity=p.identity,
        source=p.source,
        content_hash=p.content_hash,
        published=p.published,
        modified=p.modified,
    )
    values.update(kw)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def ledger(*entries: LedgerEntry, builds: int = 1) -> LedgerSnapshot:
    return LedgerSnapshot(entries={e.identity: e for e in entries}, builds=builds)


def ids(posts: tuple[Header, ...]) -> list[str]:
    return [p.identity for p in posts]


def test_first_build_records_everything_and_announces_nothing() -> None:
    changes = decide([post("a"), post("b", 2)], LedgerSnapshot(), NOW, Policy())
    assert changes.first_build
    assert changes.new == () and ids(changes.recorded_only) == ["a", "b"]
    assert ids(changes.live) == ["a", "b"]


def test_first_build_with_since_announces_posts_published_since() -> None:
    policy = Policy(since=NOW - timedelta(days=3))
    changes = decide([post("a", 1), post("old", 10)], LedgerSnapshot(), NOW, policy)
    assert ids(changes.new) == ["a"] and ids(changes.recorded_only) == ["old"]


def test_new_post_after_the_first_build() -> None:
    a = post("a", 5)
    changes = decide([a, post("b", 1)], ledger(entry(a)), NOW, Policy())
    assert ids(changes.new) == ["b"] and changes.modified == ()


def test_max_age_days_keeps_old_new_posts_out_of_email_but_in_feeds() -> None:
    changes = decide([post("imported", 400)], ledger(), NOW, Policy(max_age_days=30))
    assert changes.new == () and ids(changes.recorded_only) == ["imported"]
    assert ids(changes.live) == ["imported"]
    explicit = decide(
        [post("imported", 400)], ledger(), NOW, Policy(since=NOW - timedelta(days=500))
    )
    assert ids(explicit.new) == ["imported"]


def test_modified_when_modified_at_is_later_than_the_ledger() -> None:
    old = post("a", 10)
    edited = replace(old, modified=NOW - timedelta(hours=1), content_hash="new")
    changes = decide([edited], ledger(entry(old)), NOW, Policy())
    assert ids(changes.modified) == ["a"] and changes.new == ()


def test_quiet_edit_updates_feeds_without_announcing() -> None:
    old = post("a", 10)
    changes = decide([replace(old, content_hash="typo fixed")], ledger(entry(old)), NOW, Policy())
    assert changes.modified == () and ids(changes.edited_quietly) == ["a"]


def test_unchanged_post_is_live_and_nothing_else() -> None:
    a = post("a", 3)
    changes = decide([a], ledger(entry(a)), NOW, Policy())
    assert ids(changes.live) == ["a"]
    assert not (changes.new or changes.modified or changes.edited_quietly or changes.recorded_only)


def test_scheduled_post_waits_for_its_time() -> None:
    future = post("later", -2)
    before = decide([future], ledger(), NOW, Policy())
    assert ids(before.scheduled) == ["later"] and before.live == () and before.new == ()
    after = decide([future], ledger(), NOW + timedelta(days=3), Policy())
    assert ids(after.new) == ["later"]


def test_drafts_never_appear_and_unpublishing_removes() -> None:
    a = post("a", 3)
    draft = replace(a, draft=True)
    assert decide([draft], ledger(), NOW, Policy()).live == ()
    changes = decide([draft], ledger(entry(a)), NOW, Policy())
    assert changes.removed == ("a",) and changes.live == ()


def test_deleted_post_is_removed_once() -> None:
    a = post("a", 3)
    assert decide([], ledger(entry(a)), NOW, Policy()).removed == ("a",)
    assert decide([], ledger(entry(a, removed=True)), NOW, Policy()).removed == ()


def test_restored_post_goes_back_to_feeds_unannounced() -> None:
    a = post("a", 3)
    changes = decide([a], ledger(entry(a, removed=True)), NOW, Policy())
    assert ids(changes.live) == ["a"] and ids(changes.recorded_only) == ["a"]
    assert changes.new == ()


def test_settle_window_holds_recent_changes() -> None:
    policy = Policy(settle_minutes=30)
    fresh = post("fresh", 10 / (24 * 60))  # published ten minutes ago
    changes = decide([fresh], ledger(), NOW, policy)
    assert ids(changes.held) == ["fresh"] and changes.new == () and changes.live == ()
    settled = decide([fresh], ledger(), NOW + timedelta(minutes=25), policy)
    assert ids(settled.new) == ["fresh"]
    old = post("a", 10)
    editing = replace(old, modified=NOW - timedelta(minutes=5), content_hash="x")
    held = decide([editing], ledger(entry(old)), NOW, policy)
    assert ids(held.held) == ["a"] and held.modified == () and held.removed == ()


def test_posts_already_in_a_written_email_are_not_announced_again() -> None:
    a = post("a", 1)
    changes = decide([a], ledger(), NOW, Policy(), already_emailed={"a": a.modified})
    assert changes.new == () and ids(changes.recorded_only) == ["a"]


def test_feed_order_is_newest_first_with_identity_breaking_ties() -> None:
    same_time = [post("b", 1), post("a", 1), post("c", 0.5)]
    changes = decide(same_time, ledger(), NOW, Policy())
    assert ids(changes.live) == ["c", "a", "b"]
