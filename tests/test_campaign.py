"""Campaign tags: on the email's links to the site's own pages only, never in feeds,
never over the author's own, never on the unsubscribe link; off by default."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SITE_TOML, Site

BODY = (
    "See [my other post](https://blog.example/older/), [a study](https://example.org/s), "
    "and [the tagged one](https://blog.example/tagged/?utm_source=mine)."
)


def tagged_site(root: Path, extra: str) -> Site:
    site = Site(root, SITE_TOML.replace("[email]", "[email]\n" + extra))
    site.post("a.md", BODY, date="2026-05-30T00:00:00+00:00", slug="a", title="A")
    site.build("--since", "2026-05-01")
    return site


def test_links_to_the_site_carry_the_tags_in_the_email_only(tmp_path: Path) -> None:
    site = tagged_site(tmp_path / "site", 'mode = "per-post"\nutm_source = "newsletter"\n')
    [folder] = site.emails()
    page = (folder / "email.html").read_text(encoding="utf-8")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    campaign = f"utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign={folder.name}"
    assert f'href="https://blog.example/a/?{campaign}"' in page  # the title, read more
    assert f'href="https://blog.example/older/?{campaign}"' in page  # in the body
    assert 'href="https://example.org/s"' in page  # another site's: untouched
    assert 'href="https://blog.example/tagged/?utm_source=mine"' in page  # the author's own
    assert 'href="https://blog.example/unsubscribe/"' in page  # filled in per reader
    assert f"https://blog.example/a/?{campaign.replace('&amp;', '&')}" in text
    assert "Unsubscribe: https://blog.example/unsubscribe/\n" in text
    for name in ("feed.xml", "atom.xml", "feed.json"):
        assert "utm_" not in site.read(name).replace("utm_source=mine", "")


def test_without_a_source_there_are_no_tags(tmp_path: Path) -> None:
    site = tagged_site(tmp_path / "site", 'utm_campaign = "spring"\n')
    [folder] = site.emails()
    assert "utm_campaign" not in (folder / "email.html").read_text(encoding="utf-8")
