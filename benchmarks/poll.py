"""Poll benchmark: 2,000 loopback feeds, two full cycles, against lemon24's ``reader``.

    python -m benchmarks.poll [--feeds 2000] [--entries 20] [--concurrency 20] [--reader-workers 1]

A separate process serves the feeds (HTTP/1.1 keep-alive, ETag, about 19 KB of RSS
with 20 entries each) on loopback addresses 127.0.0.2, 127.0.0.3…, each a host of its
own to the clients, spread as a real list is (``host_sizes``: most hosts serve one to
five feeds, some up to 20, a few 30 to 60), the same URLs for both sides. Cycle 1: every feed is new. Cycle 2: half the feeds changed
(two new entries), the other half answer 304 Not Modified. Each side runs in its
own fresh process on its own SQLite file (removed after), so peak RSS is its own; with
``--runs N`` the two sides alternate (ours, reader, ours, reader…) and the ratios are the
medians of the paired runs' ratios:

- news-monitor: ``poll_due_feeds(app, all_feeds=True)`` with the repository's
  watchlists (so matching and story grouping are included in the time; pass
  ``--watchlists EMPTY_DIR`` to leave matching out, as reader has none);
- reader: ``update_feeds(workers=N, scheduled=False)`` (it does not match).

Prints the wall time of each cycle, the peak RSS (main process; and sampled with its
forkserver and parse workers, as a sum of RSS, which counts their shared pages once per
process, and as PSS), and the ratios. ``make bench`` installs ``reader`` (the lock's ``bench`` group).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from benchmarks._corpus import FILLER_WORDS, rss_document, serve_feeds

TOPICAL = (
    "Relatives say recruiters in Moscow offered Nepali and Uzbek migrants army contracts with "
    "large signing bonuses before sending them to the front in Ukraine."
)


def feed_body(index: int, version: int, entries: int) -> bytes:
    """RSS of one feed; version 1 adds two newer entries (and drops the two oldest)."""
    items = []
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(version * 2, entries + version * 2):
        rng = random.Random(index * 1_000_003 + n)
        title = " ".join(rng.choice(FILLER_WORDS) for _ in range(8)).capitalize()
        paragraphs = [
            " ".join(rng.choice(FILLER_WORDS) for _ in range(45)).capitalize() + "."
            for _ in range(2)
        ]
        if n % 20 == 7:
            paragraphs.append(TOPICAL)
        description = "".join(f"&lt;p&gt;{p}&lt;/p&gt;" for p in paragraphs)
        when = format_datetime(base + timedelta(hours=index % 50 + n))
        items.append(
            f"<item><title>{title}</title><link>https://news{index % 97}.example.org/{index}/{n}"
            f"?utm_source=rss</link><guid>https://news{index % 97}.example.org/{index}/{n}</guid>"
            f"<pubDate>{when}</pubDate><description>{description}</description></item>"
        )
    return rss_document(index, items)


# ---------------------------------------------------------------- the feed server


def host_sizes(feeds: int) -> list[int]:
    """How many feeds each host serves, in the shape of a real feed list (fixed seed).

    Nearly half the hosts serve one feed, a third two to five, a fifth six to 20 (a
    newspaper's sections) and one in twenty 30 to 60 (a broadcaster's languages and
    regions): 2,000 feeds are about 300 hosts. Every feed on one host instead made
    each claim take ``claim.HOST_CAP_PER_SLOT`` x 2 feeds and the fetcher 2 connections,
    which no real list does.
    """
    rng = random.Random(13)
    sizes: list[int] = []
    left = feeds
    while left > 0:
        draw = rng.random()
        if draw < 0.45:
            size = 1
        elif draw < 0.75:
            size = rng.randint(2, 5)
        elif draw < 0.95:
            size = rng.randint(6, 20)
        else:
            size = rng.randint(30, 60)
        sizes.append(min(size, left))
        left -= sizes[-1]
    return sizes


def address(number: int) -> str:
    """The loopback address of host ``number`` (0: 127.0.0.2): all of 127/8 reaches lo."""
    n = number + 2
    return f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def feed_hosts(feeds: int) -> list[str]:
    """The address of each feed's host, the hosts' feeds shuffled through the list."""
    hosts = [address(number) for number, size in enumerate(host_sizes(feeds)) for _ in range(size)]
    random.Random(14).shuffle(hosts)
    return hosts


def serve(port_out: Any, cycle: Any, feeds: int, entries: int) -> None:
    bodies = {(i, v): feed_body(i, v, entries) for i in range(feeds) for v in (0, 1)}
    serve_feeds(
        port_out,
        version_of=lambda index: 1 if cycle.value == 2 and index % 2 == 0 else 0,
        body_of=lambda index, version: bodies[(index, version)],
        host=sorted(set(feed_hosts(feeds))),
    )


# ---------------------------------------------------------------- memory


def _memory_kb(pid: int, file: str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/{file}") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kb(pid: int) -> int:
    return _memory_kb(pid, "status", "VmRSS:")


def _pss_kb(pid: int) -> int:
    """Proportional set size: pages shared by n processes count 1/n in each."""
    return _memory_kb(pid, "smaps_rollup", "Pss:")


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


class TreeRSS:
    """Samples the memory of a process and all its descendants (parse workers) every 0.2 s.

    Two sums: RSS, which counts the pages the forked workers share with their
    forkserver once per process, and PSS, which splits each shared page among its sharers
    (the memory the tree really holds). It runs in the benchmark's own process, not in
    the one measured: reading /proc there took that process's CPU and GIL.
    """

    def __init__(self, pid: int) -> None:
        import threading

        self.pid = pid
        self.peak_total_mb = 0.0
        self.peak_pss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            tree = [self.pid, *_descendants(self.pid)]
            self.peak_total_mb = max(self.peak_total_mb, sum(map(_rss_kb, tree)) / 1024)
            self.peak_pss_mb = max(self.peak_pss_mb, sum(map(_pss_kb, tree)) / 1024)

    def stop(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join()
        return self.peak_total_mb, self.peak_pss_mb


# ---------------------------------------------------------------- the two clients


def run_monitor(urls: list[str], cycle: Any, concurrency: int, watchlists: str, out: Any) -> None:
    from monitor.app import App
    from monitor.config import Settings
    from monitor.ingest import poll_due_feeds
    from monitor.store import feeds as store
    from monitor.store.db import transaction

    folder = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'monitor.db'}",
        watchlists_dir=Path(watchlists),
        outbox_dir=folder / "outbox",
        allow_private_addresses=True,
        import_default_feeds=False,
        fetch_concurrency=concurrency,
    )
    app = App.open(settings)
    with transaction(app.sessions) as session:
        for url in urls:
            store.add_feed(session, url, now=datetime.now(UTC))
    times = []
    for number in (1, 2):
        cycle.value = number
        start = time.perf_counter()
        report = poll_due_feeds(app, all_feeds=True)
        times.append(time.perf_counter() - start)
        statuses: dict[str, int] = {}
        for outcome in report.outcomes:
            statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
        print(
            f"  news-monitor cycle {number}: {times[-1]:.2f} s, {report.new_articles} new, "
            f"{statuses}, matches {report.matched}",
            flush=True,
        )
    app.close()
    shutil.rmtree(folder, ignore_errors=True)
    out.put((times, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run_reader(urls: list[str], cycle: Any, workers: int, out: Any) -> None:
    from reader import make_reader

    folder = Path(tempfile.mkdtemp(prefix="bench-reader-"))
    reader = make_reader(str(folder / "reader.sqlite"))
    for url in urls:
        reader.add_feed(url)
    times = []
    for number in (1, 2):
        cycle.value = number
        start = time.perf_counter()
        reader.update_feeds(workers=workers, scheduled=False)
        times.append(time.perf_counter() - start)
        print(f"  reader cycle {number}: {times[-1]:.2f} s", flush=True)
    entries = reader.get_entry_counts().total
    reader.close()
    shutil.rmtree(folder, ignore_errors=True)
    out.put((times, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, entries))


def in_process(target: Any, *args: Any) -> Any:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    assert process.pid is not None
    sampler = TreeRSS(process.pid)
    result = queue.get()
    process.join()
    return (*result, sampler.stop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--reader-workers", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="repeat each side; medians printed")
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument(
        "--watchlists",
        default=str(Path(__file__).resolve().parent.parent / "watchlists"),
        help="watchlists folder (an empty folder: no matching, like reader)",
    )
    args = parser.parse_args()

    # The process targets by their module's name: under ``python -m benchmarks`` this
    # module runs as __main__, which a spawned process cannot import them from.
    from benchmarks import poll

    context = mp.get_context("spawn")
    port = context.Value("i", 0)
    cycle = context.Value("i", 1)
    server = context.Process(
        target=poll.serve, args=(port, cycle, args.feeds, args.entries), daemon=True
    )
    server.start()
    while port.value == 0:
        time.sleep(0.05)
    hosts = feed_hosts(args.feeds)
    urls = [f"http://{hosts[i]}:{port.value}/feed/{i}" for i in range(args.feeds)]
    size = len(feed_body(0, 0, args.entries))
    sizes = host_sizes(args.feeds)
    print(
        f"{args.feeds} feeds x {args.entries} entries, about {size / 1024:.1f} KB each, "
        f"on {len(sizes)} hosts ({min(sizes)} to {max(sizes)} feeds each, "
        f"median {statistics.median(sizes):g})"
    )

    # Each run is a pair, ours then reader's, so both sides see the same machine: its
    # speed drifts by a third over minutes here, and a ratio of medians taken minutes
    # apart would carry that drift. The ratios printed are the medians of the pairs'.
    ours: list[Any] = []
    peers: list[Any] = []
    for _ in range(args.runs):
        ours.append(in_process(poll.run_monitor, urls, cycle, args.concurrency, args.watchlists))
        if not args.skip_reader:
            peers.append(in_process(poll.run_reader, urls, cycle, args.reader_workers))
    first = statistics.median(r[0][0] for r in ours)
    second = statistics.median(r[0][1] for r in ours)
    rss = max(r[1] for r in ours)
    tree_rss = max(r[2][0] for r in ours)
    tree_pss = max(r[2][1] for r in ours)
    print(
        f"news-monitor: cycle 1 {first:.2f} s, cycle 2 {second:.2f} s "
        f"(cycle 1 / cycle 2 = {statistics.median(r[0][0] / r[0][1] for r in ours):.1f}x; "
        f"runs: {', '.join(f'{r[0][0] / r[0][1]:.1f}x' for r in ours)}), "
        f"peak RSS {rss:.0f} MB "
        f"(with the forkserver and parse workers, sampled: RSS sum {tree_rss:.0f} MB, "
        f"PSS {tree_pss:.0f} MB)"
    )
    if peers:
        peer_first = statistics.median(r[0][0] for r in peers)
        peer_second = statistics.median(r[0][1] for r in peers)
        print(
            f"reader (workers={args.reader_workers}): "
            f"cycle 1 {peer_first:.2f} s, cycle 2 {peer_second:.2f} s, "
            f"peak RSS {max(r[1] for r in peers):.0f} MB, {peers[0][2]} entries"
        )
        ratio_first = statistics.median(p[0][0] / o[0][0] for o, p in zip(ours, peers, strict=True))
        ratio_second = statistics.median(
            p[0][1] / o[0][1] for o, p in zip(ours, peers, strict=True)
        )
        print(
            f"ratio reader / news-monitor (median of {len(peers)} paired runs): "
            f"cycle 1 {ratio_first:.1f}x, cycle 2 {ratio_second:.1f}x"
        )
    server.terminate()


if __name__ == "__main__":
    main()
