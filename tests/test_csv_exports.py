"""Subscriber exports of the services people leave, as those services write them:
who left is imported as suppressed, never as active; the never-confirmed not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.core.csv_exports import read_export
from pipeline.shell.cli import cli
from tests.conftest import Site

MAILCHIMP_HEADER = (
    '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,'
    "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
    "LAST_CHANGED,LEID,EUID,NOTES,TAGS"
)
EXPORTS = {
    "subscribed_members_export_8a1f.csv": (
        "Mailchimp",
        "\ufeff" + MAILCHIMP_HEADER + "\n"
        '"ada@example.org","Ada","L",2,"2024-01-01 10:00:00",,,,,,,,,,,'
        '"2024-01-01 10:00:00",1,abc,"likes\nline breaks",""\n'
        '"bob@example.org","Bob","",2,,,,,,,,,,,,,2,def,,\n',
        {"active": 2},
    ),
    "unsubscribed_members_export_8a1f.csv": (
        "Mailchimp",
        MAILCHIMP_HEADER + ",UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON\n"
        '"cy@example.org","Cy","",2,,,,,,,,,,,,,3,ghi,,,'
        '"2025-02-01 08:00:00","June",x,"No longer"\n',
        {"unsubscribed": 1},
    ),
    "cleaned_members_export_8a1f.csv": (
        "Mailchimp",
        MAILCHIMP_HEADER + ",CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID\n"
        '"dee@example.org","Dee","",1,,,,,,,,,,,,,4,jkl,,,"2025-03-01 08:00:00","May",y\n',
        {"cleaned": 1},
    ),
    "substack-email-list.csv": (
        "Substack",
        "email,active_subscription,expiry,plan,email_disabled,created_at,first_payment_at\n"
        "eve@example.org,false,,other,false,2024-05-01T00:00:00.000Z,\n"
        "fay@example.org,true,2026-01-01,yearly,false,2024-05-01T00:00:00.000Z,2024-05-02\n"
        "gus@example.org,false,,other,true,2024-05-01T00:00:00.000Z,\n",
        {"active": 2, "unsubscribed": 1},
    ),
    "buttondown-export.csv": (
        "Buttondown",
        "id,email,creation_date,notes,metadata,tags,referrer_url,secondary_id,source,"
        "subscriber_type\n"
        "1,hal@example.org,2024-01-01,,{},[],,1,api,regular\n"
        "2,ian@example.org,2024-01-01,,{},[],,2,api,unsubscribed\n"
        "3,jo@example.org,2024-01-01,,{},[],,3,import,unactivated\n"
        "4,kim@example.org,2024-01-01,,{},[],,4,api,undeliverable\n"
        "5,lu@example.org,2024-01-01,,{},[],,5,api,spammy\n"
        "6,max@example.org,2024-01-01,,{},[],,6,api,premium\n",
        {"active": 2, "unsubscribed": 1, "unconfirmed": 1, "bounced": 1, "complained": 1},
    ),
    "ghost-members.csv": (
        "Ghost",
        "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
        "created_at,deleted_at,labels,tiers\n"
        '6a1,ned@example.org,Ned,,true,false,,2024-01-01T00:00:00.000Z,,"a, b",\n'
        "6a2,oli@example.org,Oli,,false,false,,2024-01-01T00:00:00.000Z,,,\n",
        {"active": 1, "unsubscribed": 1},
    ),
    "kit-subscribers.csv": (
        "Kit",
        "first_name,email_address,state,created_at,tags\n"
        "Pat,pat@example.org,active,2024-01-01,\n"
        "Quin,quin@example.org,cancelled,2024-01-01,\n"
        "Ros,ros@example.org,bounced,2024-01-01,\n"
        "Sam,sam@example.org,complained,2024-01-01,\n"
        "Tia,tia@example.org,inactive,2024-01-01,\n"
        "Uma,uma@example.org,cold,2024-01-01,\n",
        {"active": 2, "unsubscribed": 1, "bounced": 1, "complained": 1, "unconfirmed": 1},
    ),
    "semicolons.csv": (
        "",
        "\ufeffE-mail;Name;Status\nvic@example.org;Vic;subscribed\nwyn@example.org;Wyn;bounced\n",
        {"active": 1, "bounced": 1},
    ),
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_each_service_export_is_read_by_its_own_rules(name: str) -> None:
    service, text, expected = EXPORTS[name]
    export = read_export(text, name)
    assert (export.service, export.counts(), export.problems) == (service, expected, ())


def test_gone_rows_are_suppressed_never_active_through_the_command(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    for name, (_service, text, _expected) in EXPORTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    runner = CliRunner()
    said = runner.invoke(
        cli,
        [
            "subscribers",
            "import",
            str(tmp_path / "buttondown-export.csv"),
            "--site",
            str(site.root),
        ],
    )
    assert said.exit_code == 0, said.output
    assert "read as a Buttondown export: 2 active, 1 bounced, 1 complained" in said.output
    assert "1 never confirmed (not imported)" in said.output
    for name in sorted(EXPORTS):
        result = runner.invoke(
            cli, ["subscribers", "import", str(tmp_path / name), "--site", str(site.root)]
        )
        assert result.exit_code == 0, result.output
    listing = runner.invoke(cli, ["subscribers", "list", "--json", "--site", str(site.root)])
    status = {s["address"]: s["status"] for s in json.loads(listing.output)}
    active = {a for a, s in status.items() if s == "active"}
    assert active == {
        "ada@example.org",
        "bob@example.org",
        "eve@example.org",
        "fay@example.org",
        "hal@example.org",
        "max@example.org",
        "ned@example.org",
        "pat@example.org",
        "uma@example.org",
        "vic@example.org",
    }
    never = {"jo@example.org", "tia@example.org"}
    assert not never & set(status)
    assert set(status) - active - never == {a for a, s in status.items() if s == "suppressed"}
    # An export that later says "subscribed" does not bring a suppressed reader back.
    back = tmp_path / "back.csv"
    back.write_text("email,status\ncy@example.org,subscribed\n", encoding="utf-8")
    result = runner.invoke(cli, ["subscribers", "import", str(back), "--site", str(site.root)])
    assert "1 suppressed before (kept so)" in result.output


def test_unknown_statuses_and_formulas_are_never_imported_as_they_stand(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    people = tmp_path / "people.csv"
    people.write_text(
        'email,name,status\n"=HYPERLINK(""x"")@example.org",Eve,active\n'
        'zed@example.org,"=1+2",subscribed\nyan@example.org,Yan,on-hold\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["subscribers", "import", str(people), "--site", str(site.root)]
    )
    assert result.exit_code == 1
    assert "people.csv:4: skipped: yan@example.org: status 'on-hold' is not one we know" in (
        result.output
    )
    export = tmp_path / "export.csv"
    CliRunner().invoke(cli, ["subscribers", "export", str(export), "--site", str(site.root)])
    text = export.read_text(encoding="utf-8")
    assert "zed@example.org,'=1+2,active" in text
    assert not any(line.startswith(("=", "+", "-", "@")) for line in text.splitlines())
