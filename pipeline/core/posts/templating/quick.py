"""Whether a body could hold template syntax at all, cheaply: most posts hold none,
and reading a header costs a fifth of a millisecond, so this must cost far less
(and import nothing heavy: the resolver is imported only when a post needs it)."""

from __future__ import annotations

import re

PELICAN_KINDS = "filename|static|attach|tag|category|author|index"
WORDPRESS_CORE = frozenset(
    {"caption", "wp_caption", "embed", "audio", "video", "gallery", "playlist"}
)

_SHORTCODE = re.compile(
    r"\[/?(?:" + "|".join(sorted(WORDPRESS_CORE)) + r")\b"
    r"|\[[A-Za-z][\w-]*\s[^\]\n]*=|\[/[A-Za-z][\w-]*\]"
)
_LIQUID_OR_HUGO = re.compile(r"\{[{%]")
_PELICAN = re.compile(r"\{(?:" + PELICAN_KINDS + r")\}|\|(?:" + PELICAN_KINDS + r")\|")
_URL_LINE = re.compile(r"\n[ \t]{0,3}https?://")  # a video alone on its line?


# The same searches over the body's UTF-8 bytes: a text with one emoji takes 4 bytes
# a letter, its bytes 1 (twice as fast at 13 KB). "{{" is ASCII, so found alike; the
# shortcode search in bytes finds every place the text's does (any byte of a
# non-ASCII letter or space counts as one) and maybe more, which the text then says.
_LIQUID_OR_HUGO_BYTES = re.compile(rb"\{[{%]")
_WORD_BYTES = rb"(?:[\w-]|[\x80-\xff])"  # str's \w is Unicode's letters and digits
_SPACE_BYTES = rb"(?:[\s\x1c-\x1f]|[\x80-\xff])"  # and its \s, Unicode's spaces
_SHORTCODE_BYTES = re.compile(
    rb"\[/?(?:" + "|".join(sorted(WORDPRESS_CORE)).encode() + rb")\b"
    rb"|\[[A-Za-z]" + _WORD_BYTES + rb"*" + _SPACE_BYTES + rb"[^\]\n]*="
    rb"|\[/[A-Za-z]" + _WORD_BYTES + rb"*\]"
)


def may_leave_tags(body: str, raw: bytes | None = None, start: int = 0) -> bool:
    """Whether the body could hold syntax that might not resolve (Liquid,
    shortcodes): what reading a header asks. Links and embeds always resolve.
    `raw[start:]`, when given, is the body's UTF-8, searched first."""
    if raw is not None:
        if raw.find(b"{", start) != -1 and _LIQUID_OR_HUGO_BYTES.search(raw, start) is not None:
            return True
        if raw.find(b"[", start) == -1 or _SHORTCODE_BYTES.search(raw, start) is None:
            return False
        return _SHORTCODE.search(body) is not None
    # One character is a memchr; "{{" in a non-ASCII text is several times slower.
    if "{" in body and _LIQUID_OR_HUGO.search(body) is not None:
        return True
    return "[" in body and _SHORTCODE.search(body) is not None


def has_template_syntax(
    body: str, leaves: bool | None = None, raw: bytes | None = None, start: int = 0
) -> bool:
    """Whether the body could hold any template syntax at all (`leaves`: what
    `may_leave_tags` said of it, when known). `raw[start:]`, when given, is the
    body's UTF-8, searched instead (the patterns are ASCII: the same places)."""
    if (may_leave_tags(body) if leaves is None else leaves) or body.startswith(("http", " ")):
        return True
    if raw is not None:
        pelican = raw.find(b"{", start) != -1 or raw.find(b"|", start) != -1
        if pelican and _PELICAN_BYTES.search(raw, start) is not None:
            return True
        return _URL_LINE_BYTES.search(raw, start) is not None
    if ("{" in body or "|" in body) and _PELICAN.search(body) is not None:
        return True
    return "\n" in body and _URL_LINE.search(body) is not None


_PELICAN_BYTES = re.compile(_PELICAN.pattern.encode())
_URL_LINE_BYTES = re.compile(_URL_LINE.pattern.encode())
