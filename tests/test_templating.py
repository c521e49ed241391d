"""The template syntax of Jekyll, Hugo, Pelican and WordPress posts, resolved as those
tools rendered it: outside code only, never reaching a reader as literal text, and
reported (file, line, tag) whenever it cannot be resolved."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from pipeline.core.feeds import render_feed_sets
from pipeline.core.feedsets import feed_sets
from pipeline.core.model import Enclosure, Post
from pipeline.core.posts.markup import sanitize
from pipeline.core.posts.read import read_post
from pipeline.core.posts.templating.lookup import KnownPosts, Recorder, still_true
from pipeline.core.posts.templating.resolve import Place, Resolved, resolve
from tests.conftest import make_config

ARCHIVES = Path(__file__).parent / "archives"
SITE = "https://blog.example/"
POSTS = KnownPosts.of(
    [
        ("2024-01-01-first.md", "https://blog.example/first/"),
        ("posts/second.md", "https://blog.example/second/"),
        ("posts/bundle/index.md", "https://blog.example/bundle/"),
        ("other/second.md", "https://blog.example/other-second/"),
    ],
    pages={"about.md": "https://blog.example/about/"},
    includes={
        "note.html": "<p>A plain note.</p>\n",
        "card.md": "**Card** in Markdown\n",
        "loop.html": "{% for x in site.posts %}{{ x }}{% endfor %}",
    },
)


def resolved(body: str, page: dict[str, object] | None = None, first_line: int = 1) -> Resolved:
    place = Place(
        "posts/me.md", "https://blog.example/me/", SITE, page or {}, first_line, "Test Blog"
    )
    return resolve(body, place, POSTS)


def text(body: str, **page: object) -> str:
    result = resolved(body, page)
    assert not result.left, result.left
    return result.markdown


# Jekyll


def test_raw_keeps_its_inside_literally_even_when_it_looks_like_liquid() -> None:
    out = text("A {% raw %}{{ page.title }} and {% if x %}{% endraw %} B")
    assert out == "A {{ page.title }} and {% if x %} B"
    assert text("{%- raw -%}{{ x }}{%- endraw -%}") == "{{ x }}"


def test_an_unclosed_raw_is_reported_with_its_line() -> None:
    result = resolved("one\n\ntwo {% raw %}{{ x }}", first_line=5)
    assert [(p.line, p.tag) for p in result.left] == [(7, "{% raw %}"), (7, "{{ x }}")]
    assert "never closed" in result.left[0].message
    assert "{%" not in result.markdown and "{{" not in result.markdown


def test_highlight_becomes_a_fenced_code_block_with_its_language() -> None:
    body = "{% highlight ruby linenos %}\nputs '```'\n{% endhighlight %}\n\nafter"
    out = text(body)
    assert out == "````ruby\nputs '```'\n````\n\nafter"
    assert out.count("\n") == body.count("\n"), "lines keep their numbers"
    html = sanitize(
        read_post(
            "p.md", f"---\ntitle: T\ndate: 2024-01-01\n---\n{body}".encode(), make_config()
        ).html,
        SITE,
    )
    assert '<code class="language-ruby">' in html and "linenos" not in html


def test_site_page_and_url_filters() -> None:
    config_page = {"title": "Me & You", "tags": ["a", "b"]}
    out = text(
        "{{ page.title }} / {{ page.tags }} / {{ site.title }} / {{ site.url }}{{ site.baseurl }}"
        " / {{ \"/a.css\" | relative_url }} / {{ '/b' | absolute_url }} / {{ page.url }}",
        **config_page,
    )
    assert out == (
        "Me &amp; You / a, b / Test Blog / https://blog.example / /a.css / "
        "https://blog.example/b / /me/"
    )


def test_site_url_and_baseurl_split_a_site_under_a_path() -> None:
    place = Place("p.md", "https://ex.example/blog/p/", "https://ex.example/blog/", {})
    out = resolve('{{ site.url }}|{{ site.baseurl }}|{{ "x" | relative_url }}', place, POSTS)
    assert out.markdown == "https://ex.example|/blog|/blog/x"


def test_link_and_post_url_give_the_target_post_or_page_url() -> None:
    out = text(
        "[a]({% post_url 2024-01-01-first %}) [b]({% link posts/second.md %}) "
        "[c]({% link about.md %}) [d]({% post_url /posts/second %})"
    )
    assert out == (
        "[a](https://blog.example/first/) [b](https://blog.example/second/) "
        "[c](https://blog.example/about/) [d](https://blog.example/second/)"
    )


def test_an_unknown_link_target_is_reported_not_left_as_text() -> None:
    result = resolved("x\n[gone]({% post_url 2020-01-01-gone %}) [g]({% link nope.md %})")
    assert [(p.line, p.tag) for p in result.unresolved] == [
        (2, "{% post_url 2020-01-01-gone %}"),
        (2, "{% link nope.md %}"),
    ]
    assert "{%" not in result.markdown and not result.left


def test_plain_includes_are_inserted_and_programmable_ones_reported() -> None:
    assert text("{% include note.html %}") == "<p>A plain note.</p>"
    assert text("{% include card.md %}") == "**Card** in Markdown"
    for tag, why in (
        ("{% include loop.html %}", "holds Liquid"),
        ('{% include note.html title="x" %}', "parameters"),
        ("{% include missing.html %}", "not in the includes folder"),
        ("{% include ../../etc/passwd %}", "not in the includes folder"),
    ):
        [problem] = resolved(tag).left
        assert why in problem.message, tag


def test_comment_is_removed_and_other_liquid_is_reported() -> None:
    assert text("a{% comment %} private {{ x }} {% endcomment %}b") == "ab"
    result = resolved("{% if site.x %}shown{% endif %} {{ site.posts | size }} {{ post.title }}")
    assert [p.tag for p in result.left] == [
        "{% if site.x %}",
        "{% endif %}",
        "{{ site.posts | size }}",
        "{{ post.title }}",
    ]
    assert result.markdown == "shown  "


def test_nothing_inside_code_is_resolved_but_the_escapes() -> None:
    body = (
        "```liquid\n{% raw %}{{ page.title }}{% endraw %} {% post_url x %} {{< ref a >}}\n```\n\n"
        "Inline `{{ page.title }}` and `` {% include x %} `` and <code>{{ y }}</code>.\n\n"
        "    {% if indented %}\n"
    )
    result = resolved(body)
    assert not result.left and not result.unresolved
    assert result.markdown == body.replace("{% raw %}", "").replace("{% endraw %}", "")


# Hugo


def test_ref_and_relref_find_posts_by_path_name_or_bundle() -> None:
    out = text(
        '{{< ref "second" >}} {{< relref "/posts/second.md#part" >}} {{< ref "bundle" >}} '
        '{{< ref "2024-01-01-first.md" >}} {{< ref "#here" >}}'
    )
    assert out == (
        "https://blog.example/second/ https://blog.example/second/#part "
        "https://blog.example/bundle/ https://blog.example/first/ https://blog.example/me/#here"
    )
    assert resolved('{{< ref "missing" >}}').unresolved[0].tag == '{{< ref "missing" >}}'


def test_figure_is_a_figure_with_its_image_link_and_caption() -> None:
    out = text(
        '{{< figure src="a.png" alt="An \\"A\\"" title="T" caption="Big *A*" link="/big.png" '
        'width="300" >}}\nNext.'
    )
    assert out == (
        '<figure><a href="/big.png"><img src="a.png" alt="An &quot;A&quot;" width="300"></a>'
        "<figcaption><strong>T</strong> Big <em>A</em></figcaption></figure>\n\nNext."
    )


def test_embeds_are_links_never_iframes() -> None:
    out = text(
        '{{< youtube w7Ft2ymGmfc >}} {{< youtube id="w7Ft2ymGmfc" title="Talk" >}} '
        "{{< vimeo 146022717 >}} {{< gist spf13 7896402 >}} {{< tweet 877500564405444608 >}}"
    )
    assert "iframe" not in out
    assert 'href="https://www.youtube.com/watch?v=w7Ft2ymGmfc">Watch the video on YouTube' in out
    assert ">Talk</a>" in out and 'href="https://vimeo.com/146022717"' in out
    assert 'href="https://gist.github.com/spf13/7896402"' in out
    assert 'href="https://twitter.com/i/web/status/877500564405444608"' in out


def test_hugo_highlight_and_the_escape_shown_literally() -> None:
    assert text('{{< highlight go "linenos=table" >}}\nfmt.Println()\n{{< /highlight >}}') == (
        "```go\nfmt.Println()\n```"
    )
    assert text('Show {{</* figure src="x" */>}} and {{%/* note */%}}') == (
        'Show {{< figure src="x" >}} and {{% note %}}'
    )
    assert text('```\n{{</* ref "x" */>}}\n```') == '```\n{{< ref "x" >}}\n```'


def test_a_shortcode_inside_a_fence_is_code_and_inside_link_text_is_resolved() -> None:
    fence = '```html\n{{< figure src="x.png" >}}\n```'
    assert text(fence) == fence
    assert text('[read {{< ref "second" >}} now](https://x.example/)') == (
        "[read https://blog.example/second/ now](https://x.example/)"
    )


def test_unknown_and_malformed_shortcodes_are_reported() -> None:
    result = resolved(
        '{{< details summary="More" >}}body{{< /details >}}\n{{< highlight go >}}\nno end\n'
        "{{% param x %}} {{< figure >}}"
    )
    assert [(p.line, p.tag) for p in result.left] == [
        (1, '{{< details summary="More" >}}'),
        (1, "{{< /details >}}"),
        (2, "{{< highlight go >}}"),
        (4, "{{% param x %}}"),
        (4, "{{< figure >}}"),
    ]
    assert "{{" not in result.markdown


# Pelican


def test_pelican_links_resolve_against_the_post_folder_and_the_root() -> None:
    out = text(
        "[a]({filename}second.md) [b]({filename}/posts/second.md#x) [c]({static}/img/a.png) "
        "[d]({tag}Static-Sites) [e]({category}python) [f]({author}grace) [g]({index}) "
        "[h](|filename|second.md)"
    )
    assert out == (
        "[a](https://blog.example/second/) [b](https://blog.example/second/#x) "
        "[c](https://blog.example/img/a.png) [d](https://blog.example/tag/static-sites.html) "
        "[e](https://blog.example/category/python.html) "
        "[f](https://blog.example/author/grace.html) [g](https://blog.example/index.html) "
        "[h](https://blog.example/second/)"
    )
    assert resolved("[x]({filename}nope.md)").unresolved[0].tag == "{filename}nope.md"


# WordPress


def test_wordpress_shortcodes_of_a_real_export(tmp_path: Path) -> None:
    config = make_config(site={"url": "https://wp.example/"})
    raw = (ARCHIVES / "wordpress" / "podcast-episode.md").read_bytes()
    post = read_post("podcast-episode.md", raw, config, POSTS)
    html = post.html
    assert html.count("<figure>") == 2 and "[caption" not in html and "[/" not in html
    assert (
        '<img src="https://wp.example/wp-content/uploads/2025/11/studio.jpg" alt="The studio"'
        in html
    )
    assert "<figcaption>Our studio, with the <a" in html
    assert '<a href="https://wp.example/wp-content/uploads/chart-large.png"><img' in html
    assert "<figcaption>How long we slept</figcaption>" in html
    assert ">Listen to the audio (episode-12.mp3)</a>" in html
    assert ">Watch the video (trailer.mp4)</a>" in html
    assert '<a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ">' in html
    assert '<a href="https://vimeo.com/76979871">https://vimeo.com/76979871</a>' in html
    assert (
        "[sic]" in html and '<a href="https://wp.example/episode-11/">the last episode</a>' in html
    )
    assert post.enclosures == (
        Enclosure("https://wp.example/wp-content/uploads/2025/11/episode-12.mp3", "audio/mpeg"),
        Enclosure("https://wp.example/wp-content/uploads/2025/11/trailer.mp4", "video/mp4"),
    )
    rss = _feed(post, config, "feed.xml")
    [enclosure] = rss.entries[0].enclosures
    assert enclosure.href.endswith("episode-12.mp3") and enclosure.type == "audio/mpeg"
    atom = _feed(post, config, "atom.xml")
    assert [e.href[-4:] for e in atom.entries[0].enclosures] == [".mp3", ".mp4"]


def _feed(post: Post, config: object, name: str) -> feedparser.FeedParserDict:
    from pipeline.core.settings import Config

    assert isinstance(config, Config)
    sets = feed_sets((post.header,), config)
    files = {f.path: f.data for f in render_feed_sets(sets, {post.identity: post}, config, b"")}
    parsed = feedparser.parse(files[name])
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


def test_gallery_and_plugin_shortcodes_are_reported_with_their_lines() -> None:
    raw = (ARCHIVES / "wordpress" / "gallery-and-plugins.md").read_bytes()
    body = raw.decode().split("---\n", 2)[2]
    place = Place("g.md", "https://wp.example/gallery/", "https://wp.example/", {}, 8)
    result = resolve(body, place, POSTS)
    assert [(p.line, p.tag) for p in result.left] == [
        (10, '[gallery ids="101,102,103" columns="3"]'),
        (12, '[contact-form-7 id="55" title="Contact"]'),
        (14, "[su_note]"),
        (14, "[/su_note]"),
    ]
    assert "media library" in result.left[0].message
    assert result.markdown.count("[") == 0


def test_prose_brackets_and_markdown_links_are_not_shortcodes() -> None:
    body = (
        "[sic] [a link](https://x.example/) [ref][1] ![alt](i.png) [caption](u)\n\n[1]: https://y/"
    )
    assert text(body) == body


def test_a_stray_delimiter_is_reported() -> None:
    result = resolved("Price {{ 5\n\nand {% if")
    assert [p.line for p in result.left] == [1, 3]
    assert "{{" not in result.markdown and "{%" not in result.markdown


# Cached renderings know what their links asked


def test_a_rendering_is_reused_only_while_its_links_answer_the_same() -> None:
    recorder = Recorder(POSTS)
    place = Place("p.md", "https://blog.example/p/", SITE, {})
    resolve("[a]({% post_url 2024-01-01-first %}) {% include note.html %}", place, recorder)
    answers = recorder.answers()
    assert [q for q, _a in answers] == [
        "include:note.html",
        "named:2024-01-01-first",
        "post:2024-01-01-first.md",
    ]
    assert still_true(answers, POSTS)
    moved = KnownPosts(
        {**POSTS.urls, "2024-01-01-first.md": "https://blog.example/moved/"},
        POSTS.pages,
        POSTS.includes,
    )
    assert not still_true(answers, moved)
    edited = KnownPosts(POSTS.urls, POSTS.pages, {**POSTS.includes, "note.html": "new"})
    assert not still_true(answers, edited)


@pytest.mark.parametrize("value", ["language-python", "language-c++", "language-objective-c"])
def test_sanitizing_keeps_a_language_class_only(value: str) -> None:
    assert f'class="{value}"' in sanitize(f'<pre><code class="{value}">x</code></pre>', SITE)
    for bad in ("evil", "language-x onload", "big red"):
        assert "class" not in sanitize(f'<code class="{bad}">x</code><p class="x">y</p>', SITE)
