"""Newsletter and feed publishing pipeline for a Markdown blog.

The data flows content/ -> posts -> changes -> feeds and emails -> out/; see the
module docstrings in that order.
"""

__version__ = "0.1.0"
