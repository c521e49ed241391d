"""core.posts.disclosures: found, kept verbatim and placed, on parsed blocks."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.posts.disclosures import (
    _PLAIN_HOST,
    affiliate_matcher,
    arrange_body,
    parse_disclosure,
)
from pipeline.core.posts.markup import parse_blocks
from tests.conftest import make_config

CONFIG = make_config()
URL = "https://blog.example/post/"


AFFILIATE_CASES = [
    ("https://amzn.to/abc", True),
    ("https://www.amazon.co.uk/dp/1?tag=me-21", True),
    ("https://www.amazon.co.uk/dp/1", False),  # no associate tag
    ("https://www.amazon.co.uk/dp/2?ref=x&tag=me-21", True),  # the host's rules remembered
    ("https://eu.shop.example/item", True),
    ("https://shop.example.evil.test/item", False),  # not the host's tail
    ("mailto:someone@amzn.to", False),
    ("https://AMZN.TO/x", True),
    ("https://amzn.to", True),  # no path
    ("https://amzn.to.evil.test/x", False),
    ("https://amzn.to:443/x", True),  # a port: read by urlsplit
    ("https://user@amzn.to/x", True),  # userinfo: read by urlsplit
    ("https://amzn.to_x/x", False),  # not a plain host: urlsplit's is amzn.to_x
]


def test_affiliate_patterns_match_hosts_subdomains_and_required_parameters() -> None:
    is_affiliate = affiliate_matcher(["amzn.to", "amazon.*?tag", "shop.example"])
    for _twice in range(2):  # the second time, each host's rules as remembered
        assert [is_affiliate(url) for url, _ in AFFILIATE_CASES] == [
            expected for _, expected in AFFILIATE_CASES
        ]


# Pieces of URLs: plain host letters, the characters that end a host or make it
# something else, and whole schemes and hosts.
URL_PIECES = st.sampled_from([*"aZ09.-_:@[]/?#%+~=& \t\n", "https://", "HTTP://", "amzn.to"])


@settings(max_examples=500)
@given(st.lists(URL_PIECES, max_size=10).map("".join))
def test_a_plain_host_is_read_as_urlsplit_reads_it(tail: str) -> None:
    for url in ("https://" + tail, "HtTp://" + tail, tail):
        plain = _PLAIN_HOST.match(url)
        if plain:  # the affiliate test skips urlsplit (and its small cache) for these
            assert plain[1].lower() == (urlsplit(url).hostname or ""), url


def test_a_disclosure_keeps_its_emoji_label_words_and_links() -> None:
    found = parse_disclosure(
        "⚕️ **Medical disclosure:** Not advice. See [my policy](https://blog.example/p/).",
        URL,
        lambda href: False,
        "body",
    )
    assert (found.kind, found.label, found.origin) == ("medical", "Medical disclosure:", "body")
    assert (
        found.text == "⚕️ Medical disclosure: Not advice. See my policy (https://blog.example/p/)."
    )
    assert '<a href="https://blog.example/p/">my policy</a>' in found.html


def test_the_affiliate_disclosure_moves_before_the_first_affiliate_link() -> None:
    blocks = parse_blocks(
        "Buy [oats](https://amzn.to/oats).\n\n"
        "More prose.\n\n"
        "🔗 **Affiliate disclosure:** I earn a commission.\n"
    )
    body = arrange_body("a.md", blocks, None, URL, CONFIG)
    assert body.html.index("Affiliate disclosure") < body.html.index("amzn.to")
    assert body.html.count("Affiliate disclosure") == 1  # moved, not copied
    assert 'rel="sponsored"' in body.html
    assert body.affiliate_links == ("https://amzn.to/oats",)
    assert body.disclosure_blocks == frozenset({2}) and body.warnings == ()


def test_no_affiliate_disclosure_gets_the_site_default_and_a_finding() -> None:
    body = arrange_body(
        "a.md", parse_blocks("Buy [oats](https://amzn.to/oats)."), None, URL, CONFIG
    )
    [default] = body.disclosures
    assert default.origin == "site default" and default.kind == "affiliate"
    assert body.html.index("Affiliate disclosure") < body.html.index("amzn.to")
    [warning] = body.warnings
    assert (warning.kind, warning.file) == ("undisclosed-affiliate", "a.md")


def test_front_matter_disclosures_lead_and_a_plain_paragraph_is_not_one() -> None:
    blocks = parse_blocks("**Disclosure:** I was sent this for free.\n\nText.\n")
    given = ["**Sponsored disclosure:** Paid for by Oats Inc."]
    body = arrange_body("a.md", blocks, given, URL, CONFIG)
    assert [d.origin for d in body.disclosures] == ["front matter", "body"]
    assert body.html.startswith(
        "<p><strong>Sponsored disclosure:</strong> Paid for by Oats Inc.</p>"
    )
    plain = arrange_body("b.md", parse_blocks("I **disclose** nothing.\n"), None, URL, CONFIG)
    assert plain.disclosures == ()
