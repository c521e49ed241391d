"""Hugo's shortcodes that a post uses to say what it means: ref and relref,
figure, highlight, youtube, vimeo, gist and tweet, and the `{{</* */>}}` escape.
An embed becomes a link, never an iframe; any other shortcode is reported.
"""

from __future__ import annotations

import re

from pipeline.core.posts.markup import inline_html
from pipeline.core.posts.templating.work import (
    Work,
    attribute,
    highlighted,
    link_url,
)

SHORTCODE = (
    r"\{\{(?P<hs_delim>[<%])\s*(?P<hs_close>/)?\s*(?P<hs_name>[A-Za-z_][\w./-]*)"
    r"(?P<hs_args>(?:(?![>%]\}\}).){0,2000}?)\s*/?(?:>|%)\}\}"
)
ESCAPED = r"\{\{(?P<he_delim>[<%])/\*(?P<he_body>.{0,2000}?)\*/(?:>|%)\}\}"
_ARGUMENT = re.compile(
    r"""(?:([A-Za-z_][\w-]*)\s*=\s*)?("(?:[^"\\]|\\.)*"|`[^`]*`|[^\s"`]+)""", re.DOTALL
)
PROSE = "Hugo"


def escaped(work: Work, match: re.Match[str]) -> str:
    """`{{</* figure */>}}` is how a Hugo post shows a shortcode: as written."""
    work.resolved(f"{PROSE} escape")
    return _plain_escape(match)


def unescape_in_code(code: str) -> str:
    return re.sub(ESCAPED, _plain_escape, code, flags=re.DOTALL)


def _plain_escape(match: re.Match[str]) -> str:
    delim = match["he_delim"]
    return "{{" + delim + match["he_body"] + (">" if delim == "<" else "%") + "}}"


def arguments(text: str) -> tuple[list[str], dict[str, str]]:
    """A shortcode's positional and named arguments, quotes removed."""
    positional: list[str] = []
    named: dict[str, str] = {}
    for match in _ARGUMENT.finditer(text):
        value = match[2]
        if value[:1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif value[:1] == "`":
            value = value[1:-1]
        if match[1]:
            named[match[1]] = value
        else:
            positional.append(value)
    return positional, named


def shortcode(work: Work, match: re.Match[str]) -> str:
    name, written = match["hs_name"], match[0]
    positional, named = arguments(match["hs_args"])
    if match["hs_close"]:
        return work.unknown(
            match.start(), written, f"{{{{< /{name} >}}}} closes no shortcode the pipeline knows"
        )
    if name in ("ref", "relref"):
        return _ref(work, match, named.get("path") or (positional[0] if positional else ""))
    if name == "highlight":
        end = re.compile(r"\{\{[<%]\s*/\s*highlight\s*[>%]\}\}").search(work.body, match.end())
        if end is None:
            return work.unknown(
                match.start(),
                written,
                "{{< highlight >}} is never closed",
                "add {{< /highlight >}} where the code ends",
            )
        work.pos = end.end()
        work.resolved(f"{PROSE} highlight")
        return highlighted(work, match, positional[0] if positional else "", end)
    if name == "figure":
        return _figure(work, match, named)
    embed = _embed(name, positional, named)
    if embed is None:
        return work.unknown(
            match.start(),
            written,
            f"the shortcode {{{{< {name} >}}}} is not one the pipeline resolves",
        )
    url, text = embed
    work.resolved(f"{PROSE} {name}")
    return f'<a href="{attribute(link_url(url))}">{attribute(text)}</a>'


def _ref(work: Work, match: re.Match[str], target: str) -> str:
    path, hash_mark, fragment = target.partition("#")
    url = None
    for source in _ref_candidates(work, path):
        url = work.lookup.post_url(source)
        if url is not None:
            break
    if url is None and path and "/" not in path:
        named = work.lookup.posts_named(path.rsplit(".", 1)[0] if path.endswith(".md") else path)
        url = work.lookup.post_url(named[0]) if len(named) == 1 else None
    work.resolved(f"{PROSE} {match['hs_name']}")
    if url is None and not path and fragment:
        return link_url(work.place.url + "#" + fragment)
    if url is None:
        work.missing(
            match.start(),
            match[0],
            f'{{{{< ref "{target}" >}}}} names no post',
            "write the post's path under content/, e.g. posts/my-post.md",
        )
        return work.place.site_url
    return link_url(url + hash_mark + fragment)


def _ref_candidates(work: Work, path: str) -> list[str]:
    if not path:
        return []
    bases = [path.lstrip("/")] if path.startswith("/") else [work.relative_to_post(path), path]
    found: list[str] = []
    for base in bases:
        base = base.rstrip("/")
        found += [base, f"{base}.md", f"{base}.markdown", f"{base}/index.md", f"{base}/_index.md"]
    return found


def _figure(work: Work, match: re.Match[str], named: dict[str, str]) -> str:
    src = named.get("src", "")
    if not src:
        return work.unknown(match.start(), match[0], "{{< figure >}} has no src")
    size = "".join(
        f' {key}="{attribute(named[key])}"' for key in ("width", "height") if named.get(key)
    )
    image = f'<img src="{attribute(src)}" alt="{attribute(named.get("alt", ""))}"{size}>'
    if named.get("link"):
        image = f'<a href="{attribute(named["link"])}">{image}</a>'
    caption = []
    if named.get("title"):
        caption.append(f"<strong>{attribute(named['title'])}</strong>")
    if named.get("caption"):
        caption.append(inline_html(named["caption"]))
    if named.get("attr"):
        attr = inline_html(named["attr"])
        if named.get("attrlink"):
            attr = f'<a href="{attribute(named["attrlink"])}">{attr}</a>'
        caption.append(attr)
    figcaption = f"<figcaption>{' '.join(caption)}</figcaption>" if caption else ""
    work.resolved(f"{PROSE} figure")
    return work.block(match.start(), match.end(), f"<figure>{image}{figcaption}</figure>")


def _embed(name: str, positional: list[str], named: dict[str, str]) -> tuple[str, str] | None:
    """(the URL, the link's text) of an embed, or None when it is not one."""
    first = named.get("id") or (positional[0] if positional else "")
    title = named.get("title", "")
    if name == "youtube" and re.fullmatch(r"[\w-]{6,20}", first):
        return f"https://www.youtube.com/watch?v={first}", title or "Watch the video on YouTube"
    if name == "vimeo" and re.fullmatch(r"\d{3,15}", first):
        return f"https://vimeo.com/{first}", title or "Watch the video on Vimeo"
    if name == "gist":
        user = named.get("user") or (positional[0] if positional else "")
        gist = named.get("id") or (positional[1] if len(positional) > 1 else "")
        if re.fullmatch(r"[\w-]+", user) and re.fullmatch(r"[0-9a-f]+", gist):
            return f"https://gist.github.com/{user}/{gist}", f"View the code on GitHub ({user})"
    if name == "tweet":
        user = named.get("user", "")
        tweet = named.get("id") or (positional[0] if positional else "")
        if re.fullmatch(r"\d{5,25}", tweet):
            if re.fullmatch(r"\w{1,30}", user):
                return f"https://twitter.com/{user}/status/{tweet}", f"View the post by @{user}"
            return f"https://twitter.com/i/web/status/{tweet}", "View the post on X"
    return None
