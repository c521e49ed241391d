"""Compare this checkout's `newsletter build` with another revision's, A/B.

    .venv/bin/python benchmarks/compare.py --against REV [--sizes 1000 10000] [--rounds 11]

Both codes build twin copies of one generated corpus, in alternating order, the
four cases of run.py (cold, nothing, new, modified) each round. The table gives the
median and the minimum CPU time (user + system, from the child's own rusage) of
each, and new / old: on a machine whose speed drifts by a fifth from hour to hour,
alternating runs and CPU time are what make a 10% difference visible. REV is
checked out with `git worktree` into a temporary folder and run from there with
this checkout's virtual environment. Run it by hand: it is not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from corpus import generate  # noqa: E402
from run import CONFIG, NOW, modify_post, new_post  # noqa: E402

CASES = ("cold", "nothing", "new", "modified")


def cpu_of(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed in {cwd}")
    return usage.ru_utime + usage.ru_stime


def compare(size: int, rounds: int, codes: dict[str, Path], root: Path) -> None:
    sites = {name: root / f"{name}-{size}" for name in codes}
    first, *others = sites.values()
    generate(first / "content", size)
    for site in others:
        shutil.copytree(first, site)
    envs = {}
    for name, code in codes.items():
        (sites[name] / "newsletter.toml").write_text(CONFIG)
        envs[name] = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "pipeline", "build", "-q", "--now", NOW]
    times: dict[str, dict[str, list[float]]] = {n: {c: [] for c in CASES} for n in codes}
    for number in range(rounds):
        order = list(codes) if number % 2 == 0 else list(reversed(codes))
        for name in order:
            site, env = sites[name], envs[name]
            shutil.rmtree(site / ".newsletter", ignore_errors=True)
            shutil.rmtree(site / "out", ignore_errors=True)
            times[name]["cold"].append(cpu_of(command, site, env))
            times[name]["nothing"].append(cpu_of(command, site, env))
            new_post(site, number)
            times[name]["new"].append(cpu_of(command, site, env))
            modify_post(site, number)
            times[name]["modified"].append(cpu_of(command, site, env))
    old, new = times["old"], times["new"]
    for case in CASES:
        medians = statistics.median(old[case]), statistics.median(new[case])
        minima = min(old[case]), min(new[case])
        print(
            f"| {size:,} | {case} | {medians[0]:.3f} | {medians[1]:.3f} | "
            f"{medians[1] / medians[0]:.2f} | {minima[0]:.3f} | {minima[1]:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the git revision to compare with")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsletter-compare-") as folder:
        root = Path(folder)
        worktree = root / "old-code"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), args.against],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            print("| posts | case | old CPU s (median) | new | new / old | old min | new min |")
            print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
            for size in args.sizes:
                compare(size, args.rounds, {"old": worktree, "new": REPO}, root)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO)


if __name__ == "__main__":
    main()
