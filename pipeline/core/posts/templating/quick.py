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


def may_leave_tags(body: str) -> bool:
    """Whether the body could hold syntax that might not resolve (Liquid,
    shortcodes): what reading a header asks. Links and embeds always resolve."""
    # One character is a memchr; "{{" in a non-ASCII text is several times slower.
    if "{" in body and _LIQUID_OR_HUGO.search(body) is not None:
        return True
    return "[" in body and _SHORTCODE.search(body) is not None


def has_template_syntax(body: str, leaves: bool | None = None) -> bool:
    """Whether the body could hold any template syntax at all (`leaves`: what
    `may_leave_tags` said of it, when known)."""
    if (may_leave_tags(body) if leaves is None else leaves) or body.startswith(("http", " ")):
        return True
    if ("{" in body or "|" in body) and _PELICAN.search(body) is not None:
        return True
    return "\n" in body and _URL_LINE.search(body) is not None
