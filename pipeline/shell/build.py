"""Shell: one build, as a sequence: scan, plan, read, decide, render, write, commit.

The ledger is committed last, after every output is on disk, so a build killed at
any moment and run again loses nothing and emails nothing twice. What to read,
decide and rewrite is `incremental`'s to say; deciding and rendering are the core's.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pipeline import incremental
from pipeline.core.archive import Issue, archive_index
from pipeline.core.dates import rfc3339
from pipeline.core.decide import Policy, decide
from pipeline.core.emails import ARCHIVE_FOLDER, Templates, plan_emails, render_email
from pipeline.core.entry import BuildMarks
from pipeline.core.errors import OutputError
from pipeline.core.feeds import render_feed_sets
from pipeline.core.feedsets import FeedSet, changed_feed_urls, feed_sets
from pipeline.core.manifest import EMAIL_FOLDER
from pipeline.core.model import Email, Finding, OutputFile
from pipeline.core.posts.templating.lookup import KnownPosts
from pipeline.core.report import BuildReport
from pipeline.shell.cadence import email_cadence
from pipeline.shell.files import remove_stale_temporaries, stylesheet, write_files
from pipeline.shell.heap import no_cycle_collection
from pipeline.shell.lock import exclusive
from pipeline.shell.old_site import OldSite
from pipeline.shell.quick import ContentScan, fingerprint, scan_content
from pipeline.shell.reading import Progress, Workers, in_order, read_rows, render_posts
from pipeline.shell.scan import find_posts
from pipeline.shell.site import Site
from pipeline.shell.templates import load_templates
from pipeline.shell.written import unrecorded_emails, written_emails
from pipeline.store import ledger, postindex
from pipeline.store.rendered import cache_key, save

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    now: datetime
    since: datetime | None = None
    dry_run: bool = False
    full_scan: bool = False  # re-read every file, trusting no size or modification time
    content_scan: ContentScan | None = None  # content/ as already scanned, if it was
    slot_due: bool = False  # email what waits as if the schedule's slot had come (preview)
    feeds: bool = True  # render the feeds (a dry run for `status` needs only the emails)


def run_build(site: Site, options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Run one build; the lock is held from reading the ledger to committing it."""
    with no_cycle_collection(), Workers() as workers:
        if options.dry_run:
            return _build(site, options, progress, workers)
        with exclusive(site.lock_path):
            return _build(site, options, progress, workers)


def _build(
    site: Site, options: BuildOptions, progress: Progress | None, workers: Workers
) -> BuildReport:
    content = options.content_scan or scan_content(site.paths)  # one walk: posts, fingerprint
    key = cache_key(site.config)
    kinds = postindex.kinds_of(site.config)
    index = postindex.open_index(site.cache_path, key, kinds, writable=not options.dry_run)
    try:
        try:
            return _build_with(site, options, progress, content, index, workers)
        except postindex.IndexFailure as failure:
            logger.warning("%s: cache unusable (%s); reading every post", failure.path, failure)
        return _build_with(site, options, progress, content, None, workers)
    finally:
        if index is not None:
            index.close()


def _build_with(
    site: Site,
    options: BuildOptions,
    progress: Progress | None,
    content: ContentScan,
    index: postindex.PostIndex | None,
    workers: Workers,
) -> BuildReport:
    config, key = site.config, cache_key(site.config)
    files = find_posts(site.content_dir, list(content.entries))
    includes = OldSite(site, KnownPosts({}))  # reading a header needs only the includes
    read = partial(read_rows, config=config, progress=progress, includes=includes, workers=workers)
    policy = Policy(options.since, config.email.max_age_days, config.build.settle_minutes)
    gathered = incremental.gather(
        files, index, site.state_path, options.now, options.full_scan, read, policy
    )
    snapshot = gathered.snapshot
    adopted = list(unrecorded_emails(site.out_dir, snapshot.email_ids))
    already = {identity: modified for email in adopted for identity, modified in email.carried()}
    changes = decide(gathered.posts, snapshot, options.now, policy, already)

    touched = incremental.touched_feeds(
        changes, gathered, key, lambda path: (site.out_dir / path).is_file()
    )
    live, names = incremental.feed_posts(changes, gathered, touched, config)
    sets = feed_sets(live, config, names)  # once: the index lists every feed
    written = incremental.written_feeds(sets, touched)
    needed = incremental.to_render(changes, written if options.feeds else (), config.feed.limit)
    cadence = email_cadence(site, options.now, changes, gathered, set(already), options.slot_due)
    needed += [h for h in (*cadence.new, *cadence.updated) if h not in needed]
    posts = incremental.posts_lookup(gathered, site.cache_path)
    lookup = OldSite(site, posts)
    # Posts found through the index are a path to send to the workers; the headers at
    # hand (a dry run's) reach them only by a fork made after they were read.
    kept = workers if isinstance(posts, postindex.IndexedPosts) else None
    rendered = render_posts(needed, config, site.content_dir, site.cache_path, lookup, kept)

    report = BuildReport(changes=changes, posts=gathered.posts, dry_run=options.dry_run)
    report.shown, report.feed_posts, report.links = needed, list(live), posts
    report.rejected = gathered.rejected
    report.kept = gathered.kept
    report.warnings = gathered.warnings + [w for p in rendered.values() for w in p.warnings]
    report.in_feeds = len(changes.live) + (gathered.steady.count() if gathered.steady else 0)
    as_is = incremental.recorded_as_is(gathered)
    if as_is:
        report.recorded = incremental.recorded_ids(changes, as_is)
    outputs = (
        render_feed_sets(sets, rendered, config, stylesheet(config), touched, in_order)
        if options.feeds or not options.dry_run
        else []
    )
    if config.email.enabled:
        templates = load_templates(site.template_dir)
        new = [rendered[header.identity] for header in cadence.new]
        modified = [rendered[header.identity] for header in cadence.updated]
        report.emails = [
            render_email(posts, updated, config, templates)
            for posts, updated in plan_emails(new, modified, config)
        ]
        if config.archive.enabled:
            # Before the emails: an email whose manifest is on disk is adopted, not
            # rendered again, so its page and the index must already be written.
            outputs.extend(_archive(site, report.emails, templates))
        for email in report.emails:
            outputs.extend(
                OutputFile(f"{EMAIL_FOLDER}/{email.email_id}/{name}", data)
                for name, data in email.files.items()
            )
    for manifest in adopted:
        report.adopted.append(manifest.email_id)
        report.warnings.append(
            Finding(
                "adopted-email",
                "",
                f"email {manifest.email_id} was written by an interrupted build; recorded it "
                "as written, so its posts are not emailed again",
            )
        )
    if options.dry_run:
        return report

    save(site.cache_path, key, rendered.values())
    remove_stale_temporaries(site.out_dir)
    report.written, unchanged = write_files(site.out_dir, outputs)
    report.unchanged = len(unchanged)
    records = [
        ledger.EmailRecord(
            e.email_id, e.subject, f"{EMAIL_FOLDER}/{e.email_id}/", e.new + e.updated
        )
        for e in report.emails
    ] + [
        ledger.EmailRecord(
            m.email_id,
            m.subject,
            f"{EMAIL_FOLDER}/{m.email_id}/",
            tuple(p.identity for p in m.posts),
        )
        for m in adopted
    ]
    pending = _tell_the_hub(site, report, snapshot.marks.websub_pending, sets)
    summary = report.summary()
    summary.pop("files_written")
    clean = not report.rejected and not adopted
    marks = BuildMarks(
        # Compared by the next build's nothing-changed exit; only a clean build may skip.
        fingerprint=fingerprint(site.paths, content.inputs) if clean else "",
        next_due=_sooner(incremental.next_due(changes, config.build.settle_minutes), cadence.due),
        feeds_key=key,
        build_token=uuid.uuid4().hex,  # which ledger the post index agrees with
        websub_pending="\n".join(pending),
        last_slot=cadence.slot,
    )
    try:
        ledger.commit(
            site.state_path, changes, records, options.now, summary, marks, cadence.waiting, as_is
        )
    except OSError as exc:
        raise OutputError(
            f"cannot record this build in {site.state_path}: {exc.strerror or exc}",
            "out/ is complete; fix the ledger's folder and run the build again: it "
            "rewrites the same files and the same email, and emails nothing twice",
        ) from None
    if index is not None:
        index.recorded(site.state_path, marks.build_token, options.now, gathered.candidates)
    return report


def _tell_the_hub(
    site: Site, report: BuildReport, pending: str, sets: Sequence[FeedSet]
) -> list[str]:
    """Ping the WebSub hub for the feeds this build rewrote and those an earlier
    build could not tell it of (the files are on disk); returns the URLs still
    untold, which the next build tries again."""
    hub = site.config.feed.websub_hub
    if not hub:
        return []
    urls = sorted(set(pending.split()) | set(changed_feed_urls(sets, report.written)))
    from pipeline.shell import websub  # urllib's HTTP stack, only with a hub

    failed = websub.publish(hub, urls)
    report.notified = [url for url in urls if url not in dict(failed)]
    for url, why in failed:
        report.warnings.append(
            Finding(
                "websub",
                "",
                f"the WebSub hub {hub} was not told that {url} changed: {why}; "
                "the next build tries again",
            )
        )
    return [url for url, _why in failed]


def _archive(site: Site, emails: Sequence[Email], templates: Templates) -> list[OutputFile]:
    """Each new email's page, and the index and feed of issues when they change (a
    new email) or are missing; the older issues come from their manifests."""
    pages = [
        OutputFile(f"{ARCHIVE_FOLDER}/{email.email_id}/index.html", email.page)
        for email in emails
        if email.page
    ]
    if not emails and (site.out_dir / ARCHIVE_FOLDER / "index.html").is_file():
        return pages
    issues = [
        Issue(email_id, m.subject, m.preheader, datetime.fromisoformat(m.date))
        for email_id, m in written_emails(site.out_dir)
    ] + [Issue(e.email_id, e.subject, e.preheader, e.date) for e in emails]
    return pages + (archive_index(issues, site.config, templates) if issues else [])


def _sooner(first: str, second: str) -> str:
    """The earlier of two RFC 3339 moments ("" is none)."""
    moments = [datetime.fromisoformat(m) for m in (first, second) if m]
    return rfc3339(min(moments)) if moments else ""
