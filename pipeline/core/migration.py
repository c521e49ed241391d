"""Pure: whether moving an archive from another tool is safe, on one screen.

`check --migrating` reads every post as a build would and counts what the old
tool's template syntax became: tags resolved (by kind), tags left (which a build
holds the post back for, or strips), links naming nothing, posts rejected and
why, and three sample permalinks to compare with the old site's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pipeline.core.checks import lenient
from pipeline.core.errors import PostError
from pipeline.core.posts.read import read_header, template_tags
from pipeline.core.posts.templating.lookup import KnownPosts, Lookup
from pipeline.core.settings import Config

SHOWN = 5  # examples of each kind of problem


@dataclass(frozen=True)
class Problem:
    where: str  # file:line
    what: str


@dataclass(frozen=True)
class MigrationReport:
    posts_read: int
    resolved: tuple[tuple[str, int], ...]  # by kind, most first
    left: tuple[Problem, ...]
    unresolved: tuple[Problem, ...]
    rejected: tuple[Problem, ...]  # posts a build would hold back
    samples: tuple[tuple[str, str], ...]  # (file, permalink)
    unknown_tags: str  # the setting: what a build does with the tags left

    @property
    def safe(self) -> bool:
        return not (self.left or self.unresolved or self.rejected)

    def as_dict(self) -> dict[str, object]:
        return {
            "posts_read": self.posts_read,
            "resolved": dict(self.resolved),
            "left": [vars(p) for p in self.left],
            "unresolved": [vars(p) for p in self.unresolved],
            "rejected": [vars(p) for p in self.rejected],
            "samples": [{"file": f, "url": u} for f, u in self.samples],
            "safe": self.safe,
        }


def migration_report(
    files: Sequence[tuple[str, bytes]],
    config: Config,
    site_lookup: Callable[[KnownPosts], Lookup] = lambda posts: posts,
) -> MigrationReport:
    reading = lenient(config)
    includes = site_lookup(KnownPosts({}))
    urls: dict[str, str] = {}
    rejected: list[Problem] = []
    for source, raw in files:
        try:
            urls[source] = read_header(source, raw, reading, includes).url
        except PostError as error:
            rejected.append(Problem(error.where, error.message))
    lookup = site_lookup(KnownPosts(urls))
    counts: Counter[str] = Counter()
    left: list[Problem] = []
    unresolved: list[Problem] = []
    for source, raw in files:
        if source not in urls:
            continue
        tags = template_tags(source, raw, reading, lookup)
        counts.update(dict(tags.counts))
        left += [Problem(f"{source}:{p.line}", f"{p.tag}: {p.message}") for p in tags.left]
        unresolved += [Problem(f"{source}:{p.line}", p.message) for p in tags.unresolved]
        if tags.left and config.build.unknown_tags == "reject":
            rejected.append(Problem(f"{source}:{tags.left[0].line}", "template syntax left"))
    sources = sorted(urls)
    picks = sorted({0, len(sources) // 2, len(sources) - 1}) if sources else []
    return MigrationReport(
        posts_read=len(files),
        resolved=tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        left=tuple(left),
        unresolved=tuple(unresolved),
        rejected=tuple(sorted(rejected, key=lambda p: p.where)),
        samples=tuple((sources[i], urls[sources[i]]) for i in picks),
        unknown_tags=config.build.unknown_tags,
    )


def describe_migration(report: MigrationReport) -> Iterator[str]:
    yield f"{report.posts_read} post(s) read"
    total = sum(count for _kind, count in report.resolved)
    yield f"template tags resolved: {total}"
    for kind, count in report.resolved:
        yield f"  {count:5d}  {kind}"
    action = "holds the post back" if report.unknown_tags == "reject" else "strips the tag"
    yield f"template tags left: {len(report.left)} (a build {action}: [build] unknown_tags)"
    yield from _examples(report.left)
    yield f"links that name no post or page: {len(report.unresolved)}"
    yield from _examples(report.unresolved)
    yield f"posts a build would hold back: {len(report.rejected)}"
    yield from _examples(report.rejected)
    yield "permalinks of three posts (compare them with the old site's):"
    for source, url in report.samples:
        yield f"  {source} -> {url}"
    if report.safe:
        yield "the move is safe: every post reads, every tag resolves, every link has a target"
    else:
        yield "fix what is listed above (newsletter check names each), then run this again"


def _examples(problems: Sequence[Problem]) -> Iterator[str]:
    for problem in problems[:SHOWN]:
        yield f"  {problem.where}: {problem.what}"
    if len(problems) > SHOWN:
        yield f"  ... and {len(problems) - SHOWN} more"
