"""`newsletter serve` as readers meet it: started as a user starts it, spoken to over
HTTP on 127.0.0.1, with a real SMTP server for the sends and the confirmations."""

from __future__ import annotations

import email
import email.policy
import http.client
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from click.testing import CliRunner

from pipeline.core import tokens
from pipeline.shell.cli import cli
from tests.conftest import SITE_TOML, Site
from tests.realtools import CHROMIUM_FLAGS, require
from tests.smtp_servers import Inbox, free_port, smtp_server
from tests.test_send import LATER, SECRET, SUBSCRIBERS, relay, send, subscriber_site

LIST_ID = "newsletter.lists.blog.example"
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


@contextmanager
def reader_server(site: Site, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`newsletter serve --port 0` in its own process; yields its base URL."""
    log = (site.root / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--site", str(site.root), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "NEWSLETTER_SECRET": SECRET, **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("Serving on "), (site.root / "serve.log").read_text()
        yield line.split()[2]
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
        log.close()


def call(
    base: str, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def link(address: str) -> str:
    return f"/unsubscribe/?token={tokens.unsubscribe_token(SECRET.encode(), address, LIST_ID)}"


def one_click(base: str, target: str) -> tuple[int, dict[str, str], str]:
    return call(base, "POST", target, b"List-Unsubscribe=One-Click", ONE_CLICK)


def status_of(site: Site, address: str) -> str | None:
    with sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite") as db:
        try:
            row = db.execute("SELECT status FROM subscribers WHERE key = ?", (address.lower(),))
        except sqlite3.OperationalError:  # no subscribers table: nobody was ever added
            return None
        found = row.fetchone()
    return found[0] if found else None


def readers(site_root: Path, people: list[str], extra: str = "") -> Site:
    return subscriber_site(site_root, 2525, "email\n" + "\n".join(people) + "\n")


def test_one_click_post_unsubscribes_at_once_and_a_get_never_does(tmp_path: Path) -> None:
    site = readers(tmp_path / "site", ["ada@example.org", "bob@example.org"])
    with reader_server(site) as base:
        for method in ("HEAD", "GET"):
            code, headers, page = call(base, method, link("ada@example.org"))
            assert code == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert status_of(site, "ada@example.org") == "active"
        assert '<form method="post" action="' + link("ada@example.org") + '">' in page
        assert 'name="List-Unsubscribe" value="One-Click"' in page
        code, headers, page = one_click(base, link("ada@example.org"))
        assert code == 200 and "You are unsubscribed" in page
        assert "Set-Cookie" not in headers and "Location" not in headers
        assert status_of(site, "ada@example.org") == "suppressed"  # committed before the answer
        again = one_click(base, link("ada@example.org"))
        assert again[0] == 200 and "Already unsubscribed" in again[2]
        # RFC 8058 allows the body as multipart/form-data too.
        boundary = "b0undary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            f"One-Click\r\n--{boundary}--\r\n"
        ).encode()
        multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        assert call(base, "POST", link("bob@example.org"), body, multipart)[0] == 200
    assert status_of(site, "bob@example.org") == "suppressed"


def test_forged_tokens_wrong_methods_and_big_bodies_change_nothing(tmp_path: Path) -> None:
    site = readers(tmp_path / "site", ["ada@example.org"])
    good = link("ada@example.org")
    token = good.split("=", 1)[1]
    encoded, mac = token.split(".")
    other = tokens.unsubscribe_token(b"another secret", "ada@example.org", LIST_ID)
    forged = [
        "/unsubscribe/",
        f"/unsubscribe/?token={token[:-2]}",
        f"/unsubscribe/?token={token[:-1]}{'B' if token[-1] == 'A' else 'A'}",
        f"/unsubscribe/?token={encoded}",
        f"/unsubscribe/?token={other}",
        f"/unsubscribe/?token={tokens.unsubscribe_token(SECRET.encode(), 'ada@example.org', 'x')}",
        f"/unsubscribe/?token={token}&token={token}",
        "/unsubscribe/?token=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        "/unsubscribe/?token=" + "A" * 5000,
    ]
    with reader_server(site) as base:
        for target in forged:
            for method in ("GET", "POST"):
                code, headers, page = (
                    one_click(base, target) if method == "POST" else call(base, "GET", target)
                )
                assert code == 400, (target, code)
                assert "<script>" not in page and len(page) < 5000
        unknown = one_click(base, link("stranger@example.org"))
        assert unknown[0] == 404
        for method in ("PUT", "DELETE", "PATCH"):
            code, headers, _page = call(base, method, good, b"List-Unsubscribe=One-Click")
            assert code == 405 and "POST" in headers["Allow"]
        assert call(base, "POST", good, b"List-Unsubscribe=Yes-Please", ONE_CLICK)[0] == 400
        assert call(base, "POST", good, b"x" * 100_000, ONE_CLICK)[0] == 413
        json_body = {"Content-Type": "application/json"}
        assert call(base, "POST", good, b'{"List-Unsubscribe":"One-Click"}', json_body)[0] == 415
        assert call(base, "GET", "/../../etc/passwd")[0] == 404
        assert call(base, "GET", "/subscribe")[0] == 404  # sign-up is off unless enabled
        assert status_of(site, "ada@example.org") == "active"
    log = (site.root / "serve.log").read_text()
    assert token not in log  # the tokens stay out of the server's log


def test_every_sent_link_differs_and_the_server_accepts_each(tmp_path: Path) -> None:
    inbox = Inbox()
    people = [f"reader{i}@example.org" for i in range(6)]
    with smtp_server(inbox) as port:
        site = subscriber_site(tmp_path / "site", port, "email\n" + "\n".join(people) + "\n")
        send(site)
    targets = set()
    for _sender, [recipient], data in inbox.messages:
        message = email.message_from_bytes(data, policy=email.policy.default)
        url = message["List-Unsubscribe"].split(",")[0].strip().strip("<>")
        parts = urlsplit(url)
        targets.add((recipient, f"{parts.path}?{parts.query}"))
    assert len(targets) == len(people) == len({t for _r, t in targets})
    with reader_server(site) as base:
        for recipient, target in sorted(targets):
            assert one_click(base, target)[0] == 200
            assert status_of(site, recipient) == "suppressed"
    said = CliRunner().invoke(cli, ["status", "--site", str(site.root), "--now", LATER]).output
    assert "Subscribers: 0 active, 6 suppressed (6 unsubscribed themselves)" in said


@pytest.mark.slow
def test_nobody_gets_a_message_handed_over_after_their_unsubscribe_was_committed(
    tmp_path: Path,
) -> None:
    inbox = Inbox(delay=0.003)
    people = [f"reader{i:03d}@example.org" for i in range(300)]  # sent in this order
    with smtp_server(inbox) as port:
        site = subscriber_site(tmp_path / "site", port, "email\n" + "\n".join(people) + "\n")
        committed: dict[str, float] = {}  # address -> when its unsubscribe was answered
        codes: list[int] = []

        def unsubscribe(address: str) -> None:
            codes.append(one_click(base, link(address))[0])
            committed[address] = time.monotonic()  # after the answer, so after the commit

        def early_leavers() -> None:
            for address in people[10:60:10]:
                unsubscribe(address)
                time.sleep(0.02)

        def chase(sending: subprocess.Popen[str]) -> None:
            """Unsubscribe the reader next in line: claimed, or on the wire."""
            while sending.poll() is None and len(committed) < 80:
                times = {a: t[-1] for a, t in list(inbox.arrived.items())}
                last = int(max(times, key=times.__getitem__)[6:9]) if times else -1
                target = people[min(last + 1, len(people) - 1)]
                if target in committed:
                    time.sleep(0.0005)
                    continue
                unsubscribe(target)

        with reader_server(site) as base:
            # While a build runs (a new post: the ledger is written meanwhile)...
            site.post("b.md", "Second.", date="2026-06-01T12:30:00+00:00", slug="b", title="B")
            worker = threading.Thread(target=early_leavers)
            worker.start()
            site.build(now="2026-06-01T12:40:00+00:00")
            worker.join()
            # ... and while a send of hundreds of messages runs.
            command = [sys.executable, "-m", "pipeline", "send", "--site", str(site.root)]
            environ = {**os.environ, "NEWSLETTER_SECRET": SECRET}
            sending = subprocess.Popen(
                [*command, "--now", LATER, "-q"], env=environ, stderr=subprocess.PIPE, text=True
            )
            worker = threading.Thread(target=chase, args=(sending,))
            worker.start()
            worker.join()
            _out, errors = sending.communicate(timeout=300)
            assert sending.returncode == 0, errors
    leaving = set(committed)
    assert codes == [200] * len(leaving) and len(leaving) >= 40
    late = [a for a in leaving if any(t > committed[a] for t in inbox.arrived.get(a, []))]
    assert late == [], "handed over after the unsubscribe was committed"
    with sqlite3.connect(site.root / ".newsletter" / "ledger.sqlite") as db:
        rows = db.execute("SELECT recipient, message_id, state FROM outbox").fetchall()
    # Two emails went out (the first post's, and the one built meanwhile).
    assert len({message_id.split(".")[0] for _r, message_id, _s in rows}) == 2
    assert not set(people[10:60:10]) & {r for r, _m, _s in rows}  # gone before queueing
    skipped = {r for r, _m, state in rows if state == "skipped"}
    assert skipped <= leaving and len(skipped) >= 20
    assert {state for _r, _m, state in rows} <= {"sent", "skipped"}
    received = sorted(
        email.message_from_bytes(data, policy=email.policy.default)["Message-ID"]
        for _s, _r, data in inbox.messages
    )
    assert received == sorted(m for _r, m, state in rows if state == "sent")  # each once
    # The next email reaches none of them.
    inbox.messages.clear()
    with smtp_server(inbox) as port:
        toml = re.sub(r"port = \d+", f"port = {port}", (site.root / "newsletter.toml").read_text())
        (site.root / "newsletter.toml").write_text(toml)
        site.post("c.md", "Third.", date="2026-06-02T09:00:00+00:00", slug="c", title="C")
        site.build(now="2026-06-02T10:00:00+00:00")
        send(site, now="2026-06-02T10:05:00+00:00")
    reached = {r for _s, [r], _d in inbox.messages}
    assert reached and not reached & leaving


def signup_site(root: Path, port: int, extra: str = "") -> Site:
    toml = SITE_TOML + relay(port) + "\n[send]\n" + SUBSCRIBERS
    toml += "\n[subscribe]\nenabled = true\nper_client_hour = 6\n" + extra
    site = Site(root, toml)
    site.post("a.md", date="2026-05-30T00:00:00+00:00", slug="a", title="A")
    site.build("--since", "2026-05-01")
    return site


def confirmation_link(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["Auto-Submitted"] == "auto-generated"
    found = re.search(
        r"https://blog\.example(/subscribe/confirm\?token=\S+)", message.get_content()
    )
    assert found, message.get_content()
    return found.group(1)


def sign_up(base: str, address: str) -> tuple[int, dict[str, str], str]:
    return call(base, "POST", "/subscribe", urlencode({"email": address}).encode(), ONE_CLICK)


def test_sign_up_becomes_active_only_through_the_emailed_link(tmp_path: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = signup_site(tmp_path / "site", port)
        with reader_server(site) as base:
            code, _headers, form = call(base, "GET", "/subscribe")
            assert code == 200 and 'type="email"' in form and 'action="/subscribe"' in form
            code, _headers, page = sign_up(base, "New.Reader@example.org")
            assert code == 200 and "Check your inbox" in page
            [(_from, [to], data)] = inbox.messages
            assert to == "New.Reader@example.org"
            assert status_of(site, "new.reader@example.org") is None
            target = confirmation_link(data)
            code, _headers, page = call(base, "GET", target)  # a link scanner: no change
            assert code == 200 and "Confirm" in page and status_of(site, to) is None
            code, _headers, page = call(base, "POST", target, b"", ONE_CLICK)
            assert code == 200 and "You are subscribed" in page
            assert status_of(site, to) == "active"
            # An active address gets no second confirmation, and the page says the same.
            again = sign_up(base, "new.reader@example.org")
            assert again[0] == 200 and "Check your inbox" in again[2]
            assert len(inbox.messages) == 1
            # Somebody else's address, asked for again and again: two emails a day at most.
            for _ in range(3):
                assert sign_up(base, "victim@example.org")[0] == 200
            assert len(inbox.to("victim@example.org")) == 2
            # One client, many addresses: refused after [subscribe] per_client_hour.
            answers = [sign_up(base, f"bulk{i}@example.org")[0] for i in range(3)]
            assert answers[-1] == 429
            # Bad addresses, and an attempt to add a header, send nothing.
            before = len(inbox.messages)
            for bad in ("not an address", "a@b.example\r\nBcc: x@evil.example", "x" * 300):
                code, _headers, page = call(
                    base,
                    "POST",
                    "/subscribe",
                    urlencode({"email": bad}).encode(),
                    {**ONE_CLICK, "X-Forwarded-For": "203.0.113.9"},
                )
                assert code in (400, 429) and "\nBcc:" not in page
            assert len(inbox.messages) == before


def test_a_confirmation_link_expires_and_cannot_be_forged(tmp_path: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = signup_site(tmp_path / "site", port, "confirm_hours = 1\n")
        past = datetime.now(UTC) - timedelta(minutes=1)
        expired = tokens.confirm_token(SECRET.encode(), "late@example.org", LIST_ID, past)
        future = datetime.now(UTC) + timedelta(hours=1)
        foreign = tokens.confirm_token(b"not ours", "evil@example.org", LIST_ID, future)
        unsubscribe = link("late@example.org").split("=", 1)[1]
        with reader_server(site) as base:
            code, _headers, page = call(base, "POST", f"/subscribe/confirm?token={expired}")
            assert code == 410 and "expired" in page and 'value="late@example.org"' in page
            for bad in (foreign, unsubscribe, expired[:-3], ""):
                assert call(base, "POST", f"/subscribe/confirm?token={bad}")[0] == 400
    assert status_of(site, "late@example.org") is None
    assert status_of(site, "evil@example.org") is None


def test_serve_says_what_is_missing_instead_of_starting(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", SITE_TOML)
    assert "[send] secret_env: missing" in serve_refused(site, with_secret=False)
    tagged = SITE_TOML.replace('"https://blog.example/unsubscribe/"', '"*|UNSUB|*"')
    said = serve_refused(Site(tmp_path / "tagged", tagged + "\n[send]\n" + SUBSCRIBERS))
    assert "is a merge tag" in said and "Traceback" not in said


def serve_refused(site: Site, with_secret: bool = True) -> str:
    """What `serve` says when it refuses to start (exit 2)."""
    command = [sys.executable, "-m", "pipeline", "serve", "--site", str(site.root), "--port", "0"]
    secret = {"NEWSLETTER_SECRET": SECRET} if with_secret else {}
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **secret},
    )
    assert result.returncode == 2, result.stderr
    return result.stderr


def test_the_wsgi_application_runs_behind_another_server(tmp_path: Path) -> None:
    site = readers(tmp_path / "site", ["ada@example.org"])
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("waitress-serve")),
            f"--listen=127.0.0.1:{port}",
            "pipeline.shell.wsgi:application",
        ],
        env={**os.environ, "NEWSLETTER_SITE": str(site.root), "NEWSLETTER_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                code = one_click(base, link("ada@example.org"))[0]
                break
            except OSError:
                time.sleep(0.1)
        assert code == 200
    finally:
        process.terminate()
        process.wait(10)
    assert status_of(site, "ada@example.org") == "suppressed"


def test_a_reader_unsubscribes_and_signs_up_in_a_real_browser(tmp_path: Path) -> None:
    """The pages as Chromium shows them: the button's POST passes the page's own
    Content-Security-Policy, and does what the page says."""
    require("chromium")
    from playwright.sync_api import expect, sync_playwright

    inbox = Inbox()
    with smtp_server(inbox) as port:
        site = signup_site(tmp_path / "site", port)
        (site.root / "people.csv").write_text("email\nada@example.org\n", encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "pipeline", "subscribers", "import", "people.csv"],
            cwd=site.root,
            check=True,
            capture_output=True,
        )
        with reader_server(site) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=require("chromium"),
                args=[flag for flag in CHROMIUM_FLAGS if flag != "--headless"],
            )
            page = browser.new_page()
            refused: list[str] = []
            page.on("console", lambda message: refused.append(message.text))
            page.goto(base + link("ada@example.org"))
            expect(page.locator("h1")).to_have_text("Unsubscribe?")
            assert status_of(site, "ada@example.org") == "active"
            page.get_by_role("button", name="Unsubscribe").click()
            expect(page.locator("h1")).to_have_text("You are unsubscribed")
            assert status_of(site, "ada@example.org") == "suppressed"
            page.goto(base + "/subscribe")
            page.get_by_label("Email address").fill("new@example.org")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.locator("h1")).to_have_text("Check your inbox")
            [(_from, _to, data)] = inbox.messages
            page.goto(base + confirmation_link(data))
            page.get_by_role("button", name="Confirm").click()
            expect(page.locator("h1")).to_have_text("You are subscribed")
            browser.close()
    assert status_of(site, "new@example.org") == "active"
    assert not [text for text in refused if "Content Security Policy" in text]


def test_a_sites_own_page_template_restyles_every_page_and_a_broken_one_stops_serve(
    tmp_path: Path,
) -> None:
    site = readers(tmp_path / "site", ["ada@example.org"])
    pages = site.root / "templates" / "pages"
    pages.mkdir(parents=True)
    (pages / "page.html").write_text(
        "<!DOCTYPE html><title>{{ title }}</title><main class=house>{{ message }}"
        "{% if form %}<form method=post action='{{ form.action }}'>"
        "{% for n, v in form.hidden %}<input type=hidden name={{ n }} value={{ v }}>{% endfor %}"
        "<button>{{ form.button }}</button></form>{% endif %}</main>",
        encoding="utf-8",
    )
    with reader_server(site) as base:
        code, _headers, page = call(base, "GET", link("ada@example.org"))
        assert code == 200 and "<main class=house>" in page and "<button>Unsubscribe" in page
        assert "<main class=house>" in call(base, "GET", "/nowhere")[2]
    (pages / "page.html").write_text("{{ site.colour }}", encoding="utf-8")
    said = serve_refused(site)
    assert "pages template page.html" in said and "colour" in said


def test_after_a_secret_is_rotated_old_links_work_while_the_old_secret_is_kept(
    tmp_path: Path,
) -> None:
    site = readers(tmp_path / "site", ["ada@example.org", "bob@example.org"])
    toml = site.root / "newsletter.toml"
    toml.write_text(
        toml.read_text().replace(
            'secret_env = "NEWSLETTER_SECRET"\n',
            'secret_env = "NEWSLETTER_SECRET"\nprevious_secret_env = "NEWSLETTER_OLD_SECRET"\n',
        )
    )
    rotated = {"NEWSLETTER_SECRET": "the-new-secret-value", "NEWSLETTER_OLD_SECRET": SECRET}
    new_link = "/unsubscribe/?token=" + tokens.unsubscribe_token(
        b"the-new-secret-value", "bob@example.org", LIST_ID
    )
    with reader_server(site, env=rotated) as base:
        assert one_click(base, link("ada@example.org"))[0] == 200  # signed before
        assert one_click(base, new_link)[0] == 200  # signed after
    assert status_of(site, "ada@example.org") == status_of(site, "bob@example.org") == "suppressed"
    with reader_server(site, env={"NEWSLETTER_SECRET": "the-new-secret-value"}) as base:
        assert one_click(base, link("ada@example.org"))[0] == 400  # the old secret dropped
