"""WordPress's shortcodes as an export keeps them: [caption] (a figure), [embed]
and a video's URL alone on its line (a link), [audio] and [video] (a link, and an
enclosure in the feeds). [gallery] is reported: the export holds no images for it.
Any other shortcode of WordPress's form (attributes, or a closing tag) is reported.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urljoin, urlsplit

from pipeline.core.model import Enclosure
from pipeline.core.posts.markup import inline_html, to_uri
from pipeline.core.posts.templating.quick import WORDPRESS_CORE as CORE
from pipeline.core.posts.templating.work import Work, attribute, link_url

SHORTCODE = r"\[(?P<wp_close>/)?(?P<wp_name>[A-Za-z][\w-]*)(?P<wp_args>(?:\s[^\]\n]*)?)\]"
VIDEO_LINE = (
    r"^(?P<ov_indent>[ \t]*)(?P<ov_url>https?://(?:www\.|m\.)?(?:youtube\.com/(?:watch\?|shorts/)"
    r"|youtu\.be/|vimeo\.com/|dailymotion\.com/video/|dai\.ly/|ted\.com/talks/|wordpress\.tv/"
    r"|videopress\.com/v/|(?:twitter|x)\.com/\w+/status/|soundcloud\.com/|open\.spotify\.com/"
    r"|mixcloud\.com/|tiktok\.com/)[^\s<>\"'\]]*)[ \t]*$"
)
_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))""")
_MEDIA = re.compile(
    r"^\s*((?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?"
    r"|\[?!\[[^\]]*\]\([^)]*\)(?:\]\([^)]*\))?)(.*)$",
    re.DOTALL | re.IGNORECASE,
)
TYPES = {
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "ogv": "video/ogg",
}
AUDIO = ("src", "mp3", "m4a", "ogg", "oga", "wav", "flac")
VIDEO = ("src", "mp4", "m4v", "webm", "ogv", "mov")
PROSE = "WordPress"


def attributes(text: str) -> dict[str, str]:
    return {
        m[1].lower(): next(v for v in (m[2], m[3], m[4]) if v is not None)
        for m in _ATTRIBUTE.finditer(text)
    }


def is_shortcode(work: Work, match: re.Match[str]) -> bool:
    """Whether `[name ...]` is a shortcode, not a Markdown link's text, a reference
    or a bracket in prose: attributes, a name WordPress has, or a closing tag."""
    body, start, end = work.body, match.start(), match.end()
    name = match["wp_name"]
    if body[start - 1 : start] == "!":
        return False
    if "=" in match["wp_args"]:
        return True
    after = body[end : end + 1]
    if after == "(" or (after == ":" and work.at_line_start(start)):
        return False
    if after == "[" and not body.startswith(f"[/{name}]", end):
        return False
    if match["wp_close"]:
        return re.search(r"\[" + re.escape(name) + r"[\s\]]", body[:start]) is not None
    return name.lower() in CORE or f"[/{name}]" in body[end:]


def shortcode(work: Work, match: re.Match[str]) -> str:
    name, written = match["wp_name"].lower(), match[0]
    if match["wp_close"]:
        return work.unknown(match.start(), written, f"[/{name}] closes no shortcode it follows")
    given = attributes(match["wp_args"])
    if name in ("caption", "wp_caption", "embed"):
        end = re.compile(r"\[/" + name + r"\]", re.IGNORECASE).search(work.body, match.end())
        if end is None:
            return work.unknown(
                match.start(), written, f"[{name}] is never closed", f"add [/{name}] where it ends"
            )
        inner = work.body[match.end() : end.start()]
        work.pos = end.end()
        if name == "embed":
            return _embed(work, match, inner.strip())
        return _caption(work, match, inner, given)
    if name in ("audio", "video"):
        return _media(work, match, name, given)
    if name == "gallery":
        return work.unknown(
            match.start(),
            written,
            "[gallery] shows images from the WordPress media library, which the export "
            "does not hold",
            "put the images in the post as ![alt text](image URL) lines",
        )
    return work.unknown(
        match.start(), written, f"the WordPress shortcode [{name}] is not one the pipeline resolves"
    )


def _embed(work: Work, match: re.Match[str], url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        return work.unknown(match.start(), match[0], "[embed] holds no http(s) URL")
    work.resolved(f"{PROSE} embed")
    return f'<a href="{attribute(link_url(url))}">{attribute(url)}</a>'


def _caption(work: Work, match: re.Match[str], inner: str, given: dict[str, str]) -> str:
    media = _MEDIA.match(inner)
    if media is None:
        return work.unknown(match.start(), match[0], "[caption] holds no image")
    text = (given.get("caption") or media[2]).strip()
    caption = f"<figcaption>{inline_html(text)}</figcaption>" if text else ""
    work.resolved(f"{PROSE} caption")
    image = inline_html(media[1].strip())
    return work.block(match.start(), work.pos, f"<figure>{image}{caption}</figure>")


def _media(work: Work, match: re.Match[str], name: str, given: dict[str, str]) -> str:
    keys = AUDIO if name == "audio" else VIDEO
    src = next((given[key] for key in keys if given.get(key)), "")
    if not src:
        return work.unknown(match.start(), match[0], f"[{name}] names no file")
    closing = re.compile(r"\s*\[/" + name + r"\]", re.IGNORECASE).match(work.body, match.end())
    if closing is not None:
        work.pos = closing.end()
    url = to_uri(urljoin(work.place.url, src))
    suffix = posixpath.splitext(urlsplit(url).path)[1].lstrip(".").lower()
    default = "audio/mpeg" if name == "audio" else "video/mp4"
    work.enclosures.append(Enclosure(url, TYPES.get(suffix, default)))
    work.resolved(f"{PROSE} {name}")
    label = "Listen to the audio" if name == "audio" else "Watch the video"
    file_name = posixpath.basename(urlsplit(url).path)
    return f'<a href="{attribute(link_url(url))}">{label} ({attribute(file_name)})</a>'


def video_line(work: Work, match: re.Match[str]) -> str:
    """A video's URL alone on its line, which WordPress showed as the video: a link."""
    work.resolved(f"{PROSE} video link")
    return f"{match['ov_indent']}<{link_url(match['ov_url'])}>"
