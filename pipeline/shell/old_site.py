"""Shell: the Lookup a post's links are resolved with: the posts from the index (or
from the headers at hand), the old site's pages and includes from its folder.

Paths come from post bodies, so each is kept inside its folder: no `..`, no
absolute path, no symbolic link out.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Protocol

from pipeline.core.posts.templating.lookup import POST_SUFFIXES
from pipeline.shell.site import Site

MAX_INCLUDE_BYTES = 200_000
_PERMALINK = re.compile(r"^permalink:\s*[\"']?([^\"'\n]+?)[\"']?\s*$", re.MULTILINE)


class Posts(Protocol):
    def post_url(self, source: str) -> str | None: ...
    def posts_named(self, stem: str) -> tuple[str, ...]: ...


class OldSite:
    def __init__(self, site: Site, posts: Posts) -> None:
        self.posts = posts
        self.root = site.old_root
        self.content = site.content_dir
        self.includes = site.includes_dir
        self.site_url = site.config.site.url
        pattern = site.config.site.permalink
        self.pretty = pattern == "pretty" or pattern.endswith("/")
        self._includes: dict[str, str | None] = {}

    def post_url(self, source: str) -> str | None:
        return self.posts.post_url(source)

    def posts_named(self, stem: str) -> tuple[str, ...]:
        return self.posts.posts_named(stem)

    def page_url(self, path: str) -> str | None:
        file = _inside(self.root, path)
        if file is None or not file.is_file():
            return None
        try:
            under_content = file.resolve().relative_to(self.content.resolve()).as_posix()
        except (ValueError, OSError):
            under_content = ""
        if under_content and under_content.endswith(POST_SUFFIXES):
            return self.posts.post_url(under_content)
        return self._page_url(file, posixpath.normpath(path))

    def _page_url(self, file: Path, path: str) -> str:
        """A page's own `permalink:`, else where Jekyll puts it: a collection's folder
        loses its `_`, the suffix becomes .html (or a folder, with pretty URLs)."""
        try:
            head = file.read_text(encoding="utf-8", errors="replace")[:4000]
        except OSError:
            head = ""
        if head.startswith("---"):
            given = _PERMALINK.search(head.partition("\n---")[0])
            if given:
                return self.site_url.rstrip("/") + "/" + given[1].strip().lstrip("/")
        folder, name = posixpath.split(path)
        if folder.startswith("_"):
            folder = folder[1:]
        stem = posixpath.splitext(name)[0]
        if stem == "index":
            relative = f"{folder}/" if folder else ""
        elif self.pretty:
            relative = posixpath.join(folder, stem) + "/"
        else:
            relative = posixpath.join(folder, stem) + ".html"
        return self.site_url + relative

    def include(self, name: str) -> str | None:
        if name not in self._includes:
            self._includes[name] = self._read_include(name)
        return self._includes[name]

    def _read_include(self, name: str) -> str | None:
        file = _inside(self.includes, name)
        try:
            if file is None or not file.is_file() or file.stat().st_size > MAX_INCLUDE_BYTES:
                return None
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def _inside(folder: Path, path: str) -> Path | None:
    """`folder / path` if it stays inside `folder` (symbolic links followed)."""
    clean = posixpath.normpath(path.strip())
    if not clean or clean.startswith(("/", "..")) or "\0" in clean or clean == ".":
        return None
    file = folder / clean
    try:
        if not file.resolve().is_relative_to(folder.resolve()):
            return None
    except OSError:
        return None
    return file
