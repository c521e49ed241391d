"""The real post from ../shared/fixtures, built into feeds and an email."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
from pathlib import Path

import feedparser
import pytest

from tests.conftest import FIXTURE, REPO, Site

if not FIXTURE.is_file():
    # A developer without ../shared may skip; CI, which always has it, must not.
    if os.environ.get("CI"):
        raise RuntimeError(f"the shared fixture is absent ({FIXTURE}); CI needs ../shared")
    pytest.skip(f"the shared fixture is absent ({FIXTURE})", allow_module_level=True)

EXCERPT = (
    "A few months ago I was reading a research paper — as one does at 11pm when one is "
    "supposed to be sleeping — and I came across…"
)
MEDICAL = (
    "⚕️ Medical disclosure: This post shares general information based on peer-reviewed "
    "research. It is not medical advice. If you have existing digestive conditions or "
    "significant sleep difficulties, please speak with a healthcare professional."
)
AFFILIATE = (
    "🔗 Affiliate disclosure: This post contains affiliate links. If you buy through them, I "
    "may earn a small commission at no extra cost to you. I only recommend things I’ve "
    "personally used or genuinely believe in."
)
MEDICAL_HTML = "⚕️ <strong>Medical disclosure:</strong> This post shares general information"
AFFILIATE_HTML = "🔗 <strong>Affiliate disclosure:</strong> This post contains affiliate links."
CHROME = (
    "Leave a Reply",
    "You might also like",
    "Written by",
    "Tagged:",
    "Cancel reply",
    "A small, slow blog about sleep",
    "why-i-wake-up-before-my-alarm",
    "category/sleep-improvement",
    "<h1",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Site:
    toml = (REPO / "newsletter.toml").read_text(encoding="utf-8")  # the Driftly site
    site = Site(tmp_path_factory.mktemp("fixture") / "site", toml)
    site.write("gut-health-and-sleep.md", FIXTURE.read_bytes())
    site.build("--since", "2026-05-01T00:00:00+00:00", now="2026-06-20T00:00:00+00:00")
    return site


def rss_item(site: Site) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(site.read("feed.xml"))
    assert parsed.bozo == 0
    [item] = parsed.entries
    return item


def atom_entry(site: Site) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(site.read("atom.xml"))
    assert parsed.bozo == 0
    [entry] = parsed.entries
    return entry


@pytest.mark.parametrize("reader", [rss_item, atom_entry])
def test_feed_entry_carries_excerpt_and_disclosures_verbatim(built: Site, reader: object) -> None:
    entry = reader(built)  # type: ignore[operator]
    assert entry.summary == EXCERPT
    content = entry.content[0].value
    assert MEDICAL_HTML in content and AFFILIATE_HTML in content
    assert content.index("Affiliate disclosure:") < content.index("https://amzn.to/4nBgLBb")


@pytest.mark.parametrize("reader", [rss_item, atom_entry])
def test_feed_entry_without_chrome_with_absolute_links(built: Site, reader: object) -> None:
    content = reader(built).content[0].value  # type: ignore[operator]
    for chrome in CHROME:
        assert chrome not in content, chrome
    assert content.startswith("<p>A few months ago I was reading a research paper")
    assert content.rstrip().endswith("🌙</p>")
    for href in re.findall(r'(?:href|src)="([^"]*)"', content):
        assert href.startswith(("https://", "mailto:")), href
    assert content.count('rel="sponsored"') == 2


def test_feed_entry_dates_ids_and_categories(built: Site) -> None:
    entry = atom_entry(built)
    assert entry.id == "https://driftly.blog/?p=369"
    assert entry.published == "2026-05-19T15:50:46+00:00"
    assert entry.updated == "2026-06-19T19:34:38+00:00"
    assert entry.link == "https://driftly.blog/gut-health-and-sleep/"
    assert [t.term for t in entry.tags] == ["Sleep", "food", "gut health", "healthy", "sleep"]
    assert entry.author == "Marina"
    item = rss_item(built)
    assert item.id == "https://driftly.blog/?p=369" and item.guidislink is False
    assert item.published == "Tue, 19 May 2026 15:50:46 +0000"
    feed = json.loads(built.read("feed.json"))
    [json_item] = feed["items"]
    assert json_item["id"] == "https://driftly.blog/?p=369"
    assert json_item["summary"] == EXCERPT
    assert json_item["date_modified"] == "2026-06-19T19:34:38+00:00"
    assert feedparser.parse(built.read("category/sleep/atom.xml")).entries[0].id == entry.id


def _email_dir(site: Site) -> Path:
    [folder] = site.emails()
    return folder


def test_email_html_carries_excerpt_and_disclosures(built: Site) -> None:
    html = (_email_dir(built) / "email.html").read_text()
    assert EXCERPT in html
    assert MEDICAL_HTML in html and AFFILIATE_HTML in html
    assert 'href="https://driftly.blog/gut-health-and-sleep/"' in html
    assert "Gut Health and Sleep: The Connection Nobody Really Talks About" in html
    assert "May 19, 2026" in html and "Sleep" in html
    for chrome in CHROME:
        assert chrome not in html, chrome
    assert 'style="' in html  # CSS inlined by premailer


def test_email_text_part_carries_excerpt_and_disclosures(built: Site) -> None:
    text = (_email_dir(built) / "email.txt").read_text()
    assert EXCERPT in text and MEDICAL in text and AFFILIATE in text
    assert "Read more: https://driftly.blog/gut-health-and-sleep/" in text
    eml = email.message_from_bytes(
        (_email_dir(built) / "email.eml").read_bytes(), policy=email.policy.default
    )
    assert eml["Subject"] == "Gut Health and Sleep: The Connection Nobody Really Talks About"
    plain = eml.get_body(("plain",))
    assert plain is not None and MEDICAL in plain.get_content()
