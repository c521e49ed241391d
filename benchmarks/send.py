"""Time `newsletter send` to a local SMTP sink against the floor: plain smtplib.

    .venv/bin/python benchmarks/send.py [--messages 10000] [--connections 1 2] [--runs 3]

A site with one email and N subscribers; an aiosmtpd sink in its own process that
accepts and forgets. Ours: `newsletter send` (outbox rows committed before and
after each message, per-recipient headers, Message-IDs). The floor: smtplib in one
process sending the same prebuilt bytes to the same N recipients over the same
number of connections, with no bookkeeping at all. The table gives the medians of
messages per second, our share of the floor, and our peak memory at N/5 and N
messages (flat means the outbox is streamed, not held). Run it by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import CONFIG, NOW, measure  # noqa: E402

SINK = textwrap.dedent(
    """
    import sys, time
    from aiosmtpd.controller import Controller
    class Forget:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"
    controller = Controller(Forget(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()
    """
)
FLOOR = textwrap.dedent(
    """
    import smtplib, sys, threading
    port, connections, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[4])
    path = sys.argv[3]
    data = open(path, "rb").read()
    recipients = [f"reader{i:06d}@example.org" for i in range(count)]
    def run(part):
        with smtplib.SMTP("127.0.0.1", port) as client:
            for recipient in part:
                client.sendmail("hello@driftly.blog", [recipient], data)
    threads = [threading.Thread(target=run, args=(recipients[i::connections],))
               for i in range(connections)]
    for t in threads: t.start()
    for t in threads: t.join()
    """
)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_site(root: Path, count: int, port: int, connections: int) -> Path:
    site = root / f"site-{count}-{connections}"
    (site / "content").mkdir(parents=True)
    (site / "content" / "post.md").write_text(
        "---\ntitle: One post\ndate: 2026-11-23T08:00:00+00:00\nslug: one\n---\n\n"
        + "A paragraph of the post, long enough to be a real one. " * 40
        + "\n"
    )
    smtp = f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    smtp += f'connections = {connections}\n\n[send]\naudience = "subscribers"\n'
    smtp += 'secret_env = "NEWSLETTER_SECRET"\n'  # each reader's own unsubscribe link
    (site / "newsletter.toml").write_text(CONFIG + smtp)
    python = [sys.executable, "-m", "pipeline"]
    subprocess.run(
        [*python, "build", "-q", "--now", NOW, "--since", "2026-11-01"], cwd=site, check=True
    )
    people = site / "people.csv"
    people.write_text("email\n" + "".join(f"reader{i:06d}@example.org\n" for i in range(count)))
    subprocess.run(
        [*python, "subscribers", "import", str(people)],
        cwd=site,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("NEWSLETTER_SECRET", "benchmark-secret")
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if sink.stdout is None or sink.stdout.readline().strip() != "ready":
        raise SystemExit("the SMTP sink did not start")
    print("| messages | connections | ours msg/s | floor msg/s | ours / floor | ours peak MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    try:
        with tempfile.TemporaryDirectory(prefix="newsletter-send-") as folder:
            root = Path(folder)
            for connections in args.connections:
                for count in (args.messages // 5, args.messages):
                    ours, floor, peaks = [], [], []
                    for run in range(args.runs):
                        site = make_site(root / f"run{run}", count, port, connections)
                        [eml] = site.glob("out/email/*/email.eml")
                        started = time.perf_counter()
                        subprocess.run(
                            [
                                sys.executable,
                                "-c",
                                FLOOR,
                                str(port),
                                str(connections),
                                str(eml),
                                str(count),
                            ],
                            check=True,
                        )
                        floor.append(count / (time.perf_counter() - started))
                        send = [sys.executable, "-m", "pipeline", "send", "-q", "--now", NOW]
                        result = measure(send, site)
                        ours.append(count / result["wall"])
                        peaks.append(result["peak_mb"])
                    mine, base = statistics.median(ours), statistics.median(floor)
                    print(
                        f"| {count:,} | {connections} | {mine:,.0f} | {base:,.0f} | "
                        f"{mine / base:.2f} | {statistics.median(peaks):.0f} |",
                        flush=True,
                    )
    finally:
        sink.communicate("")


if __name__ == "__main__":
    main()
