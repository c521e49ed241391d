"""Honest unsubscribing in what we write and send: a reader's own signed link where
the email goes to subscribers, one-click claimed only where the link names the
reader, and an email service's merge tag kept verbatim for pasting."""

from __future__ import annotations

import email
import email.policy
import html
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from pipeline.core import tokens
from pipeline.shell.cli import cli
from tests.conftest import SITE_TOML, Site
from tests.smtp_servers import Inbox, smtp_server
from tests.test_send import SECRET, SUBSCRIBERS, built_site, relay, send, subscriber_site

LIST_ID = "newsletter.lists.blog.example"


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html_part = (part.get_content() for part in message.iter_parts())
    return text, html_part


def links_of(message: EmailMessage) -> list[str]:
    return [link.strip().strip("<>") for link in message["List-Unsubscribe"].split(",")]


def test_each_subscriber_gets_their_own_signed_link_in_footer_and_headers(
    tmp_path: Path,
) -> None:
    inbox = Inbox()
    people = "email\n" + "".join(f"reader{i}@example.org\n" for i in range(5))
    with smtp_server(inbox) as port:
        site = subscriber_site(tmp_path / "site", port, people)
        send(site)
    written = (next(iter(site.emails())) / "email.html").read_text(encoding="utf-8")
    seen = set()
    for _sender, [recipient], data in inbox.messages:
        message = parsed(data)
        url, mailto = links_of(message)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url.startswith("https://blog.example/unsubscribe/?token=")
        token = parse_qs(urlsplit(url).query)["token"][0]
        assert tokens.read_unsubscribe([SECRET.encode()], token, LIST_ID) == recipient
        assert mailto.startswith("mailto:unsubscribe@blog.example?subject=unsubscribe%20")
        assert token in mailto
        text, body = parts(message)
        assert f"Unsubscribe: {url}" in text
        assert f'href="{html.escape(url)}"' in body
        # Everything else is the written email, byte for byte once decoded.
        static = "https://blog.example/unsubscribe/"
        restored = body.replace(html.escape(url), static).replace("\r\n", "\n")
        assert restored == written.replace("\r\n", "\n")
        seen.add(url)
    assert len(seen) == 5


def test_the_list_gets_no_one_click_claim_unless_its_server_rewrites_the_link(
    make_site: object, tmp_path: Path
) -> None:
    for declared, expected in (("", None), ("list_handles_one_click = true\n", "One-Click")):
        site = Site(tmp_path / f"site{bool(declared)}", SITE_TOML + declared)
        site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="A")
        site.build("--since", "2026-05-01")
        [folder] = site.emails()
        message = parsed((folder / "email.eml").read_bytes())
        claim = message["List-Unsubscribe-Post"]
        assert (claim and claim.split("=")[1]) == expected
        notes = CliRunner().invoke(cli, ["check", "--site", str(site.root)]).output
        assert ("cannot tell who is leaving" in notes) == (not declared), notes
        assert ("list_handles_one_click says" in notes) == bool(declared), notes


@pytest.mark.parametrize(
    ("tag", "service"),
    [
        ("*|UNSUB|*", "Mailchimp"),
        ("{{ unsubscribe_url }}", "Kit"),
        ("{{ UnsubscribeURL }}", "listmonk"),
        ("%%{unsubscribe_url}%%", "Ghost"),
    ],
)
def test_a_merge_tag_is_kept_verbatim_for_pasting_and_send_refuses_it(
    tmp_path: Path, tag: str, service: str
) -> None:
    toml = SITE_TOML.replace('"https://blog.example/unsubscribe/"', f"'{tag}'")
    site = Site(tmp_path / "site", toml + relay(2525))
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="A")
    site.build("--since", "2026-05-01")
    [folder] = site.emails()
    page = (folder / "email.html").read_text(encoding="utf-8")
    assert f'href="{tag}"' in page  # not escaped, not percent-encoded
    assert f"Unsubscribe: {tag}\n" in (folder / "email.txt").read_text(encoding="utf-8")
    message = parsed((folder / "email.eml").read_bytes())
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert tag in parts(message)[1]
    refused = send(site, code=2)
    assert f"{service}'s merge tag" in refused.output and "pasting" in refused.output
    notes = CliRunner().invoke(cli, ["check", "--site", str(site.root)]).output
    assert f"{service}'s merge tag" in notes


def test_an_unknown_tag_or_relative_link_is_refused_with_the_choices(tmp_path: Path) -> None:
    toml = SITE_TOML.replace('"https://blog.example/unsubscribe/"', '"{{ unsub }}"')
    site = Site(tmp_path / "site", toml)
    result = site.build(code=2)
    assert "unsubscribe_url" in result.output and "*|UNSUB|*" in result.output


def test_subscribers_without_the_secret_is_a_configuration_error_before_sending(
    tmp_path: Path,
) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port), 'audience = "subscribers"\n')
        missing = send(site, code=2)
        assert "[send] secret_env: missing" in missing.output
        (site.root / "newsletter.toml").write_text(
            SITE_TOML + relay(port) + "\n[send]\n" + SUBSCRIBERS, encoding="utf-8"
        )
        unset = CliRunner().invoke(
            cli, ["send", "--site", str(site.root)], env={"NEWSLETTER_SECRET": ""}
        )
        assert unset.exit_code == 2 and "NEWSLETTER_SECRET is not set" in unset.output
    assert inbox.messages == []


def test_tokens_are_bound_to_address_list_and_secret() -> None:
    secret = b"k" * 32
    token = tokens.unsubscribe_token(secret, "Ada@Example.org", LIST_ID)
    assert tokens.read_unsubscribe([secret], token, LIST_ID) == "Ada@example.org"
    encoded, mac = token.split(".")
    other = tokens.unsubscribe_token(secret, "bob@example.org", LIST_ID).split(".")[0]
    forged = [
        f"{other}.{mac}",  # another address with Ada's MAC
        token[:-1],  # truncated
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # altered
        token + "=",  # padded
        f"{encoded}.{mac}x",
        f"{encoded}.",
        "",
        ".",
        "a.b.c",
        "x" * 5000,
    ]
    for bad in forged:
        assert tokens.read_unsubscribe([secret], bad, LIST_ID) is None, bad
    assert tokens.read_unsubscribe([b"other"], token, LIST_ID) is None
    assert tokens.read_unsubscribe([secret], token, "newsletter.other.example") is None
    # Rotation: with the old secret still given, old links keep working.
    assert tokens.read_unsubscribe([b"new" * 11, secret], token, LIST_ID) == "Ada@example.org"
    now = datetime(2026, 6, 1, tzinfo=UTC)
    confirm = tokens.confirm_token(secret, "ada@example.org", LIST_ID, now + timedelta(hours=1))
    assert tokens.read_unsubscribe([secret], confirm, LIST_ID) is None  # another purpose
    assert tokens.read_confirm([secret], confirm, LIST_ID, now) == ("ada@example.org", False)
    assert tokens.read_confirm([secret], confirm, LIST_ID, now + timedelta(hours=2)) == (
        "ada@example.org",
        True,
    )
    address, stamp, mac = confirm.split(".")
    later = str(int(stamp) + 86400)
    assert tokens.read_confirm([secret], f"{address}.{later}.{mac}", LIST_ID, now) == (
        None,
        False,
    )
    assert tokens.read_confirm([secret], token, LIST_ID, now) == (None, False)
