"""Generated front matter and bodies through the parser and every renderer.

Invariants: the only failure is a reported PostError; every feed is well-formed
XML (and JSON); no executable markup survives; a disclosure is kept verbatim.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from pipeline.core.emails import render_email
from pipeline.core.errors import PostError
from pipeline.core.feeds import render_feed_sets
from pipeline.core.feedsets import feed_sets
from pipeline.core.posts import markup
from pipeline.core.posts.read import PLAIN_URL, _checked_url, read_post
from pipeline.shell.files import stylesheet
from pipeline.shell.templates import load_templates
from tests.conftest import make_config
from tests.test_hostile_input import executable_markup

CONFIG = make_config()
TEMPLATES = load_templates(Path("/nonexistent-site/templates/email"))

nasty_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
html_bits = st.sampled_from(
    [
        "<script>alert(1)</script>",
        '<img src="x.png" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://evil.example/"></iframe>',
        "<style>body{display:none}</style>",
        '<div onclick="x()">d</div>',
        "[link](javascript:alert(1))",
        "<!-- comment -->",
        "]]>",
        "&amp; &lt; &#0; &#x0;",
        "\x00\x07\x1b\ufffe",
        "# Heading",
        "- list item",
        "> quote",
        "```\ncode\n```",
        "**bold** _em_ `code`",
    ]
)
paragraphs = st.lists(st.one_of(nasty_text, html_bits), max_size=8)
# Hypothesis takes naive bounds and adds the zone itself (timezones=).
iso_dates = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.isoformat())
# Mostly valid values, so most examples reach the renderers; the rest probe rejection.
dates = st.one_of(
    iso_dates,
    iso_dates,
    iso_dates,
    st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 1, 1)).map(str),
    st.integers(min_value=-10, max_value=2_000_000_000),
    nasty_text,
)
titles = st.one_of(
    *[
        st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
            min_size=1,
            max_size=60,
        )
    ]
    * 6,
    st.integers(),
    st.none(),
    st.lists(nasty_text, max_size=2),
)
names = st.one_of(nasty_text, st.lists(nasty_text, max_size=4))
disclosure_words = (
    st.text(alphabet="abcdefghij klmnop", min_size=5, max_size=40).map(str.strip).filter(bool)
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    title=titles,
    published=dates,
    modified=st.one_of(st.none(), dates),
    tags=names,
    categories=names,
    excerpt=st.one_of(st.none(), nasty_text),
    body=paragraphs,
    disclosure=st.one_of(st.none(), disclosure_words),
    garble=st.sampled_from([False] * 9 + [True]),
)
def test_any_post_is_built_safely_or_rejected_with_a_reason(  # type: ignore[no-untyped-def]
    title, published, modified, tags, categories, excerpt, body, disclosure, garble
) -> None:
    meta = {"title": title, "date": published, "tags": tags, "categories": categories}
    if modified is not None:
        meta["modified_at"] = modified
    if excerpt is not None:
        meta["excerpt"] = excerpt
    paragraphs_ = list(body)
    if disclosure:
        paragraphs_.insert(len(paragraphs_) // 2, f"⚕️ **Medical disclosure:** {disclosure}.")
    text = "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n\n" + "\n\n".join(paragraphs_)
    raw = text.encode("utf-8", "surrogatepass")
    if garble:
        raw = raw.replace(b"---\n", b"---\n:\n", 1)
    try:
        post = read_post("fuzz.md", raw, CONFIG)
    except PostError as error:
        assert error.source == "fuzz.md" and error.message
        return
    assert executable_markup(post.html) == []
    for disclosure_ in post.disclosures:
        assert executable_markup(disclosure_.html) == []
    if disclosure:
        assert any(d.text == f"⚕️ Medical disclosure: {disclosure}." for d in post.disclosures)
        assert f"<strong>Medical disclosure:</strong> {disclosure}." in post.html
    for output in render_feed_sets(
        feed_sets([post.header], CONFIG), {post.identity: post}, CONFIG, stylesheet(CONFIG)
    ):
        if output.path.endswith(".json"):
            item = json.loads(output.data)["items"][0]
            assert executable_markup(item.get("content_html", "")) == []
        else:
            etree.fromstring(output.data)
    email = render_email((post,), (), CONFIG, TEMPLATES)
    etree.fromstring(email.files["email.html"], etree.HTMLParser())
    assert executable_markup(email.files["email.html"].decode(), allow_style=True) == []
    if disclosure:
        assert f"⚕️ Medical disclosure: {disclosure}." in email.files["email.txt"].decode()


simple_pair = st.builds(
    lambda k, v: f'{k}: "{v}"',
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True),
    st.text(
        alphabet=st.characters(
            codec="utf-8", exclude_categories=("Cs",), exclude_characters='"\\\n\r'
        ),
        max_size=20,
    ),
)
quick_lines = st.lists(
    st.one_of(
        simple_pair,
        simple_pair,
        simple_pair,
        st.builds(
            lambda k, v: f'{k}: "{v}"',
            st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True),
            nasty_text,
        ),
        st.builds(lambda k: f"{k}:", st.from_regex(r"[A-Za-z_][a-z]{0,5}", fullmatch=True)),
        st.builds(lambda v: f'  - "{v}"', nasty_text),
        st.sampled_from(
            [
                "",
                'yes: "x"',
                "on:",
                '- "top"',
                "key: plain",
                'k: "a" # c',
                "k: 'single'",
                'k: "esc\\"aped"',
                'k: &a "x"',
                "  - plain",
                '\t- "tab"',
                'k:  "two spaces"',
            ]
        ),
    ),
    max_size=10,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(lines=quick_lines)
def test_the_quick_front_matter_reader_agrees_with_yaml(lines: list[str]) -> None:
    from pipeline.core.posts.front_matter import _quick_yaml, _TextDatesLoader, clean_text

    # As split_front_matter gives it: XML-illegal characters already removed.
    text = clean_text("\n" + "\n".join(line.replace("\n", " ") for line in lines) + "\n")
    quick = _quick_yaml(text)
    if quick is None:
        return  # YAML reads it: nothing to compare
    assert quick == yaml.load(text, Loader=_TextDatesLoader)  # noqa: S506 (the safe loader)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    url=st.from_regex(PLAIN_URL, fullmatch=True),
    site_url=st.sampled_from(["https://blog.example/", "http://blog.example/x/"]),
)
def test_a_plain_url_skips_only_steps_that_would_not_change_it(url: str, site_url: str) -> None:
    assert _checked_url("a.md", urljoin(site_url, url)) == url


shortcode_bits = st.sampled_from(
    ["[", "]", "[/", "=", "{", "{{", "{%", "caption", "embed", "video", "\n", " ", "-", "_"]
    + ["\u00a0", "\u2003", "\x1c", "\x85", "é", "ß", "٣", "😀", "a", "Z", "x=1"]
    + ["{filename}", "|static|", "|", "}", "\nhttps://", "\n   http://", "\n\thttps:/"]
) | st.tuples(  # a shortcode's shape, with Unicode letters and spaces where \w and \s go
    st.sampled_from(["[", "[/"]),
    st.sampled_from(["a", "caption", "embedé", "é", "x_y-z", "Ab٣", "9"]),
    st.sampled_from([" ", "\u00a0", "\u2003", "\u3000", "\x1c", "\x85", "", "\n", "é"]),
    st.sampled_from(["x=1", "=", "]", "y", "é=é", "\n="]),
    st.sampled_from(["]", "", "]]"]),
).map("".join)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(body=st.lists(shortcode_bits | nasty_text, max_size=12).map("".join), head=nasty_text)
def test_the_bytes_search_for_template_syntax_agrees_with_the_texts(body: str, head: str) -> None:
    """Reading a header searches the file's bytes for template syntax (faster for a
    text with an emoji); it must say what the text's search says, Unicode letters
    and spaces included."""
    from pipeline.core.posts.templating.quick import has_template_syntax, may_leave_tags

    raw, start = head.encode() + body.encode(), len(head.encode())
    leaves = may_leave_tags(body)
    assert may_leave_tags(body, raw, start) == leaves
    assert has_template_syntax(body, leaves, raw, start) == has_template_syntax(body)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    body=st.lists(shortcode_bits | nasty_text, max_size=8).map("".join),
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_a_header_read_from_the_bytes_is_the_header_read_from_the_text(
    body: str, bom: bool, newline: str
) -> None:
    """Where the body starts in the file's bytes (after a BOM, a front matter with
    an emoji, or none when newlines were unified): the header read is the same."""
    from pipeline.core.posts import read

    text = f'---\ntitle: "Café ☕ {len(body)}"\ndate: 2026-05-01\n---\n{body}'
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.replace("\n", newline).encode()
    try:
        meta, text_body, first_line = read._split("p.md", raw)
        expected = read._header("p.md", meta, raw, CONFIG, text_body, first_line)
    except PostError as error:
        expected = error
    try:
        got = read.read_header("p.md", raw, CONFIG)
    except PostError as error:
        got = error
    if isinstance(expected, PostError):
        assert isinstance(got, PostError)
        assert (got.message, got.line) == (expected.message, expected.line)
    else:
        assert got == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    data=st.lists(
        st.sampled_from([b"\xef", b"\xbf", b"\xef\xbf", b"\xef\xb8\x8f", b"a", b"\n"])
    ).map(b"".join)
)
def test_looking_for_two_bytes_by_the_first_finds_what_in_finds(data: bytes) -> None:
    from pipeline.core.posts.front_matter import holds_pair

    assert holds_pair(data, b"\xef\xbf") == (b"\xef\xbf" in data)


nesting_bits = st.sampled_from(
    ["> ", ">", "- ", "* ", "+ ", "1. ", "22) ", "-", " ", "\t", "\n", "a"]
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(lines=st.lists(nesting_bits, max_size=120).map("".join), depth=st.integers(19, 23))
def test_the_quick_look_for_deep_nesting_finds_what_the_cut_would_cut(
    lines: str, depth: int
) -> None:
    """parse_blocks cuts quote and list prefixes deeper than markdown-it follows only
    where the quicker look says there are any: they agree on every text."""
    text = lines + "\n" + "> " * depth + "x" if depth % 2 else "- " * depth + lines
    found = bool(markup._DEEP_FIRST_LINE.match(text) or markup._DEEP_LATER_LINE.search(text))
    assert found == (markup._DEEP_PREFIX.sub(r"\1", text) != text)
