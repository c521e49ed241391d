"""Pure: an email's HTML with its CSS inlined (the only premailer and cssutils import).

premailer imports `requests` at the top of its module, only to fetch linked
stylesheets, which it is never allowed to do here. So premailer is imported, once,
with a stand-in `requests` whose get() refuses: no path of premailer's can reach
the network, and requests and urllib3 (a tenth of a second) are never imported.
That import is the one place in core/ that touches interpreter state, and it
puts back what it found before it returns.
"""

from __future__ import annotations

import logging
import re
import sys
import types
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)


def safe_css(css: str, origin: str) -> str:
    """The stylesheet without @import rules: an email cannot load them, and cssutils
    would fetch them from the network even with premailer's allow_network=False."""
    if _IMPORT.search(css):
        logger.warning("%s: @import rules are ignored in emails; copy the CSS in", origin)
        return _IMPORT.sub("", css)
    return css


@cache
def _offline_cssutils() -> None:
    """Make cssutils refuse every fetch, once: the second wall after safe_css."""
    import cssutils.util

    def refuse(url: str) -> tuple[None, None]:
        logger.warning("refused to fetch %s while inlining CSS", url)
        return None, None

    cssutils.util._defaultFetcher = refuse


def _refuse_network(url: str, *args: object, **kwargs: object) -> None:
    raise RuntimeError(f"premailer tried to fetch {url}: the network is off")


@cache
def _premailer() -> Any:
    """premailer's Premailer class, imported with a stand-in for `requests`.

    premailer imports requests only to fetch linked stylesheets, which it is never
    allowed to do here; requests and urllib3 cost a tenth of a second to import. So
    while premailer is imported, `requests` is a module whose get() refuses, and
    premailer keeps it: no path of premailer's can reach the network."""
    stand_in = types.ModuleType("requests")
    stand_in.get = _refuse_network  # type: ignore[attr-defined]
    real = sys.modules.get("requests")
    sys.modules["requests"] = stand_in
    try:
        from premailer import Premailer
    finally:
        if real is None:
            del sys.modules["requests"]
        else:
            sys.modules["requests"] = real
    return Premailer


def inline_css(html: str) -> str:
    """premailer, with the network off: linked or imported CSS is never fetched."""
    _offline_cssutils()
    return str(
        _premailer()(
            html,
            allow_network=False,
            cssutils_logging_level=logging.CRITICAL,
            strip_important=False,
            disable_link_rewrites=True,
            remove_classes=False,
            keep_style_tags=False,
            # premailer copies CSS widths and heights into attributes for old clients;
            # "height: auto" would become the invalid height="auto".
            disable_basic_attributes=["height"],
            # cssutils' property validation only feeds its log (silenced above) and
            # costs a tenth of a second per build.
            disable_validation=True,
        ).transform()
    )
