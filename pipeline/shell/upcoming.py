"""Shell: the email the next build would write (or one post's), rendered without
touching the ledger or out/: what `preview` shows and `send --test` sends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from pipeline.core.dates import rfc3339
from pipeline.core.emails import render_email
from pipeline.core.errors import PipelineError, PostError
from pipeline.core.model import Email, Header
from pipeline.core.posts.read import read_header
from pipeline.core.posts.templating.lookup import KnownPosts, Lookup
from pipeline.core.schedule import next_slot
from pipeline.shell.files import read_limited
from pipeline.shell.old_site import OldSite
from pipeline.shell.quick import ContentScan, scan_content, unchanged
from pipeline.shell.reading import render_posts
from pipeline.shell.scan import find_posts
from pipeline.shell.site import Site
from pipeline.shell.templates import load_templates
from pipeline.store.ledger import read_waiting
from pipeline.store.postindex import IndexedPosts, kinds_of, open_index
from pipeline.store.rendered import cache_key


class NoEmail(PipelineError):
    """There is no email to show: `label` says why, `errors` what to fix."""

    def __init__(self, label: str, errors: tuple[str, ...]) -> None:
        super().__init__(f"{label}: " + "; ".join(errors))
        self.label = label
        self.errors = errors


@dataclass(frozen=True)
class Upcoming:
    label: str  # which email this is
    email: Email
    posts: tuple[Header, ...]  # the posts it carries


def upcoming_email(
    site: Site, now: datetime, post: str | None = None, content: ContentScan | None = None
) -> Upcoming:
    """The next email; with `post` (an identity or file), that post as a per-post
    email; with nothing new, the newest post as a sample (`content`: content/ as
    already walked). PipelineError says why there is none."""
    if post is None:
        content = content or scan_content(site.paths)
        newest = _newest_when_unchanged(site, now, content)
        if newest is not None:
            return _sample(site, newest, OldSite(site, IndexedPosts(site.cache_path)))
    return from_dry_run(site, now, post, content)


def _newest_when_unchanged(site: Site, now: datetime, content: ContentScan) -> Header | None:
    """The newest post, when the last build saw exactly these files and nothing waits
    for a slot of the schedule: then nothing is new, the next email is a sample of
    it, and the index says which without a dry run (which reads all of the index:
    0.4 s at 100,000 posts). None: ask the dry run."""
    if not unchanged(site.paths, now, content.inputs) or read_waiting(site.state_path):
        return None
    config = site.config
    index = open_index(site.cache_path, cache_key(config), kinds_of(config), writable=False)
    if index is None:
        return None
    try:
        sources = index.steady(()).newest("", (), 1)
        return index.headers(sources).get(sources[0]) if sources else None
    finally:
        index.close()


def from_dry_run(
    site: Site, now: datetime, post: str | None = None, content: ContentScan | None = None
) -> Upcoming:
    """`upcoming_email` as a dry run of the build decides it."""
    from pipeline.shell.build import BuildOptions, run_build  # not for a sample: 40 ms

    options = BuildOptions(now=now, dry_run=True, slot_due=True, feeds=False, content_scan=content)
    report = run_build(site, options)
    if report.rejected:
        raise NoEmail("Some posts cannot be read", tuple(str(e) for e in report.rejected))
    templates = load_templates(site.template_dir)
    config = site.config
    known = KnownPosts.of((p.source, p.url) for p in report.posts)
    lookup = OldSite(site, report.links or known)  # as the dry run's own posts found them
    if post:
        header = _find([*report.posts, *report.feed_posts], post) or _read(site, post)
        rendered = render_posts([header], config, site.content_dir, site.cache_path, lookup)
        single = replace(config, email=replace(config.email, mode="per-post"))
        email = render_email((rendered[header.identity],), (), single, templates)
        return Upcoming(f"Per-post email for {header.source}", email, (header,))
    if report.emails:
        email = report.emails[0]
        wanted = set(email.new + email.updated)
        posts = tuple(p for p in report.shown if p.identity in wanted)
        label = f"The next email: {len(email.new)} new, {len(email.updated)} updated"
        slot = next_slot(config.email.schedule, now, config.site.timezone)
        if slot is not None:
            label += f", at the first build after {rfc3339(slot)} ({config.email.schedule})"
        return Upcoming(label, email, posts)
    live = tuple(report.feed_posts)
    if not live:
        raise NoEmail("Nothing to preview", ("there is no published post yet",))
    return _sample(site, live[0], lookup)


def _sample(site: Site, newest: Header, lookup: Lookup) -> Upcoming:
    config = site.config
    rendered = render_posts([newest], config, site.content_dir, site.cache_path, lookup)
    email = render_email(
        (rendered[newest.identity],), (), config, load_templates(site.template_dir)
    )
    return Upcoming("Nothing new to send: the newest post, as a sample", email, (newest,))


def _find(posts: list[Header], wanted: str) -> Header | None:
    for post in posts:
        if wanted in (post.identity, post.source, post.source.rsplit("/", 1)[-1]):
            return post
    return None


def _read(site: Site, wanted: str) -> Header:
    """A post that no feed shows and nothing changed in (a dry run on the index
    decides only on what changed), by its file: read from content/ as it is."""
    for entry in find_posts(site.content_dir):
        if wanted in (entry.relative, entry.relative.rsplit("/", 1)[-1]):
            raw = read_limited(Path(entry.path), entry.relative, site.config.build.max_post_bytes)
            return read_header(entry.relative, raw, site.config, OldSite(site, KnownPosts({})))
    raise PostError(wanted, "no such post", "give its id, slug or file name under content/")
