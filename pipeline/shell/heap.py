"""Shell: the cyclic garbage collector paused while 100,000s of values are made.

Standard library only: the nothing-changed exit's walk of content/ uses it too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector off while 100,000s of entries, rows, headers or
    findings are made and kept (it would walk them again and again: a second of CPU
    in a check of 100,000 posts, in this process and in the workers forked
    meanwhile); they hold no cycles to collect. After, what is alive goes straight
    to the oldest generation (freeze, unfreeze), instead of being walked by a young
    collection at once and again as it ages. Nested uses leave it to the outer one
    to switch the collector back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
