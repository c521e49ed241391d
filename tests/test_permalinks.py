"""Permalinks as the old site made them: Jekyll's styles and placeholders, Hugo's
placeholders, and a post's own `permalink:`, so links and feed ids carry over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.posts.permalinks import Facts, expand, hugo_urlize, jekyll_slug
from pipeline.core.posts.read import read_header
from tests.conftest import make_config, post_text

SITE = "https://blog.example/blog/"
WHEN = datetime(2024, 3, 5, 23, 30, tzinfo=UTC)
FACTS = Facts("My-Post_v2", False, "Hello, World: Again!", WHEN, ("Release Notes", "Ruby"), "")


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("date", "https://blog.example/blog/release-notes/ruby/2024/03/05/My-Post-v2.html"),
        ("pretty", "https://blog.example/blog/release-notes/ruby/2024/03/05/My-Post-v2/"),
        ("ordinal", "https://blog.example/blog/release-notes/ruby/2024/065/My-Post-v2.html"),
        ("none", "https://blog.example/blog/release-notes/ruby/My-Post-v2.html"),
        ("weekdate", "https://blog.example/blog/release-notes/ruby/2024/W10/Tue/My-Post-v2.html"),
        (
            "/:year/:i_month/:i_day/:short_year/:slug:output_ext",
            "https://blog.example/blog/2024/3/5/24/my-post-v2.html",
        ),
        ("/:title/", "https://blog.example/blog/My-Post-v2/"),
        ("{site_url}{year}/{slug}/", "https://blog.example/blog/2024/My-Post_v2/"),
    ],
)
def test_jekyll_styles_and_placeholders(pattern: str, url: str) -> None:
    assert expand(pattern, "", SITE, FACTS, None) == url


def test_jekyll_dates_are_the_site_time_zone_s() -> None:
    east = timezone(timedelta(hours=2))
    assert "/2024/03/06/" in expand("pretty", "", SITE, FACTS, east)
    # our own {year} pattern keeps the date as written: no existing post's URL moves
    assert expand("{site_url}{day}/", "", SITE, FACTS, east).endswith("/05/")


def test_jekyll_slugify_modes() -> None:
    assert jekyll_slug("The _config.yml file") == "the-config-yml-file"
    assert jekyll_slug("The _config.yml file", pretty=True, cased=True) == "The-config.yml-file"
    assert jekyll_slug("Crème brûlée!") == "crème-brûlée"


@pytest.mark.parametrize(
    ("source", "slug", "pattern", "url"),
    [
        (
            "posts/a.md",
            "",
            "/:section/:year/:month/:day/:title/",
            "/posts/2024/03/05/hello-world-again/",
        ),
        ("posts/a.md", "", "/:slug/", "/hello-world-again/"),
        ("posts/a.md", "given", "/:slug/", "/given/"),
        ("posts/trip/index.md", "", "/:filename/", "/trip/"),
        ("posts/b.md", "", "/:year/:contentbasename/", "/2024/b/"),
        ("posts/b.md", "", "/:sections/:slugorfilename/", "/posts/b/"),
    ],
)
def test_hugo_placeholders(source: str, slug: str, pattern: str, url: str) -> None:
    facts = Facts(slug or "file", bool(slug), FACTS.title, WHEN, (), source)
    assert expand(pattern, "hugo", SITE, facts, None) == "https://blog.example/blog" + url


def test_hugo_urlize() -> None:
    assert hugo_urlize("Hugo: A Fast and Flexible Static Site Generator") == (
        "hugo-a-fast-and-flexible-static-site-generator"
    )


def test_a_hugo_only_placeholder_chooses_hugo_s_meanings() -> None:
    facts = Facts("file-slug", False, "The Title", WHEN, (), "posts/x.md")
    assert expand("/:section/:title/", "", SITE, facts, None).endswith("/posts/the-title/")
    assert expand("/:title/", "", SITE, facts, None).endswith("/file-slug/")  # Jekyll's


def test_a_post_s_own_permalink_wins_with_or_without_placeholders() -> None:
    config = make_config(site={"permalink": "date"})
    text = post_text(
        title="T", date="2024-03-05T10:00:00+00:00", permalink="/special/:year/:title/"
    )
    header = read_header("2024-03-05-my-post.md", text.encode(), config)
    assert header.url == "https://blog.example/special/2024/my-post/"
    plain = post_text(title="T", date="2024-03-05T10:00:00+00:00", permalink="/about-me/")
    assert read_header("x.md", plain.encode(), config).url == "https://blog.example/about-me/"
    header = read_header("2024-03-05-my-post.md", post_text(title="T").encode(), config)
    assert header.url == "https://blog.example/2026/05/01/my-post.html"


def test_a_page_bundle_s_slug_is_its_folder() -> None:
    header = read_header("posts/trip/index.md", post_text(title="T").encode(), make_config())
    assert header.url == "https://blog.example/trip/"


def test_an_unknown_placeholder_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown placeholder :titel"):
        make_config(site={"permalink": "/:year/:titel/"})
    with pytest.raises(ConfigError, match=r"unknown placeholder :categories"):
        make_config(site={"permalink": "/:categories/:title/", "permalink_style": "hugo"})
