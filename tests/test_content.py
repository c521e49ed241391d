"""content.read_post: pure, from bytes and a Config to a Post (or a PostError)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.core.errors import PostError
from pipeline.core.posts.read import make_excerpt, read_post
from tests.conftest import make_config, post_text

CONFIG = make_config()


def read(body: str = "Some body text.", name: str = "post.md", config=CONFIG, **front):  # type: ignore[no-untyped-def]
    return read_post(name, post_text(body, **front).encode(), config)


# --- identity and URL -------------------------------------------------------


def test_identity_prefers_id_then_url_then_slug_then_path() -> None:
    assert read(id=7, url="https://blog.example/x/", slug="s").identity == "7"
    assert read(url="https://blog.example/x/", slug="s").identity == "https://blog.example/x/"
    assert read(slug="s").identity == "s"
    assert read(name="notes/2024-01-05-hello.md").identity == "notes/2024-01-05-hello.md"


def test_url_from_front_matter_or_permalink_pattern() -> None:
    assert read(url="/about-sleep/").url == "https://blog.example/about-sleep/"
    assert read(name="2024-01-05-hello-world.md").url == "https://blog.example/hello-world/"
    dated = make_config(site={"permalink": "{site_url}{year}/{month}/{slug}/"})
    assert read(slug="x", config=dated).url == "https://blog.example/2026/05/x/"


def test_entry_id_is_wordpress_form_for_numeric_ids_and_stable_otherwise() -> None:
    post = read(id="369", url="https://blog.example/one/")
    assert post.entry_id == "https://blog.example/?p=369"
    moved = read(id="369", url="https://blog.example/renamed/", slug="renamed")
    assert moved.entry_id == post.entry_id
    by_slug = read(slug="hello")
    assert by_slug.entry_id.startswith("urn:uuid:")
    assert read(slug="hello", title="Edited title").entry_id == by_slug.entry_id
    custom = make_config(feed={"entry_id": "tag:blog.example,2026:{identity}"})
    assert read(slug="hello", config=custom).entry_id == "tag:blog.example,2026:hello"


# --- dates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-19T15:50:46+00:00", datetime(2026, 5, 19, 15, 50, 46, tzinfo=UTC)),
        ("2026-05-19T15:50:46Z", datetime(2026, 5, 19, 15, 50, 46, tzinfo=UTC)),
        ("2026-05-19 15:50:46 +0200", datetime(2026, 5, 19, 13, 50, 46, tzinfo=UTC)),
        ("2026-05-19 15:50", datetime(2026, 5, 19, 15, 50, tzinfo=UTC)),
        ("2026-05-19", datetime(2026, 5, 19, tzinfo=UTC)),
    ],
)
def test_date_forms(value: str, expected: datetime) -> None:
    assert read(date=value).published == expected


def test_yaml_dates_and_naive_times_use_site_timezone() -> None:
    london = make_config(site={"timezone": "Europe/London"})
    text = "---\ntitle: T\ndate: 2026-07-01 09:00:00\n---\nBody.\n"
    post = read_post("p.md", text.encode(), london)
    assert post.published.utcoffset() == timedelta(hours=1)  # BST
    text = "---\ntitle: T\ndate: 2026-01-01\n---\nBody.\n"
    assert read_post("p.md", text.encode(), london).published == datetime(2026, 1, 1, tzinfo=UTC)


def test_modified_aliases_and_default() -> None:
    assert read(date="2026-05-01", lastmod="2026-05-03").modified.day == 3
    assert read(date="2026-05-01", updated="2026-05-04").modified.day == 4
    plain = read(date="2026-05-01T10:00:00+00:00")
    assert plain.modified == plain.published


def test_modified_before_published_is_a_warning() -> None:
    post = read(published_at="2026-05-10T00:00:00+00:00", modified_at="2026-05-01T00:00:00+00:00")
    assert post.modified == post.published
    [warning] = post.header.warnings
    assert warning.kind == "modified-before-published" and warning.key == "modified_at"
    assert "before the publication date" in warning.message


def test_date_from_jekyll_file_name() -> None:
    text = "---\ntitle: T\n---\nBody.\n"
    post = read_post("_posts/2024-03-09-hello.md", text.encode(), CONFIG)
    assert post.published == datetime(2024, 3, 9, tzinfo=UTC)
    assert post.url == "https://blog.example/hello/"


def test_jekyll_offset_form_keeps_its_offset() -> None:
    post = read(date="2026-05-19 15:50:46 +0530")
    assert post.published.utcoffset() == timedelta(hours=5, minutes=30)
    assert post.published.tzinfo == timezone(timedelta(hours=5, minutes=30))


# --- unpublished states -----------------------------------------------------


@pytest.mark.parametrize(
    "front",
    [
        {"status": "draft"},
        {"status": "private"},
        {"status": "future"},
        {"draft": True},
        {"type": "page"},
    ],
)
def test_unpublished(front: dict[str, object]) -> None:
    assert read(**front).draft


@pytest.mark.parametrize(
    "front", [{"status": "publish"}, {"status": "published"}, {"draft": False}, {}]
)
def test_published(front: dict[str, object]) -> None:
    assert not read(**front).draft


# --- body -------------------------------------------------------------------


def test_relative_links_and_images_become_absolute() -> None:
    post = read(
        "See [the other post](../other/) and [top](/top/) and [here](#notes).\n\n![A cat](cat.jpg)",
        url="https://blog.example/2026/post/",
    )
    assert 'href="https://blog.example/2026/other/"' in post.html
    assert 'href="https://blog.example/top/"' in post.html
    assert 'href="https://blog.example/2026/post/#notes"' in post.html
    assert 'src="https://blog.example/2026/post/cat.jpg"' in post.html


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>Text",
        '<iframe src="https://evil.example/"></iframe>Text',
        '<object data="x.swf"></object>Text',
        '<p onclick="alert(1)">Text</p>',
        '<img src="x.png" onerror="alert(1)" alt="Text">',
        "[Text](javascript:alert(1))",
        '<a href="javascript:alert(1)">Text</a>',
        '<a href="JaVaScRiPt:alert(1)">Text</a>',
        "<style>body{display:none}</style>Text",
        '<link rel="stylesheet" href="https://evil.example/x.css">Text',
    ],
)
def test_executable_markup_removed(body: str) -> None:
    html = read(body).html.lower()
    tags = " ".join(re.findall(r"<[^>]*>", html))
    for bad in (
        "<script",
        "<iframe",
        "<object",
        "onclick",
        "onerror",
        "javascript:",
        "<style",
        "<link",
    ):
        assert bad not in tags
    assert "text" in html
    if "<script" in body or "<style" in body:
        assert "alert" not in html and "display" not in html  # content dropped too


def test_xml_illegal_characters_removed() -> None:
    post = read("Bell\x07 and form\x0cfeed and \ufffe.", title="Ti\x01tle")
    assert post.title == "Title"
    assert "\x07" not in post.html and "\x0c" not in post.html and "\ufffe" not in post.html


def test_crlf_and_bom_are_fine() -> None:
    raw = "\ufeff---\r\ntitle: T\r\ndate: 2026-01-01\r\n---\r\nLine one.\r\n".encode()
    post = read_post("p.md", raw, CONFIG)
    assert post.title == "T" and "Line one." in post.html


# --- excerpt ----------------------------------------------------------------


def test_front_matter_excerpt_kept_exactly() -> None:
    excerpt = "A few months ago — as one does at 11pm — I came across…"
    assert read(excerpt=excerpt).excerpt == excerpt
    assert read(summary="Hugo's summary.").excerpt == "Hugo's summary."


def test_excerpt_made_from_first_paragraphs_skipping_disclosures() -> None:
    body = (
        "⚕️ **Medical disclosure:** Not advice.\n\n"
        + " ".join(["word"] * 40)
        + "\n\n## Heading\n\n"
        + " ".join(["more"] * 100)
    )
    excerpt = read(body).excerpt
    assert "disclosure" not in excerpt.lower() and "Heading" not in excerpt
    assert excerpt.endswith("…") and len(excerpt) <= 301
    assert excerpt.startswith("word word")
    assert not excerpt[:-1].endswith(" ")


def test_excerpt_of_a_short_body_is_not_cut() -> None:
    assert read("Just one line.").excerpt == "Just one line."


def test_make_excerpt_cuts_at_a_word_boundary() -> None:
    assert make_excerpt(["alpha beta gamma delta"], 12) == "alpha beta…"
    assert make_excerpt(["alpha beta", "gamma"], 100) == "alpha beta gamma"
    assert make_excerpt(["abcdefghijklmnop"], 5) == "abcde…"


# --- disclosures and affiliate links ----------------------------------------


def test_disclosures_found_verbatim_with_emoji_label_and_links() -> None:
    body = (
        "Intro paragraph.\n\n"
        "⚕️ **Medical disclosure:** Talk to [your doctor](https://nhs.example/).\n\n"
        "**Disclaimer:** Opinions are mine.\n\n"
        "Some **bold disclosure** in the middle of a sentence is not one."
    )
    post = read(body)
    assert [d.label for d in post.disclosures] == ["Medical disclosure:", "Disclaimer:"]
    medical = post.disclosures[0]
    assert medical.kind == "medical"
    assert medical.text == "⚕️ Medical disclosure: Talk to your doctor (https://nhs.example/)."
    assert medical.html == (
        "⚕️ <strong>Medical disclosure:</strong> Talk to "
        '<a href="https://nhs.example/">your doctor</a>.'
    )


def test_affiliate_links_get_rel_sponsored() -> None:
    body = (
        "🔗 **Affiliate disclosure:** I may earn a commission.\n\n"
        "Buy [oats](https://amzn.to/abc), [a book](https://www.amazon.co.uk/dp/1?tag=me-21), "
        "[an ebook](https://www.checkout-ds24.com/redir/1/), "
        "but [Amazon without a tag](https://www.amazon.com/dp/2) and [a shop](https://shop.example/)."
    )
    post = read(body)
    assert post.html.count('rel="sponsored"') == 3
    assert '<a href="https://www.amazon.com/dp/2">' in post.html
    assert post.affiliate_links == (
        "https://amzn.to/abc",
        "https://www.amazon.co.uk/dp/1?tag=me-21",
        "https://www.checkout-ds24.com/redir/1/",
    )
    assert not post.warnings and not post.header.warnings


def test_affiliate_disclosure_moved_before_the_first_affiliate_link() -> None:
    body = (
        "Get [oats](https://amzn.to/abc).\n\n"
        "🔗 **Affiliate disclosure:** I may earn a commission from links here."
    )
    html = read(body).html
    assert html.index("Affiliate disclosure:") < html.index("https://amzn.to/abc")
    assert html.count("Affiliate disclosure:") == 1


def test_missing_affiliate_disclosure_gets_the_site_default_and_a_warning() -> None:
    post = read("Get [oats](https://amzn.to/abc).")
    assert post.disclosures[-1].origin == "site default"
    assert post.disclosures[-1].kind == "affiliate"
    assert post.html.index("Affiliate disclosure:") < post.html.index("https://amzn.to/abc")
    [warning] = post.warnings
    assert warning.kind == "undisclosed-affiliate"
    assert "no affiliate disclosure" in warning.message


def test_front_matter_disclosures_lead_the_content() -> None:
    post = read(
        "Get [oats](https://amzn.to/abc).",
        disclosures=["🔗 **Affiliate disclosure:** Links may earn me a commission."],
    )
    assert post.disclosures[0].origin == "front matter"
    assert post.html.startswith("<p>🔗 <strong>Affiliate disclosure:</strong>")
    assert not post.warnings and not post.header.warnings


# --- theme chrome -----------------------------------------------------------

CHROME_BODY = """\
[Sleep](https://blog.example/category/sleep/)
, [Wellness](https://blog.example/category/wellness/)

# The Title

marina

May 19, 2026

The real first paragraph.

### A real heading

Real prose, ending.

Tagged: [food](https://blog.example/tag/food/)
, [sleep](https://blog.example/tag/sleep/)

Written by

### Marina

A one-line bio.

### You might also like

- [Another](https://blog.example/another/)

### Leave a Reply [Cancel reply](/the-title/#respond)
"""


def test_chrome_removed_and_author_taken_from_it() -> None:
    post = read(CHROME_BODY, title="The Title", date="2026-05-19T15:50:46+00:00")
    assert post.html.startswith("<p>The real first paragraph.</p>")
    assert post.html.rstrip().endswith("<p>Real prose, ending.</p>")
    for chrome in (
        "category/sleep",
        "The Title",
        "marina",
        "May 19",
        "Tagged",
        "Leave a Reply",
        "bio",
    ):
        assert chrome not in post.html
    assert post.author == "Marina"


def test_chrome_rules_never_eat_prose() -> None:
    body = CHROME_BODY.replace("# The Title", "# A Different Heading")
    post = read(body, title="The Title", date="2026-05-19T15:50:46+00:00")
    assert "A Different Heading" in post.html and "marina" in post.html  # not the title: kept
    # a footer marker followed by real prose is not a footer
    body = "Intro.\n\n### You might also like\n\nThis sentence is real prose, not a list.\n"
    assert "real prose" in read(body).html and "You might also like" in read(body).html
    # a date line that is not the post's date stays
    body = "# The Title\n\nmarina\n\nJanuary 3, 2020\n\nText."
    html = read(body, title="The Title", date="2026-05-19").html
    assert "January 3, 2020" in html and "marina" in html


# --- rejections -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message", "line"),
    [
        (b"Just text, no front matter.\n", "no front matter", 1),
        (b"---\ntitle: [unclosed\ndate: 2026-01-01\n---\nBody\n", "not valid YAML", 3),
        (b"---\n- a\n- b\n---\nBody\n", "not a set of 'key: value' lines", 2),
        (b"---\ndate: 2026-01-01\n---\nBody\n", "has no title", None),
        (b"---\ntitle: T\n---\nBody\n", "no publication date", None),
        (
            b"---\ntitle: T\ndate: 2026-02-31\n---\nBody\n",
            "'date' '2026-02-31' is not a real date",
            None,
        ),
        (b"---\ntitle: T\ndate: yesterday\n---\nBody\n", "not a date", None),
        (b"---\ntitle: T\ndate: 2026-01-01\n---\n\xff\xfe bad bytes\n", "not UTF-8", None),
        (b"---\ntitle: T\ndate: 2026-01-01\ntags: {a: 1}\n---\nB\n", "'tags' must be a list", None),
    ],
)
def test_bad_posts_are_rejected_with_file_reason_and_hint(
    raw: bytes, message: str, line: int | None
) -> None:
    with pytest.raises(PostError) as caught:
        read_post("drafts/bad.md", raw, CONFIG)
    error = caught.value
    assert error.source == "drafts/bad.md"
    assert message in error.message
    assert error.hint
    if line is not None:
        assert error.line == line
    assert str(error).startswith("drafts/bad.md")


def test_tags_as_a_single_string_and_categories_from_other_tools() -> None:
    post = read(tags="sleep, food", categories=["Wellness"])
    assert post.tags == ("sleep", "food")
    assert post.categories == ("Wellness",)


# --- posts from other tools -------------------------------------------------


def test_jekyll_post() -> None:
    raw = (
        '---\nlayout: post\ntitle: "Welcome to Jekyll!"\ndate: 2026-05-19 15:50:46 +0200\n'
        "categories: [jekyll, update]\ntags: [intro]\n---\nYou’ll find this post in `_posts`.\n"
    )
    post = read_post("_posts/2026-05-19-welcome-to-jekyll.markdown", raw.encode(), CONFIG)
    assert post.published == datetime(2026, 5, 19, 13, 50, 46, tzinfo=UTC)
    assert post.categories == ("jekyll", "update") and post.tags == ("intro",)
    assert post.url == "https://blog.example/welcome-to-jekyll/"
    assert not post.draft


def test_hugo_toml_post() -> None:
    raw = (
        '+++\ntitle = "Hugo post"\ndate = 2026-05-01T10:00:00+02:00\nlastmod = 2026-05-02\n'
        'tags = ["a", "b"]\ncategories = ["c"]\nsummary = "Short."\ndraft = true\n+++\nBody.\n'
    )
    post = read_post("posts/hugo-post.md", raw.encode(), CONFIG)
    assert post.title == "Hugo post" and post.draft and post.excerpt == "Short."
    assert post.published == datetime(2026, 5, 1, 8, tzinfo=UTC)
    assert post.modified == datetime(2026, 5, 2, tzinfo=UTC)
    assert post.tags == ("a", "b") and post.categories == ("c",)


def test_hugo_yaml_post_with_description() -> None:
    post = read(description="Meta description.", lastmod="2026-05-09", draft=False)
    assert post.excerpt == "Meta description." and post.modified.day == 9 and not post.draft


def test_pelican_native_header() -> None:
    raw = (
        "Title: My super title\nDate: 2026-05-01 10:20\nModified: 2026-05-03 19:30\n"
        "Category: Python\nTags: pelican, publishing\nSlug: my-super-post\n"
        "Authors: Alexis Metaireau\nSummary: Short version for index and feeds\n\n"
        "This is the content of my super blog post.\n"
    )
    post = read_post("my-super-post.md", raw.encode(), CONFIG)
    assert post.title == "My super title" and post.identity == "my-super-post"
    assert post.modified == datetime(2026, 5, 3, 19, 30, tzinfo=UTC)
    assert post.categories == ("Python",) and post.tags == ("pelican", "publishing")
    assert post.author == "Alexis Metaireau" and post.excerpt == "Short version for index and feeds"
    assert post.html == "<p>This is the content of my super blog post.</p>\n"
    hidden = raw.replace("Slug:", "Status: draft\nSlug:")
    assert read_post("my-super-post.md", hidden.encode(), CONFIG).draft


def test_broken_toml_front_matter_is_reported() -> None:
    with pytest.raises(PostError, match="front matter cannot be read"):
        read_post("x.md", b'+++\ntitle = "unclosed\n+++\nBody\n', CONFIG)
