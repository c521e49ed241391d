"""core.posts.markup: Markdown blocks, sanitizing, links and text, with plain strings."""

from __future__ import annotations

from pipeline.core.posts.markup import (
    add_rel,
    anchor_hrefs,
    ensure_alt,
    html_to_text,
    parse_blocks,
    render_blocks,
    sanitize,
    to_uri,
)


def test_blocks_are_the_top_level_markdown_blocks_with_their_lines() -> None:
    blocks = parse_blocks("# Title\n\nOne *para*.\n\n- a\n- b\n\n```py\ncode\n```\n")
    assert [(b.kind, b.tag, b.first_line) for b in blocks] == [
        ("heading", "h1", 1),
        ("paragraph", "p", 3),
        ("bullet_list", "ul", 5),
        ("fence", "code", 8),
    ]
    assert blocks[1].text == "One para."
    assert blocks[3].inline == ()  # a fence has no inline children


def test_quote_and_list_markers_past_20_on_a_line_are_not_followed() -> None:
    html = render_blocks(parse_blocks("> - 1. " * 1000 + "q\n"))
    assert "<li>q</li>" in html  # the words are kept, inside the 20th level
    assert 0 < html.count("<blockquote>") + html.count("<ul>") + html.count("<ol>") <= 20


def test_a_reference_link_renders_in_a_block_rendered_alone() -> None:
    blocks = parse_blocks("# Drop me\n\nSee [the docs][d].\n\n> [d]: https://a.example/d 'T'\n")
    assert [b.kind for b in blocks] == ["heading", "paragraph", "blockquote"]
    assert render_blocks(blocks[1:2]) == (
        '<p>See <a href="https://a.example/d" title="T">the docs</a>.</p>\n'
    )


def test_links_of_a_block_markdown_raw_html_and_images() -> None:
    [block] = parse_blocks(
        'See [one](https://a.example/1), <a href="/two">two</a> and ![pic](p.png) '
        '<img src="q.png" alt="q">.'
    )
    assert block.hrefs == ("https://a.example/1",)
    assert block.links() == ["https://a.example/1", "/two"]
    assert block.links(images=True) == ["https://a.example/1", "/two", "p.png", "q.png"]
    [html_block] = parse_blocks('<div><a href="x.html">x</a><img src="y.png"></div>')
    assert html_block.links() == ["x.html"] and html_block.links(images=True) == [
        "x.html",
        "y.png",
    ]


def test_sanitize_removes_what_executes_and_makes_links_absolute() -> None:
    dirty = (
        '<p onclick="x()">Hi <a href="javascript:alert(1)">a</a> <a href="/b">b</a>'
        '<script>alert(2)</script><img src="i.png" onerror="y()"><style>p{}</style></p>'
    )
    clean = sanitize(dirty, "https://blog.example/post/")
    assert "onclick" not in clean and "onerror" not in clean and "script" not in clean
    assert "javascript:" not in clean and "<style" not in clean and "alert(2)" not in clean
    assert 'href="https://blog.example/b"' in clean
    assert 'src="https://blog.example/post/i.png"' in clean


def test_to_uri_percent_encodes_and_keeps_plain_urls() -> None:
    assert to_uri("https://blog.example/a b/é?q=ü") == "https://blog.example/a%20b/%C3%A9?q=%C3%BC"
    assert to_uri("https://blog.example/plain/") == "https://blog.example/plain/"


def test_add_rel_marks_only_the_links_it_is_asked_to() -> None:
    html = '<p><a href="https://amzn.to/x">buy</a> <a href="https://b.example/">b</a></p>'
    marked = add_rel(html, lambda href: "sponsored" if "amzn.to" in href else None)
    assert marked == (
        '<p><a href="https://amzn.to/x" rel="sponsored">buy</a> <a href="https://b.example/">b</a></p>'
    )
    assert anchor_hrefs(marked) == ["https://amzn.to/x", "https://b.example/"]


def test_rendered_blocks_become_readable_text() -> None:
    html = sanitize(
        render_blocks(parse_blocks("# Head\n\nA [link](https://l.example/) here.\n\n- one\n- two")),
        "https://blog.example/",
    )
    text = html_to_text(html)
    assert "Head" in text and "one" in text and "two" in text
    assert "https://l.example/" in text  # a link keeps its address in the text part


def test_images_without_alt_get_an_empty_one() -> None:
    assert ensure_alt('<img src="a.png">') == '<img alt="" src="a.png">'
    assert ensure_alt('<img src="a.png" alt="A">') == '<img src="a.png" alt="A">'
