"""`check` passes plain bodies without parsing them (`core/posts/plain.py`): the
findings must be the full reading's, whatever the body holds. Generated bodies mix
the lines that decide a disclosure's place (chrome, headings, fences, raw HTML) with
links and images written every way; each is checked both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.checks import Checked, check_post, header_url, lenient
from pipeline.core.posts.plain import plain_body
from pipeline.core.posts.read import read_header_and_body
from pipeline.core.posts.templating.lookup import KnownPosts
from pipeline.core.settings import Config
from tests.conftest import make_config, post_text

CONFIG = lenient(make_config())
FIXTURE = Path(__file__).parents[2] / "shared" / "fixtures" / "gut-health-and-sleep.md"
AFFILIATE = "🔗 **Affiliate disclosure:** This post contains affiliate links."
TITLE = "Sleep Well"


def both_ways(
    text: str, source: str = "post.md", config: Config = CONFIG
) -> tuple[Checked, Checked]:
    raw = text.encode()
    url = header_url(source, raw, config)
    assert isinstance(url, str), url
    lookup = KnownPosts({})
    return (
        check_post(source, raw, url, config, lookup),
        check_post(source, raw, url, config, lookup, in_full=True),
    )


def is_plain(text: str) -> bool:
    raw = text.encode()
    header, _meta, body, templated, as_written = read_header_and_body("post.md", raw, CONFIG)
    hosts = CONFIG.affiliate.hosts
    plain = not templated and plain_body(body, header.url, hosts) is not None
    if not templated and as_written:  # the file's bytes searched instead: the same answer
        assert plain == (plain_body(body, header.url, hosts, raw) is not None)
    return plain


LINES = [
    AFFILIATE,
    "🔗 **Affiliate disclosure:** This post contains affiliate links",  # no full stop
    "**Affiliate disclosure:** I may earn a commission.",
    "⚕️ **Medical disclosure:** Not medical advice.",
    "🔗**Affiliate disclosure:** squeezed.",
    "🔗 **Affiliate disclosure:**no space after.",
    "é **Affiliate disclosure:** a letter for an emoji.",
    "🔗 **Affiliate *disclosure*:** nested.",
    "🔗 **AFFILIATE DISCLOSURE:** shouted.",
    "**Sponsor disclaimer:** sponsored.",
    "**Note:** a bold label, *emphasis*, no disclosure.",
    "A **bold** word, then affiliate disclosure in passing.",
    "> 🔗 **Affiliate disclosure:** quoted.",
    "- 🔗 **Affiliate disclosure:** listed.",
    "    🔗 **Affiliate disclosure:** indented.",
    "# Leave a reply",
    "### Leave a Reply [Cancel reply](/post/#respond)",
    "## Leave a **comment**",
    "## Evening reading",
    "## LEAVE A REPLY",
    "## ![Leave](x.png) a reply",
    "## Le&#97;ve a reply",
    "Leave a reply",
    "===",
    "---",
    "Written by",
    "### Marina",
    "## You might also like",
    "# Sleep Well",
    "marina",
    "May 1, 2026",
    "Tagged: [sleep](https://example.com/tag/sleep/)",
    "[Notes](https://example.com/category/notes/)",
    "Plain prose, nothing more.",
    "Buy [oats](https://amzn.to/abc123) today.",
    "Buy [oats](https://AMZN.TO/abc123) today.",
    "Buy [oats]( https://amzn.to/abc ) today.",
    "Buy [oats](//amzn.to/abc) today.",
    "Buy [oats](https://www.amazon.com/dp/1?tag=me-20) today.",
    "Buy [oats][ref] today.",
    "[ref]: https://amzn.to/ref",
    "Visit <https://amzn.to/auto> now.",
    '<a href="https://amzn.to/html">raw</a>',
    "See [the page](www.example.com/page).",
    "See [the page](https//example.com/page).",
    "See [the page](http:/example.com).",
    "See [the page](ftp://example.com/file).",
    "See [the page](javascript:alert(1)).",
    "See [the page](page%20two.html).",
    "See [the page](a(b)c).",
    'See [the page](/page "A title").',
    "Mail [me](mailto:me@example.com).",
    "![A cat](cat.jpg)",
    "![](cat.jpg)",
    "![ ](cat.jpg)",
    "![*](cat.jpg)",
    "![&#32;](cat.jpg)",
    "![**bold**](cat.jpg)",
    "![a ![b](c.png)](d.png)",
    "[![A cat](cat.jpg)](https://example.com/)",
    '<img src="cat.jpg">',
    "```",
    "~~~",
    "`code with ](x) in it`",
    "\\[not a link](https://amzn.to/x)",
    "| a | b |",
    "| --- | --- |",
    '{{< ref "other.md" >}}',
    "*emphasis* and _more_ and ~~gone~~",
    "",
    "",
    "",
]


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(
    lines=st.lists(st.sampled_from(LINES), min_size=1, max_size=14),
    excerpt=st.sampled_from([None, "A short summary.", "Affiliate disclosure: cut"]),
)
def test_a_plain_body_is_checked_as_the_full_reading_checks_it(
    lines: list[str], excerpt: str | None
) -> None:
    text = post_text("\n".join(lines) or "Prose.", title=TITLE, excerpt=excerpt)
    quick, full = both_ways(text)
    assert quick == full


@pytest.mark.parametrize(
    "body",
    [
        f"{AFFILIATE}\n\nBuy [oats](https://amzn.to/abc123).",
        f"Prose.\n\n{AFFILIATE}\n\nBuy [oats](https://amzn.to/abc123).\n\n# Leave a reply",
        "Prose with [a link](https://example.com/) and ![a cat](cat.jpg).",
    ],
)
def test_plain_bodies_are_passed_without_a_parse(body: str) -> None:
    assert is_plain(post_text(body, title=TITLE))


@pytest.mark.parametrize(
    "body",
    [
        # the disclosure is the bio under "Written by", which the chrome removes
        f"Buy [oats](https://amzn.to/abc).\n\nWritten by\n\n### Marina\n\n{AFFILIATE}",
        # after the comment form's heading, everything is chrome
        f"Buy [oats](https://amzn.to/abc).\n\n## Leave a reply\n\n{AFFILIATE}",
        f"Buy [oats](https://amzn.to/abc).\n\n## Leave a **reply**\n\n{AFFILIATE}",
        # inside a fence it is code
        f"Buy [oats](https://amzn.to/abc).\n\n```\n\n{AFFILIATE}\n\n```",
        f"Buy [oats](https://amzn.to/abc).\n\n~~~\n\n{AFFILIATE}\n\n~~~",
        # template syntax: what it resolves to (or fails to) only the reading knows
        "See {% post_url 2020-01-01-missing %} for more.",
        # a paragraph's second line: the label no longer leads a paragraph of its own
        f"Buy [oats](https://amzn.to/abc).\n\n{AFFILIATE}\nmore",
        # right under the title and above the date, it is the byline
        f"# {TITLE}\n\n🔗 **Affiliate disclosure:** affiliate links\n\nMay 1, 2026\n\n"
        "Buy [oats](https://amzn.to/abc).",
        # headings that read "Leave a reply" once parsed
        f"Buy [oats](https://amzn.to/abc).\n\n## Le&#97;ve a reply\n\nA form.\n\n{AFFILIATE}",
        f"Buy [oats](https://amzn.to/abc).\n\n## ![Leave](x.png) a reply\n\nA form.\n\n{AFFILIATE}",
        f"Buy [oats](https://amzn.to/abc).\n\nLeave a *reply*\n---\n\nA form.\n\n{AFFILIATE}",
        # labels that are no affiliate disclosure
        "🔗 **Affiliate links:** I earn from these.\n\nBuy [oats](https://amzn.to/abc).",
        "⚕️ **Medical disclosure:** Not advice.\n\nBuy [oats](https://amzn.to/abc).",
        "é **Affiliate disclosure:** a letter first.\n\nBuy [oats](https://amzn.to/abc).",
        "Buy [oats](https://amzn.to/abc).",  # no disclosure at all
        "![](cat.jpg)",
        "![&#32;](cat.jpg)",  # an alt text of a space
        "![` `](cat.jpg)",
        '<p>Raw <img src="cat.jpg"></p>',
        "Buy [oats][ref].\n\n[ref]: https://amzn.to/abc",
    ],
)
def test_bodies_only_a_parse_can_judge_are_read_in_full(body: str) -> None:
    text = post_text(body, title=TITLE)
    assert not is_plain(text)
    quick, full = both_ways(text)
    assert quick == full


def test_the_fixture_post_is_passed_without_a_parse_and_found_the_same() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    assert is_plain(text)
    quick, full = both_ways(text, "gut-health-and-sleep.md")
    assert quick == full


def test_a_plain_target_that_is_no_web_address_is_still_found() -> None:
    text = post_text("See [it](www.example.com).", title=TITLE)
    quick, full = both_ways(text)
    assert quick == full
    assert [f.kind for f in full.findings] == ["not-a-web-address"]


def test_a_link_on_the_site_is_an_affiliate_link_where_the_site_is_an_affiliate_host() -> None:
    shop = lenient(make_config(affiliate={"hosts": ["blog.example"]}))
    text = post_text("Buy it [in our shop](/shop/).", title=TITLE)
    quick, full = both_ways(text, config=shop)
    assert quick == full
    assert [f.kind for f in full.findings] == ["undisclosed-affiliate"]
