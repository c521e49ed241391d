"""core.posts.chrome: the export's theme chrome removed by precise rules, on blocks."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.core.posts.chrome import strip_chrome
from pipeline.core.posts.markup import parse_blocks

PUBLISHED = datetime(2026, 5, 19, 15, 50, tzinfo=UTC)
TITLE = "Gut Health and Sleep"


def texts(markdown: str) -> tuple[list[str], str]:
    stripped = strip_chrome(parse_blocks(markdown), TITLE, PUBLISHED, None)
    return [block.text for block in stripped.blocks], stripped.author


def test_header_and_footer_of_an_export_are_removed() -> None:
    body = (
        "[Wellness](https://blog.example/category/wellness/)\n\n"
        "# Gut Health and Sleep\n\n"
        "Marina Tess\n\n"
        "May 19, 2026\n\n"
        "The article itself.\n\n"
        "Tagged: [food](https://blog.example/tag/food/)\n, [sleep](https://blog.example/tag/sleep/)\n\n"
        "Written by\n\n### Marina\n\nA small, slow blog about sleep.\n\n"
        "### You might also like\n\n- [Other](https://blog.example/other/)\n\n"
        "### Leave a Reply [Cancel reply](/gut-health-and-sleep/#respond)\n"
    )
    kept, author = texts(body)
    assert kept == ["The article itself."]
    assert author == "Marina"  # the "Written by" box names the author, over the byline


def test_prose_that_looks_like_chrome_is_kept() -> None:
    body = (
        "# A different title\n\n"  # not the post's title: a real heading
        "May 19, 2026\n\n"  # a date line, but not under the title
        "I was tagged: it happens.\n\n"
        "## You might also like this trick\n\n"  # a heading, but prose follows it
        "It is a real section, with sentences.\n"
    )
    kept, author = texts(body)
    assert kept[0] == "A different title" and "May 19, 2026" in kept
    assert "It is a real section, with sentences." in kept
    assert author == ""


def test_a_date_line_in_another_form_or_zone_is_still_the_date() -> None:
    body = "# Gut Health and Sleep\n\n19 May 2026\n\nText.\n"
    assert texts(body)[0] == ["Text."]
    assert texts("# Gut Health and Sleep\n\nMay 20, 2026\n\nText.\n")[0] == [
        "May 20, 2026",
        "Text.",
    ]  # another day: not this post's date line
