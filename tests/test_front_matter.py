"""core.posts.front_matter: every header a blog comes with, read into plain values."""

from __future__ import annotations

import contextlib

import pytest
from frontmatter.default_handlers import YAMLHandler
from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.core.errors import PostError
from pipeline.core.posts.front_matter import (
    _yaml_split,
    as_names,
    as_text,
    clean_text,
    field,
    is_clean,
    split_front_matter,
)


def test_yaml_toml_json_and_pelican_headers() -> None:
    assert split_front_matter("a.md", '---\ntitle: "A"\ndate: 2026-05-01\n---\nBody\n') == (
        {"title": "A", "date": "2026-05-01"},
        "\nBody\n",
    )
    assert split_front_matter("b.md", '+++\ntitle = "B"\ntags = ["x"]\n+++\nBody\n')[0] == {
        "title": "B",
        "tags": ["x"],
    }
    assert split_front_matter("c.md", '{\n"title": "C"\n}\nBody\n')[0] == {"title": "C"}
    meta, body = split_front_matter("d.md", "Title: D\nDate: 2026-05-01 10:00\n\nBody\n")
    assert meta == {"title": "D", "date": "2026-05-01 10:00"} and body == "Body\n"


def test_keys_are_lower_case_and_values_lose_xml_illegal_characters() -> None:
    meta, _ = split_front_matter("a.md", '---\nTitle: "Bell\\x07 rings"\nTAGS: [a]\n---\nx\n')
    assert meta == {"title": "Bell rings", "tags": ["a"]}


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("No front matter at all\n", "has no front matter", 1),
        ("---\ntitle: A\n", "front matter is not closed", 1),
        ('---\ntitle: "A"\ndate: [unclosed\n---\nx\n', "not valid YAML", 4),
        ("---\n!!python/object:os.system x: 1\n---\nx\n", "YAML tag that builds objects", 2),
        ("---\n- a list\n---\nx\n", "not a set of 'key: value' lines", 2),
    ],
)
def test_bad_headers_name_the_problem_and_the_line(text: str, message: str, line: int) -> None:
    with pytest.raises(PostError) as caught:
        split_front_matter("bad.md", text)
    assert message in caught.value.message and caught.value.line == line
    assert caught.value.hint


def test_fields_known_by_several_names_take_the_first_present() -> None:
    meta = {"date": "2026-05-01", "lastmod": "2026-05-02", "summary": "", "description": "D"}
    assert field(meta, "published") == ("date", "2026-05-01")
    assert field(meta, "modified") == ("lastmod", "2026-05-02")
    assert field(meta, "excerpt") == ("description", "D")  # an empty summary is absent
    assert field({}, "tags") == ("taxonomy_post_tag", None)


def test_typed_accessors_name_the_key_when_the_type_is_wrong() -> None:
    assert as_text("a.md", "title", 42) == "42"
    assert as_names("a.md", "tags", "sleep, tea ,sleep") == ("sleep", "tea")
    assert as_names("a.md", "tags", ["A  b", "A b"]) == ("A b",)
    with pytest.raises(PostError, match="'title' must be text, not list"):
        as_text("a.md", "title", ["x"])
    with pytest.raises(PostError, match="'tags' must be a list of names"):
        as_names("a.md", "tags", {"a": 1})


@given(
    st.text(
        st.one_of(
            st.sampled_from("a\t\n\r\x00\x07\x1f\x7f\x80\x85\x9f\xa0é\ufffd\ufffe\uffff🔗"),
            st.characters(codec="utf-8", exclude_categories=("Cs",)),
        ),
        max_size=30,
    )
)
def test_the_byte_scan_finds_what_cleaning_would_remove(text: str) -> None:
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    assert is_clean(text.encode()) == (clean_text(unified) == unified)


# Lines and pieces of lines around YAML's boundary: dashes, spaces, blank lines.
BOUNDARY_PIECES = st.sampled_from(
    ["---", "----", "--", "-", "- a", "\n", " ", "\t", "a: b", "\n\n"]
)


@given(st.lists(BOUNDARY_PIECES, max_size=12).map("".join))
def test_front_matter_is_split_where_the_yaml_handler_splits_it(rest: str) -> None:
    text = "---" + rest
    assume(YAMLHandler.FM_BOUNDARY.match(text))  # as detect_format found it
    expected: tuple[str, str] | None = None
    with contextlib.suppress(ValueError):
        fm, body = YAMLHandler().split(text)
        expected = (fm, body)
    found: tuple[str, str] | None = None
    with contextlib.suppress(ValueError):
        found = _yaml_split(text)
    assert found == expected
