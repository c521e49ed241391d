"""Jekyll's Liquid, as far as a post's body uses it to say what it means: raw,
highlight, link, post_url, plain include, comment; site.url, site.baseurl and the
post's own front matter, with relative_url and absolute_url. Nothing is run: every
other tag or filter is reported (`Work.unknown`), as is an include that holds any.
"""

from __future__ import annotations

import html
import re
from datetime import date
from urllib.parse import urlsplit

from pipeline.core.posts.templating.work import Work, highlighted, link_url, site_parts

TAG = r"\{%-?\s*(?P<lq_name>[A-Za-z_]\w*)(?P<lq_args>(?:(?!%\}).){0,500}?)-?%\}"
OUTPUT = r"\{\{-?(?P<lo_expr>(?:(?!\}\}).){0,500}?)-?\}\}"


def _end(name: str) -> re.Pattern[str]:
    return re.compile(r"\{%-?\s*" + name + r"\s*-?%\}")


END = {name: _end(f"end{name}") for name in ("raw", "comment", "highlight")}
_PROGRAMMABLE = re.compile(r"\{%|\{\{")
_STRING = re.compile(r"""^(?:"([^"]*)"|'([^']*)')$""")
_PAGE_KEY = re.compile(r"page\.([A-Za-z_][\w-]*)")
PROSE = "Jekyll"


def tag(work: Work, match: re.Match[str]) -> str:
    name, args = match["lq_name"], match["lq_args"].strip()
    written = match[0]
    if name in END:
        end = END[name].search(work.body, match.end())
        if end is None:
            return work.unknown(
                match.start(),
                written,
                f"{{% {name} %}} is never closed",
                f"add {{% end{name} %}} where it ends",
            )
        work.pos = end.end()
        work.resolved(f"{PROSE} {name}")
        if name == "raw":
            return work.body[match.end() : end.start()]
        if name == "comment":
            return ""
        return highlighted(work, match, args.split()[0] if args else "", end)
    if name == "link":
        return _link(work, match, args)
    if name == "post_url":
        return _post_url(work, match, args)
    if name == "include":
        return _include(work, match, args)
    return work.unknown(
        match.start(), written, f"the Liquid tag {{% {name} %}} is not one the pipeline resolves"
    )


def _link(work: Work, match: re.Match[str], path: str) -> str:
    if not path or _PROGRAMMABLE.search(path):
        return work.unknown(match.start(), match[0], "{% link %} needs a plain file path")
    url = work.lookup.post_url(path) or work.lookup.page_url(path)
    work.resolved(f"{PROSE} link")
    if url is None:
        work.missing(
            match.start(),
            match[0],
            f"{{% link {path} %}} names no post or page",
            "write the path of the file as it is under the old site's root, or "
            "set [build] site_root to that folder",
        )
        return work.place.site_url
    return link_url(url)


def _post_url(work: Work, match: re.Match[str], name: str) -> str:
    folder, _, stem = name.strip("/").rpartition("/")
    found = [s for s in work.lookup.posts_named(stem) if not folder or f"/{folder}/" in f"/{s}"]
    work.resolved(f"{PROSE} post_url")
    url = work.lookup.post_url(found[0]) if found else None
    if url is None:
        work.missing(
            match.start(),
            match[0],
            f"{{% post_url {name} %}} names no post",
            "write the post's file name without its suffix, e.g. 2024-05-01-my-post",
        )
        return work.place.site_url
    return link_url(url)


def _include(work: Work, match: re.Match[str], args: str) -> str:
    name, _, parameters = args.partition(" ")
    if not name or parameters.strip() or _PROGRAMMABLE.search(name):
        return work.unknown(
            match.start(),
            match[0],
            "an {% include %} with parameters is a program; it is not run",
            "paste what it showed into the post",
        )
    text = work.lookup.include(name)
    if text is None:
        return work.unknown(
            match.start(),
            match[0],
            f"the include {name} is not in the includes folder",
            "set [build] includes to the old site's _includes folder, or paste it in",
        )
    if _PROGRAMMABLE.search(text):
        return work.unknown(
            match.start(),
            match[0],
            f"the include {name} holds Liquid of its own; it is not run",
            "paste what it showed into the post",
        )
    work.resolved(f"{PROSE} include")
    return text.rstrip("\n")


def output(work: Work, match: re.Match[str]) -> str:
    """`{{ ... }}`: one of the values we know, through the URL filters we know."""
    value_text, *filters = (part.strip() for part in match["lo_expr"].split("|"))
    value, is_url = _value(work, value_text)
    if value is None:
        return work.unknown(
            match.start(),
            match[0],
            f"{{{{ {value_text} }}}} is not a value the pipeline knows",
        )
    root, base = site_parts(work.place.site_url)
    for name in filters:
        if name == "relative_url" or name == "absolute_url":
            if not urlsplit(value).scheme:
                value = base + "/" + value.lstrip("/")
                if name == "absolute_url":
                    value = root + value
            is_url = True
        else:
            return work.unknown(
                match.start(), match[0], f"the Liquid filter {name!r} is not one the pipeline runs"
            )
    kind = filters[-1] if filters else "page.*" if value_text.startswith("page.") else value_text
    work.resolved(f"{PROSE} {kind}")
    if not is_url:
        return html.escape(value)
    return link_url(value) if urlsplit(value).scheme else value


def _value(work: Work, text: str) -> tuple[str | None, bool]:
    """(the value, whether it is a URL or a path already)."""
    root, base = site_parts(work.place.site_url)
    place = work.place
    known = {
        "site.url": (root, True),
        "site.baseurl": (base, True),
        "site.title": (place.site_title, False),
        "site.description": (place.site_description, False),
        "page.url": (urlsplit(place.url).path, True),
    }
    if text in known:
        return known[text]
    string = _STRING.match(text)
    if string:
        return (string[1] if string[1] is not None else string[2]), False
    key = _PAGE_KEY.fullmatch(text)
    if key and key[1] in place.page:
        return _as_text(place.page[key[1]]), False
    return None, False


def _as_text(value: object) -> str | None:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str | int | float | date):
        return str(value)
    return None
