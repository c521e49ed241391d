"""Time `newsletter build` on corpora of 1,000 / 10,000 / 100,000 posts.

    .venv/bin/python benchmarks/run.py [--sizes 1000 10000] [--runs 5] [--json FILE]

For each size, in a temporary folder, the median and min-max over the runs of wall
time, CPU time (user + system, the workers' included) and peak memory, for:
  cold       a first build with an empty ledger and no cache
  nothing    a run with nothing changed
  new        a run after one new post (feeds and one digest)
  modified   a run after one post's modified_at and body changed
  status     `newsletter status` after a build, nothing changed since
  preview    `newsletter preview` from its start to its page's first answer
  reload     from saving a post to the running preview's page answering with it
  check_cold `newsletter check` with nothing kept from an earlier check
  check_edit `newsletter check` after one post's body changed
With --peers, Hugo and Pelican (when installed) build the same corpus, and the
table shows our time as a ratio of theirs; Hugo's builds and our checks with
nothing kept alternate with our cold builds, so each pair is timed at the machine's
speed of the moment. Hugo does the same
work as our cold build: no HTML pages, one RSS feed of the newest `[feed] limit`
posts with their full content, through the small rss.xml layout below. Run it by
hand: not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from corpus import generate  # noqa: E402

NOW = "2026-11-24T08:00:00+00:00"
CONFIG = """\
[site]
title = "Driftly"
url = "https://driftly.blog/"
author = "Marina"
timezone = "Europe/London"

[email]
from = "Driftly <hello@driftly.blog>"
to = "readers@lists.driftly.blog"
unsubscribe_url = "https://driftly.blog/unsubscribe/"
postal_address = "12 Harbour Lane, Bristol"
"""


class PeerFailed(Exception):
    """A peer's build failed (or was killed): its row is left out."""


def measure(command: list[str], cwd: Path) -> dict[str, float]:
    """Wall, CPU and peak memory of one child process (its own rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        message = f"{' '.join(command)} exited {code}: {process.stderr.read().decode()[-2000:]}"
        if command[0] != sys.executable:
            raise PeerFailed(message)
        raise SystemExit(message)
    process.stderr.close()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


FEED_LIMIT = 20  # [feed] limit's default: the entries Hugo's feed holds too
HUGO_CONFIG = """\
baseURL = "https://driftly.blog/"
title = "Driftly"
disableKinds = ["taxonomy", "term", "sitemap", "robotsTXT", "404", "section"]
[outputs]
home = ["RSS"]
page = []
[frontmatter]
date = ["published_at", ":default"]
lastmod = ["modified_at", ":default"]
"""
HUGO_RSS = (
    '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>\n'
    "<title>{{ .Site.Title }}</title><link>{{ .Permalink }}</link>\n"
    f"{{{{ range first {FEED_LIMIT} .Site.RegularPages.ByDate.Reverse }}}}"
    "<item><title>{{ .Title }}</title><link>{{ .Permalink }}</link>"
    "<guid>{{ .Permalink }}</guid>"
    '<pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" }}</pubDate>'
    "<description>{{ .Summary | html }}</description>"
    "<content:encoded>{{ .Content | html }}</content:encoded></item>\n"
    "{{ end }}</channel></rss>\n"
)


def start_preview(site: Path) -> tuple[subprocess.Popen[str], str]:
    """`newsletter preview` on a free port, and its address once it says it."""
    process = subprocess.Popen(
        [*command("preview"), "--no-open", "--port", "0", "--json"],
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None  # noqa: S101 (a pipe was asked for)
    return process, json.loads(process.stdout.readline())["url"]


def preview_start(site: Path) -> dict[str, float]:
    """From starting `newsletter preview` to its page's first answer over loopback
    (the email rendered): what the author waits for. CPU and memory: the whole run."""
    started = time.perf_counter()
    process, url = start_preview(site)
    with urllib.request.urlopen(url, timeout=120) as answer:  # noqa: S310 (127.0.0.1)
        answer.read()
    wall = time.perf_counter() - started
    process.terminate()
    _pid, _status, usage = os.wait4(process.pid, 0)
    process.stdout.close()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def preview_reloads(site: Path, edits: int) -> list[dict[str, float]]:
    """From saving a post (in place, as an editor saves) to the running preview's
    page answering after it saw the change, once per edit, a second and a half
    apart (an author saving as they write). Wall time only: CPU is the server's."""
    process, url = start_preview(site)

    def get(path: str) -> bytes:
        with urllib.request.urlopen(url + path, timeout=120) as answer:  # noqa: S310 (127.0.0.1)
            return bytes(answer.read())

    get("")
    post = sorted((site / "content").rglob("post-*.md"))[-1]
    text = post.read_text()
    samples = []
    try:
        for number in range(edits):
            version = json.loads(get("version"))["version"]
            started = time.perf_counter()
            post.write_text(f"{text}\nSaved again, number {number}.\n")
            while json.loads(get("version"))["version"] == version:
                time.sleep(0.02)
            get("")
            samples.append({"wall": time.perf_counter() - started, "cpu": 0.0, "peak_mb": 0.0})
            time.sleep(1.5)
    finally:
        post.write_text(text)
        process.terminate()
        process.wait()
        process.stdout.close()
    return samples


def newsletter(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "build", "-q", "--now", NOW, *args]


def command(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", name, "--now", NOW, *args]


def new_post(site: Path, number: int) -> None:
    (site / "content" / "bench").mkdir(parents=True, exist_ok=True)
    (site / "content" / "bench" / f"new-{number}.md").write_text(
        f'---\ntitle: "Benchmark post {number}"\nid: "{900_000 + number}"\n'
        f'published_at: "2026-11-24T07:{number:02d}:00+00:00"\n'
        f'taxonomy_category:\n  - "Sleep"\n---\n\nA new post, number {number}.\n'
    )


def modify_post(site: Path, number: int) -> None:
    path = sorted((site / "content").rglob("post-*.md"))[-1 - number]
    text = path.read_text()
    head, _, body = text.partition("\n---\n")
    lines = [
        f'modified_at: "2026-11-24T06:{number:02d}:00+00:00"'
        if line.startswith("modified_at:")
        else line
        for line in head.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n---\n" + body + f"\nAn edit, number {number}.\n")


def summarize(samples: list[dict[str, float]]) -> dict[str, float]:
    result = {}
    for key in ("wall", "cpu", "peak_mb"):
        values = [sample[key] for sample in samples]
        result[key] = statistics.median(values)
        result[f"{key}_min"] = min(values)
        result[f"{key}_max"] = max(values)
    return result


def rounds(ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> dict[str, float]:
    """Wall time ratios of samples taken in turn, round by round: their median and
    range (this machine's speed drifts, and the medians of the two may come from
    different minutes)."""
    ratios = [mine["wall"] / other["wall"] for mine, other in zip(ours, theirs, strict=True)]
    return {"ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def bench_size(size: int, runs: int, root: Path, peers: bool) -> dict[str, dict[str, float]]:
    site = root / f"site-{size}"
    print(f"generating {size:,} posts…", file=sys.stderr)
    generate(site / "content", size)
    (site / "newsletter.toml").write_text(CONFIG)
    results: dict[str, list[dict[str, float]]] = {
        k: []
        for k in (
            "cold",
            "nothing",
            "new",
            "modified",
            "status",
            "preview",
            "reload",
            "check_cold",
            "check_edit",
        )
    }
    hugo = hugo_site(site) if peers else None
    found: dict[str, dict[str, float]] = {}
    hugo_samples: list[dict[str, float]] = []
    kept = site / ".newsletter" / "check.sqlite"
    for _ in range(runs):
        # Our cold build, a check with nothing kept and Hugo's build in turn: this
        # machine's speed drifts from minute to minute, and each ratio must compare
        # the two at the same speed.
        shutil.rmtree(site / "out", ignore_errors=True)
        shutil.rmtree(site / ".newsletter", ignore_errors=True)
        results["cold"].append(measure(newsletter(), site))
        kept.unlink(missing_ok=True)
        results["check_cold"].append(measure(command("check", "--json"), site))
        if hugo is not None:
            shutil.rmtree(hugo / "public", ignore_errors=True)
            try:
                hugo_samples.append(measure(["hugo", "--quiet"], hugo))
            except PeerFailed as failure:
                print(f"peer failed: {failure}", file=sys.stderr)
                hugo = None
    if hugo_samples:
        found["hugo"] = summarize(hugo_samples)
        found["cold / hugo, each round"] = rounds(results["cold"], hugo_samples)
    found["check_cold / cold, each round"] = rounds(results["check_cold"], results["cold"])
    for _ in range(runs):
        results["nothing"].append(measure(newsletter(), site))
    for number in range(runs):
        new_post(site, number)
        results["new"].append(measure(newsletter(), site))
    for number in range(runs):
        modify_post(site, number)
        results["modified"].append(measure(newsletter(), site))
    for _ in range(runs):
        results["status"].append(measure(command("status"), site))
    for _ in range(runs):
        results["preview"].append(preview_start(site))
    results["reload"] = preview_reloads(site, max(5, runs))
    measure(command("check", "--json"), site)  # kept rows for the posts changed since
    for number in range(runs):
        modify_post(site, runs + number)
        results["check_edit"].append(measure(command("check", "--json"), site))
    summary = {case: summarize(samples) for case, samples in results.items()}
    summary.update(found)
    print(table({size: summary}), file=sys.stderr)  # ours first: a peer may fail
    if peers:
        summary.update(time_pelican(site, runs))
    shutil.rmtree(site)
    return summary


def hugo_site(site: Path) -> Path | None:
    """The corpus as a Hugo site doing our cold build's work (None: no `hugo`)."""
    if not shutil.which("hugo"):
        return None
    work = site.parent / "hugo"
    shutil.rmtree(work, ignore_errors=True)
    # Hugo reads `url:` as a path and refuses absolute URLs: the copy leaves it out.
    for post in (site / "content").rglob("*.md"):
        target = work / "content" / "posts" / post.relative_to(site / "content")
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = post.read_text().split("\n")
        target.write_text("\n".join(line for line in lines if not line.startswith("url: ")))
    (work / "hugo.toml").write_text(HUGO_CONFIG)
    (work / "layouts" / "_default").mkdir(parents=True)
    (work / "layouts" / "_default" / "rss.xml").write_text(HUGO_RSS)
    return work


def time_pelican(site: Path, runs: int) -> dict[str, dict[str, float]]:
    """Pelican (with its cache) after one post changed, when installed. A failure
    is reported on stderr and left out."""
    pelican = shutil.which("pelican")
    if not pelican:
        return {}
    work = site.parent / "pelican"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(site / "content", work / "content")
    (work / "pelicanconf.py").write_text(
        'SITEURL = "https://driftly.blog"\nSITENAME = "Driftly"\nTIMEZONE = "UTC"\n'
        "LOAD_CONTENT_CACHE = True\nCACHE_CONTENT = True\n"
        # No `date:` in the posts (they say published_at): the file's time, as
        # Pelican allows; the front matter is read by pelican-yaml-metadata.
        'DEFAULT_DATE = "fs"\n'
        'FEED_ALL_ATOM = "feeds/all.atom.xml"\n'
    )
    command = [pelican, "content", "-s", "pelicanconf.py", "-o", "output", "-q"]
    try:
        measure(command, work)  # fills the cache
        first = sorted((work / "content").rglob("*.md"))[0]
        first.write_text(first.read_text() + "\nEdited.\n")
        return {"pelican_one_changed": summarize([measure(command, work) for _ in range(runs)])}
    except PeerFailed as failure:
        print(f"peer failed: {failure}", file=sys.stderr)
        return {}


def table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| posts | case | wall median (min-max) s | CPU median s | peak memory MB |",
        "| ---: | --- | --- | ---: | ---: |",
    ]
    for size, cases in results.items():
        for case, r in cases.items():
            if "ratio" in r:  # the ratios of samples taken in turn: below
                continue
            lines.append(
                f"| {size:,} | {case} | {r['wall']:.2f} ({r['wall_min']:.2f}-{r['wall_max']:.2f})"
                f" | {r['cpu']:.2f} | {r['peak_mb']:.0f} |"
            )
        # Hugo rebuilds everything on every run: set our cold build and our cron run
        # (one new post) against it. Pelican's cached run after one change: against
        # ours after one modified post.
        # And a check with nothing kept against our own cold build.
        pairs = (
            ("hugo", "cold"),
            ("hugo", "new"),
            ("pelican_one_changed", "modified"),
            ("cold", "check_cold"),
        )
        for peer, ours in pairs:
            if peer in cases:
                ratio = cases[ours]["wall"] / cases[peer]["wall"]
                lines.append(f"| {size:,} | {ours} / {peer} | {ratio:.3f} | | |")
        for case, r in cases.items():
            if "ratio" in r:
                each = f"{r['ratio']:.3f} ({r['min']:.3f}-{r['max']:.3f})"
                lines.append(f"| {size:,} | {case} | {each} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--peers", action="store_true", help="also time Hugo and Pelican")
    parser.add_argument(
        "--peers-up-to",
        type=int,
        default=100_000,
        metavar="POSTS",
        help="time peers only on corpora this size or smaller",
    )
    arguments = parser.parse_args()
    os.environ["PYTHONPATH"] = str(REPO)
    results = {}
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as folder:
        for size in arguments.sizes:
            peers = arguments.peers and size <= arguments.peers_up_to
            results[size] = bench_size(size, arguments.runs, Path(folder), peers)
    arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
