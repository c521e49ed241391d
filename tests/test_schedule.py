"""The email's cadence: slots in the site's time zone, each happening once across
daylight-saving changes; between slots only the feeds move; the first build after
a slot emails everything that waited, once, and a missed slot is caught up once."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from pipeline.core.schedule import latest_slot, next_slot, parse_schedule
from pipeline.shell.cli import cli
from tests.conftest import SITE_TOML, Site

LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def slots(schedule: str, zone: ZoneInfo, start: str, count: int) -> list[datetime]:
    found, moment = [], utc(start)
    for _ in range(count):
        moment = next_slot(parse_schedule(schedule), moment, zone)
        assert moment is not None
        found.append(moment)
    return found


@pytest.mark.parametrize(
    ("schedule", "zone", "start", "expected"),
    [
        # London: 01:30 is skipped on 29 March (clocks go 01:00 -> 02:00): once, an
        # hour later on the clock; on 25 October it comes twice: the first one.
        (
            "daily 01:30",
            LONDON,
            "2026-03-28T02:00",
            ["2026-03-29T01:30", "2026-03-30T00:30", "2026-03-31T00:30"],
        ),
        (
            "daily 01:30",
            LONDON,
            "2026-10-24T02:00",
            ["2026-10-25T00:30", "2026-10-26T01:30", "2026-10-27T01:30"],
        ),
        # New York: 02:30 is skipped on 8 March, 01:30 comes twice on 1 November.
        (
            "daily 02:30",
            NEW_YORK,
            "2026-03-07T08:00",
            ["2026-03-08T07:30", "2026-03-09T06:30", "2026-03-10T06:30"],
        ),
        (
            "daily 01:30",
            NEW_YORK,
            "2026-10-31T06:00",
            ["2026-11-01T05:30", "2026-11-02T06:30", "2026-11-03T06:30"],
        ),
        # A weekly slot keeps its local time across the change.
        (
            "weekly sunday 08:00",
            LONDON,
            "2026-03-16T00:00",
            ["2026-03-22T08:00", "2026-03-29T07:00", "2026-04-05T07:00"],
        ),
        # A monthly day the month lacks is its last day.
        (
            "monthly 31 09:00",
            ZoneInfo("UTC"),
            "2026-01-15T00:00",
            ["2026-01-31T09:00", "2026-02-28T09:00", "2026-03-31T09:00"],
        ),
    ],
)
def test_each_slot_happens_exactly_once_across_daylight_saving_changes(
    schedule: str, zone: ZoneInfo, start: str, expected: list[str]
) -> None:
    assert slots(schedule, zone, start, 3) == [utc(e) for e in expected]
    parsed = parse_schedule(schedule)
    for moment in map(utc, expected):
        assert latest_slot(parsed, moment, zone) == moment
        assert latest_slot(parsed, moment - timedelta(seconds=1), zone) != moment


def test_a_year_of_daily_slots_has_one_slot_a_day_in_both_zones() -> None:
    for zone in (LONDON, NEW_YORK):
        found = slots("daily 01:30", zone, "2026-01-01T00:00", 365)
        days = [moment.astimezone(zone).date() for moment in found]
        assert len(set(days)) == 365 == len(days)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("hourly", "is not a schedule"),
        ("weekly funday 08:00", "is not a day"),
        ("monthly 32 08:00", "is not a day of the month"),
        ("daily 25:00", "is not a time of day"),
    ],
)
def test_a_bad_schedule_says_what_to_write(tmp_path: Path, text: str, said: str) -> None:
    site = Site(tmp_path / "site", SITE_TOML.replace("[email]", f'[email]\nschedule = "{text}"'))
    result = site.build(code=2)
    assert "[email] schedule" in result.output and said in result.output


WEEKLY = SITE_TOML.replace('timezone = "UTC"', 'timezone = "Europe/London"').replace(
    "[email]", '[email]\nschedule = "weekly sunday 08:00"'
)


def emails_of(site: Site) -> list[tuple[str, ...]]:
    """The posts of each email written so far, oldest email first."""
    import json

    found = []
    for folder in site.emails():
        manifest = json.loads((folder / "manifest.json").read_text())
        found.append(
            (manifest["date"], tuple(f"{p['section']}:{p['title']}" for p in manifest["posts"]))
        )
    return [posts for _date, posts in sorted(found)]


def test_a_weekly_digest_gathers_the_week_and_catches_up_once(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", WEEKLY)
    site.post("old.md", date="2026-05-01T09:00:00+00:00", slug="old", title="Old")
    site.build(now="2026-06-01T09:00:00+00:00")  # the first build: records, mails nothing
    site.post("a.md", date="2026-06-02T09:00:00+00:00", slug="a", title="A")
    site.build(now="2026-06-02T10:00:00+00:00")
    site.post("b.md", date="2026-06-04T09:00:00+00:00", slug="b", title="B")
    site.build(now="2026-06-04T10:00:00+00:00")
    assert emails_of(site) == []  # the feeds have them; the email waits for Sunday
    assert '"title": "B"' in site.read("feed.json")
    said = (
        CliRunner()
        .invoke(cli, ["status", "--site", str(site.root), "--now", "2026-06-05T10:00:00+00:00"])
        .output
    )
    assert "Email schedule: weekly sunday 08:00; next slot 2026-06-07T07:00:00+00:00" in said
    assert "waiting for it: a.md, b.md" in said
    site.build(now="2026-06-07T06:59:00+00:00")  # 07:59 in London: not yet
    assert emails_of(site) == []
    # The cron run at the slot: nothing changed on disk, yet it does not take the
    # nothing-changed exit, because a slot is due with posts waiting.
    command = [sys.executable, "-m", "pipeline", "build", "--site", str(site.root), "-q"]
    subprocess.run([*command, "--now", "2026-06-07T07:15:00+00:00"], check=True, timeout=60)
    assert emails_of(site) == [("new:B", "new:A")]
    site.build(now="2026-06-07T09:00:00+00:00")  # nothing new since: no second email
    assert len(emails_of(site)) == 1
    # An edit after the post was mailed goes to "Updated", once; the machine is off
    # for two Sundays, and one email catches up.
    site.post(
        "a.md",
        date="2026-06-02T09:00:00+00:00",
        modified_at="2026-06-08T09:00:00+00:00",
        slug="a",
        title="A",
    )
    site.build(now="2026-06-08T10:00:00+00:00")
    site.build(now="2026-06-24T10:00:00+00:00")
    assert emails_of(site) == [("new:B", "new:A"), ("updated:A",)]
    site.build(now="2026-06-28T07:30:00+00:00")  # the next slot, nothing waiting
    assert len(emails_of(site)) == 2


def test_the_preview_shows_what_waits_for_the_slot(tmp_path: Path) -> None:
    from pipeline.shell.site import load_site
    from pipeline.shell.upcoming import upcoming_email

    site = Site(tmp_path / "site", WEEKLY)
    site.post("old.md", date="2026-05-01T09:00:00+00:00", slug="old", title="Old")
    site.build(now="2026-06-01T09:00:00+00:00")
    site.post("a.md", date="2026-06-02T09:00:00+00:00", slug="a", title="A")
    site.build(now="2026-06-02T10:00:00+00:00")
    upcoming = upcoming_email(load_site(site.root), utc("2026-06-03T10:00"))
    assert upcoming.label.startswith("The next email: 1 new, 0 updated")
    assert "2026-06-07T07:00:00+00:00" in upcoming.label
    assert [p.title for p in upcoming.posts] == ["A"]


@pytest.mark.parametrize(
    ("zone", "schedule", "first", "last", "days"),
    [
        # London's repeated hour: 01:30 comes twice on 25 October.
        ("Europe/London", "daily 01:30", "2026-10-23T12:00", "2026-10-27T12:00", 4),
        # London's skipped hour: there is no 01:30 on 29 March.
        ("Europe/London", "daily 01:30", "2026-03-27T12:00", "2026-03-31T12:00", 4),
        # New York's skipped hour: there is no 02:30 on 8 March.
        ("America/New_York", "daily 02:30", "2026-03-06T17:00", "2026-03-10T17:00", 4),
        # New York's repeated hour: 01:30 comes twice on 1 November.
        ("America/New_York", "daily 01:30", "2026-10-30T17:00", "2026-11-03T17:00", 4),
        # A monthly slot on a day February lacks.
        ("UTC", "monthly 30 08:00", "2026-01-15T12:00", "2026-04-15T12:00", 3),
    ],
)
def test_builds_every_few_hours_write_one_email_a_slot_across_the_change(
    tmp_path: Path, zone: str, schedule: str, first: str, last: str, days: int
) -> None:
    toml = SITE_TOML.replace('timezone = "UTC"', f'timezone = "{zone}"').replace(
        "[email]", f'[email]\nschedule = "{schedule}"\nmax_age_days = 400'
    )
    site = Site(tmp_path / "site", toml)
    site.post("old.md", date="2026-01-01T00:00:00+00:00", slug="old", title="Old")
    moment, end = utc(first), utc(last)
    site.build(now=moment.isoformat())
    step = timedelta(hours=3) if "monthly" not in schedule else timedelta(days=2)
    number = 0
    while moment < end:
        moment += step
        number += 1  # a new post before every build: there is always something waiting
        published = (moment - timedelta(minutes=1)).isoformat()
        site.post(f"p{number}.md", date=published, slug=f"p{number}", title=f"P{number}")
        site.build(now=moment.isoformat())
    mailed = emails_of(site)
    assert len(mailed) == days  # one a slot, not one a build, none twice
    titles = [title for posts in mailed for title in posts]
    assert len(titles) == len(set(titles))  # no post in two emails
