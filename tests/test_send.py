"""`newsletter send` against real SMTP servers on 127.0.0.1 (aiosmtpd): each written
email delivered exactly once, every outcome recorded, nothing sent twice."""

from __future__ import annotations

import email
import email.policy
import json
import os
import sqlite3
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result

from pipeline.shell.cli import cli
from tests.conftest import SITE_TOML, Site
from tests.smtp_servers import PASSWORD, USER, Inbox, free_port, smtp_server

BUILT = "2026-06-01T12:00:00+00:00"
LATER = "2026-06-01T13:00:00+00:00"
SECRET = "test-secret-not-for-production"  # noqa: S105 (a test value)
SUBSCRIBERS = 'audience = "subscribers"\nsecret_env = "NEWSLETTER_SECRET"\n'


def relay(port: int, extra: str = "", security: str = "none") -> str:
    head = f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n'
    return head + f"timeout = 2\n{extra}"


def built_site(root: Path, toml_extra: str = "", send_extra: str = "") -> Site:
    site = Site(root, SITE_TOML + toml_extra + ("\n[send]\n" + send_extra if send_extra else ""))
    site.post("a.md", "First post body.", date="2026-05-30T00:00:00+00:00", slug="a", title="A")
    site.build("--since", "2026-05-01", now=BUILT)
    return site


def send(
    site: Site, *args: str, now: str = LATER, code: int = 0, env: dict[str, str] | None = None
) -> Result:
    result = CliRunner().invoke(
        cli,
        ["send", "--site", str(site.root), "--now", now, *args],
        env={"NEWSLETTER_SECRET": SECRET, **(env or {})},
    )
    assert result.exit_code == code, (
        f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    )
    return result


def outbox(site: Site) -> list[tuple[str, str, int, str]]:
    with sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite") as db:
        return db.execute(
            "SELECT recipient, state, attempts, reply FROM outbox ORDER BY recipient"
        ).fetchall()


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def test_the_list_gets_each_email_once_with_its_parts_filled_in(tmp_path: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port))
        [folder] = site.emails()
        written = (folder / "email.eml").read_bytes()
        result = send(site)
        assert "1 sent" in result.output
        send(site, now="2026-06-01T14:00:00+00:00")  # again: nothing more
    [(sender, recipients, data)] = inbox.messages
    assert (sender, recipients) == ("hello@blog.example", ["readers@lists.blog.example"])
    message, original = parsed(data), parsed(written)
    assert message["Date"] == "Mon, 01 Jun 2026 13:00:00 +0000"  # the moment it was sent
    assert message["To"] == "readers@lists.blog.example"
    assert message["Message-ID"] != original["Message-ID"]
    for header in ("From", "Subject", "List-Unsubscribe", "List-Id"):
        assert " ".join(message[header].split()) == " ".join(original[header].split()), header
    assert message["List-Unsubscribe-Post"] is None  # the list's link names no reader
    assert data.split(b"\r\n\r\n", 1)[1] == written.split(b"\r\n\r\n", 1)[1]  # not re-rendered
    assert outbox(site) == [("readers@lists.blog.example", "sent", 1, "250 Message accepted")]


def subscriber_site(root: Path, port: int, csv: str) -> Site:
    site = built_site(root, relay(port), SUBSCRIBERS)
    (root / "people.csv").write_text(csv, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["subscribers", "import", str(root / "people.csv"), "--site", str(root)]
    )
    assert result.exit_code in (0, 1), result.output
    return site


def test_one_message_per_active_subscriber_each_with_its_own_message_id(tmp_path: Path) -> None:
    inbox = Inbox()
    csv = "\ufeffEmail,Name\nada@example.org,Ada\nnot an address,X\nBob@Example.org,Bob\n"
    with smtp_server(inbox) as port:
        site = subscriber_site(tmp_path / "site", port, csv)
        removed = CliRunner().invoke(
            cli, ["subscribers", "remove", "bob@example.org", "--site", str(site.root)]
        )
        assert removed.exit_code == 0
        send(site)
        added = CliRunner().invoke(
            cli, ["subscribers", "add", "cy@example.org", "--site", str(site.root)]
        )
        assert "cy@example.org: added" in added.output
        send(site, now="2026-06-01T14:00:00+00:00")  # the audience was fixed at queueing
    assert sorted(r for _s, rcpts, _d in inbox.messages for r in rcpts) == ["ada@example.org"]
    [data] = inbox.to("ada@example.org")
    assert parsed(data)["To"] == "ada@example.org"
    listing = CliRunner().invoke(cli, ["subscribers", "list", "--json", "--site", str(site.root)])
    statuses = {s["address"]: s["status"] for s in json.loads(listing.output)}
    assert statuses == {
        "ada@example.org": "active",
        "Bob@example.org": "suppressed",
        "cy@example.org": "active",
    }


def test_an_import_reports_bad_rows_by_line_and_never_revives_a_suppressed_address(
    tmp_path: Path,
) -> None:
    site = Site(tmp_path / "site")
    people = tmp_path / "people.csv"
    people.write_text(
        "email;name;status\na@example.org;A;subscribed\nb@example;B;\nc@example.org;C;unsubscribed\n"
    )
    result = CliRunner().invoke(
        cli, ["subscribers", "import", str(people), "--site", str(site.root)]
    )
    assert result.exit_code == 1
    assert f"{people}:3: skipped: 'b@example' is not an address" in result.output
    assert "1 added" in result.output and "1 marked gone" in result.output
    CliRunner().invoke(cli, ["subscribers", "remove", "a@example.org", "--site", str(site.root)])
    again = CliRunner().invoke(
        cli, ["subscribers", "import", str(people), "--site", str(site.root)]
    )
    assert "0 added" in again.output and "2 suppressed before" in again.output
    export = tmp_path / "out.csv"
    CliRunner().invoke(cli, ["subscribers", "add", "=cmd@example.org", "--site", str(site.root)])
    CliRunner().invoke(cli, ["subscribers", "export", str(export), "--site", str(site.root)])
    assert "'=cmd@example.org,,active" in export.read_text()  # a formula is defused


@pytest.mark.parametrize(
    ("reply", "state"),
    [("451 4.3.0 try again later", "deferred"), ("550 5.1.1 no such mailbox", "failed")],
)
def test_temporary_and_permanent_refusals(tmp_path: Path, reply: str, state: str) -> None:
    inbox = Inbox(reply_for={"readers@lists.blog.example": reply})
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port))
        result = send(site, code=1 if state == "failed" else 0)
        [(recipient, found, attempts, said)] = outbox(site)
        assert (found, attempts, said) == (state, 1, reply)
        assert recipient in result.output and reply in result.output
        if state == "deferred":
            send(site, now="2026-06-01T13:01:00+00:00")  # too soon: not tried again
            assert outbox(site)[0][2] == 1
            inbox.reply_for.clear()
            send(site, now="2026-06-01T13:06:00+00:00")  # after 5 minutes: tried, sent
            assert outbox(site)[0][1:3] == ("sent", 2)
            assert len(inbox.messages) == 1


def test_a_deferred_message_fails_after_max_attempts(tmp_path: Path) -> None:
    inbox = Inbox(reply_for={"readers@lists.blog.example": "421 busy"})
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port), "max_attempts = 2\n")
        send(site, now="2026-06-01T13:00:00+00:00")
        send(site, now="2026-06-01T14:00:00+00:00", code=1)
    [(_r, state, attempts, reply)] = outbox(site)
    assert (state, attempts) == ("failed", 2) and reply.startswith("gave up after 2 attempt(s)")


@pytest.mark.parametrize("action", ["drop", "stall:4"])
def test_a_connection_lost_after_the_final_dot_is_unknown_never_resent(
    tmp_path: Path, action: str
) -> None:
    inbox = Inbox(reply_for={"readers@lists.blog.example": action})
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port))
        result = send(site, code=1)
        assert "unknown: readers@lists.blog.example" in result.output
        assert outbox(site)[0][1] == "unknown"
        inbox.reply_for.clear()
        send(site, now="2026-06-02T13:00:00+00:00", code=1)  # a plain send: not resent
        assert len(inbox.messages) == 1
        send(site, "--retry-unknown", now="2026-06-02T14:00:00+00:00")
    first, second = (parsed(d) for d in inbox.to("readers@lists.blog.example"))
    assert first["Message-ID"] == second["Message-ID"]  # the receiver can tell it is one
    assert outbox(site)[0][1] == "sent"


def test_a_refused_connection_defers(tmp_path: Path) -> None:
    site = built_site(tmp_path / "site", relay(free_port()))
    result = send(site)
    assert "deferred: readers@lists.blog.example" in result.output
    assert outbox(site)[0][1] == "deferred"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_starttls_and_auth_with_a_private_authority(tmp_path: Path, authority: trustme.CA) -> None:
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    inbox = Inbox()
    with smtp_server(inbox, tls=server_tls(authority), auth=True) as port:
        extra = f'username = "{USER}"\npassword_env = "RELAY_PASSWORD"\nca_file = "{ca_file}"\n'
        site = built_site(tmp_path / "site", relay(port, extra, security="starttls"))
        assert PASSWORD not in (site.root / "newsletter.toml").read_text()
        send(site, env={"RELAY_PASSWORD": PASSWORD})
    assert len(inbox.messages) == 1


def test_an_unknown_authority_or_a_missing_starttls_stops_the_send(
    tmp_path: Path, authority: trustme.CA
) -> None:
    with smtp_server(Inbox(), tls=server_tls(authority)) as port:
        site = built_site(tmp_path / "a", relay(port, security="starttls"))
        result = send(site, code=1)  # the system's authorities do not know ours
        assert "TLS failed" in result.output and "CERTIFICATE_VERIFY_FAILED" in result.output
    with smtp_server(Inbox()) as port:  # no STARTTLS offered
        site = built_site(tmp_path / "b", relay(port, security="starttls"))
        result = send(site, code=1)
        assert "does not offer STARTTLS" in result.output
        assert outbox(site)[0][1] == "deferred"  # not sent, tried again next time


def test_every_configuration_problem_is_said_at_once(tmp_path: Path) -> None:
    site = built_site(
        tmp_path / "site",
        '\n[smtp]\nhost = "mail.example.net"\nsecurity = "none"\nusername = "u"\n'
        'password_env = "NOT_SET_ANYWHERE"\n',
        'dkim_domain = "blog.example"\n',
    )
    result = send(site, code=2)
    assert "3 problem(s)" in result.output
    assert "dkim_domain, dkim_selector and dkim_key_file go together" in result.output
    assert 'security: "none" sends in plain text' in result.output
    assert "NOT_SET_ANYWHERE is not set" in result.output
    bare = built_site(tmp_path / "bare")
    assert "[smtp] host: missing" in send(bare, code=2).output


def test_an_old_email_waits_for_force(tmp_path: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port))
        result = send(site, now="2026-06-20T00:00:00+00:00")
        assert "older than [send] max_age_days" in result.output and inbox.messages == []
        send(site, "--force", now="2026-06-20T00:00:00+00:00")
    assert len(inbox.messages) == 1


def test_dry_run_and_test_sends_record_nothing(tmp_path: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = Site(tmp_path / "site", SITE_TOML + relay(port))
        site.post("a.md", "Body.", date="2026-05-30T00:00:00+00:00", slug="a", title="Hello")
        result = send(site, "--test", "me@example.org", "--test", "you@example.org")
        assert "test to me@example.org: sent" in result.output
        assert not (site.root / ".newsletter" / "ledger.sqlite").exists()  # no build yet
        site.build("--since", "2026-05-01", now=BUILT)
        dry = send(site, "--dry-run", "--json")
        assert json.loads(dry.stdout)["would_send"] == [
            {"email_id": site.emails()[0].name, "recipient": "readers@lists.blog.example"}
        ]
    subjects = sorted(parsed(d)["Subject"] for _s, _r, d in inbox.messages)
    assert subjects == ["[Test] Hello", "[Test] Hello"]
    with sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert "outbox" not in tables or not db.execute("SELECT * FROM outbox").fetchall()


def test_maildir_transport_follows_the_same_outbox_rules(tmp_path: Path) -> None:
    site = built_site(tmp_path / "site", "", 'transport = "maildir"\nmaildir = "mail"\n')
    send(site)
    send(site, now="2026-06-01T14:00:00+00:00")
    [message] = list((site.root / "mail" / "new").iterdir())
    assert parsed(message.read_bytes())["To"] == "readers@lists.blog.example"


def test_dkim_signature_verifies_against_the_public_key(tmp_path: Path) -> None:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = Site(tmp_path / "site", SITE_TOML + relay(port))
        (site.root / "dkim.pem").write_bytes(pem)
        (site.root / "newsletter.toml").write_text(
            SITE_TOML + relay(port) + '\n[send]\ndkim_domain = "blog.example"\n'
            'dkim_selector = "news"\ndkim_key_file = "dkim.pem"\n'
        )
        site.post("a.md", "Body.", date="2026-05-30T00:00:00+00:00", slug="a")
        site.build("--since", "2026-05-01", now=BUILT)
        send(site)
    [(_s, _r, data)] = inbox.messages
    signature = parsed(data)["DKIM-Signature"]
    signed = {h.strip().lower() for h in signature.split("h=")[1].split(";")[0].split(":")}
    assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe"} <= signed
    assert "list-unsubscribe-post" in signed

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"news._domainkey.blog.example."
        return record

    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(data.replace(b"Subject: ", b"Subject: X"), dnsfunc=dns)


def test_a_send_waits_for_a_build_holding_the_lock(tmp_path: Path) -> None:
    from pipeline.shell.lock import exclusive

    site = built_site(tmp_path / "site", relay(free_port()))
    with exclusive(site.root / ".newsletter" / "ledger.sqlite.lock"):
        result = send(site, code=75)
    assert "holds" in result.output


def test_no_header_can_be_made_from_an_address_or_a_configured_value() -> None:
    from pipeline.core import delivery
    from pipeline.core.audience import AddressError, checked_address

    for bad in ("a@example.org\r\nBcc: x@evil.example", "a@example.org\nX: y", "å@example.org"):
        with pytest.raises(AddressError):
            checked_address(bad)
    written = delivery.split_eml(
        "e", b"From: a@b.example\r\nTo: x\r\nMessage-ID: <e@h>\r\n\r\nbody"
    )
    with pytest.raises(ValueError, match="one-line ASCII"):
        delivery.fill(written, "a@example.org\r\nBcc: x@evil.example", "<m@h>", datetime.now(UTC))
    message = delivery.fill(written, "a@example.org", "<m@h>", datetime(2026, 6, 1, tzinfo=UTC))
    assert message.startswith(b"From: a@b.example\r\nTo: a@example.org\r\nDate: ")
    assert message.count(b"\r\nTo: ") == 1 and message.endswith(b"\r\n\r\nbody")


def test_status_names_the_addresses_that_are_not_delivered(tmp_path: Path) -> None:
    inbox = Inbox(reply_for={"readers@lists.blog.example": "550 5.7.1 rejected by policy"})
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port))
        send(site, code=1)
    result = CliRunner().invoke(cli, ["status", "--site", str(site.root), "--now", LATER])
    assert "failed: readers@lists.blog.example" in result.output
    assert "550 5.7.1 rejected by policy" in result.output


@pytest.mark.slow
def test_a_send_killed_at_any_moment_mails_nobody_twice(tmp_path: Path) -> None:
    """SIGKILL a real `send` of 300 messages at many moments; run it again each time.
    Nobody gets a message twice; at the end everyone is sent or, at most two per
    kill (the one in flight and the one claimed next), reported unknown."""
    import random
    import signal
    import subprocess
    import sys
    import time

    # 10 ms a message: the 300 take some 3 s, so most kills land mid-send even on a
    # fast machine (3 ms let a quick one finish before the second kill).
    inbox = Inbox(delay=0.01)
    people = "email\n" + "".join(f"reader{i:03d}@example.org\n" for i in range(300))
    rng = random.Random(12)  # noqa: S311 (moments to kill at, not secrets)
    kills = 0
    with smtp_server(inbox) as port:
        site = subscriber_site(tmp_path / "site", port, people)
        command = [sys.executable, "-m", "pipeline", "send", "--site", str(site.root), "-q"]
        command += ["--now", LATER]
        environ = {**os.environ, "NEWSLETTER_SECRET": SECRET}
        for _ in range(12):
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environ
            )
            time.sleep(rng.uniform(0.2, 1.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(30)
        final = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, env=environ
        )
    assert kills >= 3, "the sends finished before they could be killed; slow the sink down"
    received = [r for _s, rcpts, _d in inbox.messages for r in rcpts]
    assert len(received) == len(set(received)), "somebody got a message twice"
    states = {recipient: state for recipient, state, _a, _r in outbox(site)}
    assert len(states) == 300
    unknown = [r for r, s in states.items() if s == "unknown"]
    assert set(states.values()) <= {"sent", "unknown"}
    assert len(unknown) <= 2 * kills
    assert {r for r, s in states.items() if s == "sent"} <= set(received)
    assert final.returncode == (1 if unknown else 0), final.stderr
    with sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_envelope_address_from_the_configuration_cannot_carry_a_command(
    tmp_path: Path,
) -> None:
    inbox = Inbox()
    evil = 'from = "hello@blog.example\\r\\nRCPT TO:<x@evil.example>"'
    with smtp_server(inbox) as port:
        site = built_site(tmp_path / "site", relay(port))
        toml = (site.root / "newsletter.toml").read_text()
        toml = toml.replace('from = "Test Blog <hello@blog.example>"', evil)
        (site.root / "newsletter.toml").write_text(toml)
        send(site)
    [(sender, recipients, data)] = inbox.messages
    assert (sender, recipients) == ("hello@blog.example", ["readers@lists.blog.example"])
    assert b"\r\nRCPT" not in data
