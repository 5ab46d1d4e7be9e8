"""Web and search benchmark: a store of 1,000,000 articles, searched and browsed by concurrent
clients, beside lemon24's ``reader`` searching the same articles with its own FTS5.

    python -m benchmarks.web [--articles 1000000] [--feeds 10000] [--clients 4]
                             [--requests 200] [--russian-every 20] [--skip-reader] [--skip-pages]
                             [--poll-runs 3] [--poll-feeds 500] [--only-poll] [--store DIR]
                             [--reader-articles N]

1. The store: ``benchmarks.scale.seed`` bulk-inserts the feeds and articles (its generator:
   English filler text); every ``--russian-every``-th article is then given a Russian text of
   our own (inflected forms of a small vocabulary); every 100th article a match, and articles
   are grouped in stories of three. The search index is built by ``rebuild_index`` (what
   migration 0010 runs), timed.
2. Searches, through ``monitor.store.search.search`` (what the CLI, the page and the API call),
   ``--clients`` threads each with its own session, ``--requests`` per kind: one word, a phrase,
   a prefix, a Russian word that must find its inflected forms; first page (20), newest first.
   Beside them, in the same run, ``reader`` over the same articles (``add_entry``,
   ``enable_search``, ``update_search``; ``search_entries(sort="recent", limit=20)``) with the
   same queries as FTS5 text. Printed: p50 and p95 per kind and side, hits on the first page.
3. Pages (unless ``--skip-pages``): ``news-monitor web`` in its own process on loopback, a
   logged-in session, ``--clients`` threads fetching the matches page, a story page and
   ``/api/v1/search``: p50 and p95.

4. The index's cost to the poll: ``benchmarks.poll --skip-reader`` run ``--poll-runs`` times
   each way, alternating, with ``MONITOR_SEARCH_INDEX=false`` and ``true``: the median CPU
   seconds of its process tree (poller, parse workers, feed server) and wall time.

``--store DIR`` keeps the filled store (and reader's database) in DIR and reuses it on the
next run (migrations applied: a new index is built on it), since a 1M fill takes a while.

Goals (issue 17): search p95 < 100 ms on SQLite, pages p95 < 200 ms, poll cost <= 10 %.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import httpx

from benchmarks import scale

#: a vocabulary of our own, several forms of each word (so a lemma must find the others)
RUSSIAN = [
    "вербовка",
    "вербовки",
    "вербовке",
    "вербовку",
    "вербовкой",
    "мигранты",
    "мигрантов",
    "мигрантам",
    "мигрантами",
    "контракт",
    "контракта",
    "контракты",
    "контрактов",
    "завод",
    "завода",
    "заводе",
    "рабочие",
    "рабочих",
    "рабочим",
    "семья",
    "семьи",
    "семей",
    "семьям",
    "деньги",
    "денег",
    "деньгами",
    "фронт",
    "фронта",
    "фронте",
    "обещали",
    "обещают",
    "обещал",
    "граница",
    "границы",
    "границе",
    "власти",
    "власть",
    "властей",
    "город",
    "города",
    "городе",
]

#: per kind: the queries cycled through (ours; reader gets the FTS5 text beside each)
QUERIES: dict[str, list[tuple[str, str]]] = {
    "word": [("harvest", "harvest"), ("parliament", "parliament"), ("museum", "museum")],
    "phrase": [
        ('"minister report"', '"minister report"'),
        ('"energy water"', '"energy water"'),
        ('"bank loan"', '"bank loan"'),
    ],
    "prefix": [("parl*", "parl*"), ("harv*", "harv*"), ("festiv*", "festiv*")],
    "russian": [("вербовка", "вербовка"), ("мигрант", "мигрант"), ("граница", "граница")],
}
PAGE = 20
PASSWORD = "benchmark password, long enough"


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(label: str, times: Sequence[float], extra: str = "") -> tuple[float, float]:
    p50, p95 = statistics.median(times) * 1000, percentile(times, 0.95) * 1000
    print(
        f"  {label:<28} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   n={len(times)}{extra}", flush=True
    )
    return p50, p95


def hammer(
    clients: int, requests: int, make: Callable[[], Callable[[int], int]]
) -> tuple[list[float], list[int]]:
    """``clients`` threads, each with its own ``make()`` worker, ``requests`` calls in all."""
    times: list[float] = []
    hits: list[int] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def run() -> None:
        work = make()
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            start = time.perf_counter()
            found = work(number)
            took = time.perf_counter() - start
            with lock:
                times.append(took)
                hits.append(found)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, hits


# ---------------------------------------------------------------- the store


def russian_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(RUSSIAN) for _ in range(words)).capitalize() + "."


def fill(
    database_url: str, folder: Path, feeds: int, articles: int, russian_every: int
) -> dict[str, Any]:
    """The store: articles (scale's generator), Russian texts, matches, stories, the index."""
    from sqlalchemy import insert, text

    from monitor.app import App
    from monitor.store.models import Match, Story
    from monitor.store.search import rebuild_index

    seconds = scale.seed(database_url, folder, 1, feeds, articles)
    print(f"  seeded {articles:,} articles over {feeds:,} feeds in {seconds:.1f} s", flush=True)
    app = App.open(scale.settings_for(database_url, folder))
    now = datetime.now(UTC)
    start = time.perf_counter()
    with app.engine.begin() as connection:
        top = int(connection.execute(text("SELECT max(id) FROM articles")).scalar_one())
        rng = random.Random(17)
        rows = [
            {"i": i, "t": russian_text(rng, 8), "x": russian_text(rng, 45)}
            for i in range(russian_every, top + 1, russian_every)
        ]
        connection.execute(
            text("UPDATE articles SET title = :t, text = :x, language = 'ru' WHERE id = :i"), rows
        )
        stories = top // 3
        connection.execute(insert(Story), [{"created_at": now} for _ in range(stories)])
        connection.execute(
            text("UPDATE articles SET story_id = (id + 2) / 3 WHERE id <= :n"), {"n": stories * 3}
        )
        connection.execute(
            insert(Match),
            [
                {
                    "article_id": i,
                    "watchlist": "foreign-recruitment",
                    "terms": ["recruit*"],
                    "countries": ["NP"],
                    "snippet": "A snippet of the article that matched, for the page.",
                    "highlights": [[2, 9]],
                    "score": 1.0,
                    "is_duplicate": False,
                    "created_at": now - timedelta(minutes=top - i),
                }
                for i in range(100, top + 1, 100)
            ],
        )
    print(
        f"  {len(rows):,} Russian texts, {stories:,} stories, {top // 100:,} matches in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    start = time.perf_counter()
    with app.engine.begin() as connection:
        done = rebuild_index(connection, batch=5_000)
    took = time.perf_counter() - start
    print(
        f"  search index built: {done:,} articles in {took:.1f} s ({done / took:,.0f} articles/s)",
        flush=True,
    )
    app.close()
    return {"top": top, "stories": stories}


def fill_reader(database_url: str, path: Path, articles: int) -> float:
    """reader's own database with the newest ``articles`` of ours (title, text as summary);
    seconds. (reader's ``update_search`` indexes ~200 entries/s here: 1M would take 80 min.)

    The entries are written by reader's storage in chunks of 256 (``add_or_update_entries``,
    the path its feed updates take) instead of one ``add_entry`` transaction each, which
    took an hour for 1M on this machine; the search index is reader's ``update_search``."""
    from reader import make_reader
    from reader._types import EntryUpdateIntent, entry_data_from_obj
    from sqlalchemy import create_engine, text

    start = time.perf_counter()
    reader = make_reader(str(path), search_enabled=False)
    feed = "https://bench.example.org/feed"
    reader.add_feed(feed, allow_invalid_url=True)
    now = datetime.now(UTC)
    engine = create_engine(database_url)
    chunk: list[Any] = []
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).execute(
            text("SELECT id, title, text, published_at FROM articles ORDER BY id DESC LIMIT :n"),
            {"n": articles},
        )
        for number, (article_id, title, body, published) in enumerate(result, 1):
            when = (
                published
                if isinstance(published, datetime)
                else datetime.fromisoformat(str(published))
            )
            data = entry_data_from_obj(
                {
                    "feed_url": feed,
                    "id": str(article_id),
                    "title": title,
                    "summary": body,
                    "published": when.replace(tzinfo=UTC) if when.tzinfo is None else when,
                }
            )
            chunk.append(
                EntryUpdateIntent(
                    entry=data,
                    last_updated=now,
                    first_updated=now,
                    first_updated_epoch=now,
                    recent_sort=data.published or now,
                    added_by="user",
                )
            )
            if len(chunk) == 256:
                reader._storage.add_or_update_entries(chunk)
                chunk = []
            if number % 100_000 == 0:
                print(f"  reader: {number:,} entries added", flush=True)
    if chunk:
        reader._storage.add_or_update_entries(chunk)
    engine.dispose()
    added = time.perf_counter() - start
    start = time.perf_counter()
    reader.enable_search()
    reader.update_search()
    indexed = time.perf_counter() - start
    reader.close()
    print(
        f"  reader: entries added in {added:.1f} s, search index built in {indexed:.1f} s",
        flush=True,
    )
    return indexed


# ---------------------------------------------------------------- searches


def search_ours(database_url: str, folder: Path, clients: int, requests: int) -> dict[str, float]:
    from monitor.app import App
    from monitor.matching.query import Query, parse_query
    from monitor.store.search import search

    app = App.open(scale.settings_for(database_url, folder), migrate=False)
    results: dict[str, float] = {}
    for kind, queries in QUERIES.items():
        parsed = [parse_query(ours) for ours, _ in queries]

        def make(parsed: list[Query] = parsed) -> Callable[[int], int]:
            def work(number: int) -> int:
                with app.sessions() as session:
                    return len(search(session, parsed[number % len(parsed)], limit=PAGE).hits)

            return work

        hammer(clients, len(queries) * clients, make)  # warm: caches, lemmas
        times, hits = hammer(clients, requests, make)
        results[kind] = report(f"ours   {kind}", times, f"   hits/page {min(hits)}-{max(hits)}")[1]
    app.close()
    return results


def search_reader(path: Path, clients: int, requests: int) -> dict[str, float]:
    from reader import EntrySearchSort, make_reader

    results: dict[str, float] = {}
    for kind, queries in QUERIES.items():

        def make(queries: list[tuple[str, str]] = queries) -> Callable[[int], int]:
            reader = make_reader(str(path))

            def work(number: int) -> int:
                query = queries[number % len(queries)][1]
                return len(
                    list(
                        islice(
                            reader.search_entries(query, sort=EntrySearchSort.RECENT, limit=PAGE),
                            PAGE,
                        )
                    )
                )

            return work

        hammer(clients, len(queries) * clients, make)
        times, hits = hammer(clients, requests, make)
        results[kind] = report(f"reader {kind}", times, f"   hits/page {min(hits)}-{max(hits)}")[1]
    return results


# ---------------------------------------------------------------- pages


def pages(database_url: str, folder: Path, clients: int, requests: int, stories: int) -> None:
    from monitor.app import App
    from monitor.store import users
    from monitor.store.db import transaction
    from monitor.store.models import UserRole

    app = App.open(scale.settings_for(database_url, folder), migrate=False)
    now = datetime.now(UTC)
    with contextlib.suppress(users.UserExistsError), transaction(app.sessions) as session:
        users.add_user(session, "bench@example.org", UserRole.VIEWER, PASSWORD, now)
    with transaction(app.sessions) as session:  # (the account stays in a --store store)
        token = users.create_token(session, "bench@example.org", now)
    app.close()
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_WATCHLISTS_DIR": str(scale.WATCHLISTS),
        "MONITOR_HTTP_PORT": str(port),
        "MONITOR_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen([sys.executable, "-m", "monitor", "web"], env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("news-monitor web did not answer within 60 s")
            time.sleep(0.2)
        cookies = login(base)
        rng = random.Random(5)
        story_ids = [rng.randrange(1, stories + 1) for _ in range(requests)]
        targets: dict[str, Callable[[int], str]] = {
            "matches page": lambda n: "/matches",
            "matches page, a watchlist": lambda n: "/matches?watchlist=foreign-recruitment",
            "story page": lambda n: f"/stories/{story_ids[n]}",
            "search page (вербовка)": lambda n: (
                "/search?q=%D0%B2%D0%B5%D1%80%D0%B1%D0%BE%D0%B2%D0%BA%D0%B0"
            ),
            "api search (parl*)": lambda n: f"/api/v1/search?q=parl*&token={token}",
        }
        for label, path in targets.items():

            def make(path: Callable[[int], str] = path) -> Callable[[int], int]:
                client = httpx.Client(base_url=base, cookies=cookies, timeout=30)

                def work(number: int) -> int:
                    response = client.get(path(number))
                    if response.status_code != 200:
                        raise RuntimeError(f"{path(number)}: {response.status_code}")
                    return 1

                return work

            hammer(clients, clients * 2, make)
            times, _ = hammer(clients, requests, make)
            report(label, times)
    finally:
        server.terminate()
        server.wait(10)


def login(base: str) -> httpx.Cookies:
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login")
        found = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert found is not None, "no CSRF field on /login"
        answer = client.post(
            "/login",
            data={
                "email": "bench@example.org",
                "password": PASSWORD,
                "csrf": found.group(1),
                "next": "/matches",
            },
        )
        if answer.status_code not in (302, 303):
            raise RuntimeError(f"login refused: {answer.status_code}")
        return client.cookies


def poll_cost(runs: int, feeds: int) -> None:
    """``benchmarks.poll`` with and without the index, alternating, in CPU seconds of its
    whole process tree (wall time on a shared machine moved by 2x between identical runs)."""
    import resource

    cpu: dict[str, list[float]] = {"true": [], "false": []}
    walls: dict[str, list[float]] = {"true": [], "false": []}
    for _ in range(runs):
        for value in ("false", "true"):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.poll", "--feeds", str(feeds), "--skip-reader"],
                env={**os.environ, "MONITOR_SEARCH_INDEX": value},
                capture_output=True,
                text=True,
                check=True,
                timeout=1800,
            )
            walls[value].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            cpu[value].append(used)
            line = next((x for x in done.stdout.splitlines() if x.startswith("news-monitor:")), "")
            print(f"  MONITOR_SEARCH_INDEX={value:<5} CPU {used:6.1f} s   {line[:60]}", flush=True)
    with_index, without = statistics.median(cpu["true"]), statistics.median(cpu["false"])
    paired = statistics.median(a / b for a, b in zip(cpu["true"], cpu["false"], strict=True))
    print(
        f"  poll ({feeds} feeds, 2 cycles), median CPU: with index {with_index:.1f} s, without "
        f"{without:.1f} s: cost {100 * (with_index / without - 1):+.1f} %, median of the "
        f"paired runs' ratios {100 * (paired - 1):+.1f} % (goal <= 10 %); "
        f"median wall {statistics.median(walls['true']):.1f} s vs "
        f"{statistics.median(walls['false']):.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="per kind of search or page")
    parser.add_argument("--russian-every", type=int, default=20)
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument(
        "--reader-articles",
        type=int,
        default=0,
        help="reader gets the newest N of the articles (default: all; its indexing is slow)",
    )
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument(
        "--poll-runs", type=int, default=3, help="benchmarks.poll runs each way (0: skip)"
    )
    parser.add_argument("--poll-feeds", type=int, default=500)
    parser.add_argument("--only-poll", action="store_true", help="only the poll's index cost")
    parser.add_argument("--store", help="keep the filled store in this folder and reuse it")
    args = parser.parse_args()
    if args.only_poll:
        poll_cost(args.poll_runs, args.poll_feeds)
        return
    with contextlib.ExitStack() as stack:
        if args.store:
            folder = Path(args.store).resolve()
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-web-")))
        database_url = f"sqlite:///{folder / 'monitor.db'}"
        print(
            f"SQLite store, {args.articles:,} articles, {args.clients} concurrent clients",
            flush=True,
        )
        marker = folder / "filled.json"
        if marker.exists():
            shape = json.loads(marker.read_text())
            if shape.get("articles") != args.articles:
                raise SystemExit(
                    f"{args.store}: holds {shape.get('articles')} articles, not {args.articles}"
                )
            start = time.perf_counter()
            from monitor.app import App

            App.open(scale.settings_for(database_url, folder)).close()
            print(
                f"  reusing the store in {folder} (migrations: {time.perf_counter() - start:.1f} s)",
                flush=True,
            )
        else:
            shape = fill(database_url, folder, args.feeds, args.articles, args.russian_every)
            if args.store:
                marker.write_text(json.dumps({**shape, "articles": args.articles}))
        print("searches (first page of 20, newest first):", flush=True)
        ours = search_ours(database_url, folder, args.clients, args.requests)
        if not args.skip_reader:
            size = min(args.reader_articles or args.articles, args.articles)
            print(f"reader over the newest {size:,} of the same articles:", flush=True)
            reader_marker = folder / "reader.done"
            if not (
                args.store and reader_marker.exists() and reader_marker.read_text() == str(size)
            ):
                for old in folder.glob("reader.sqlite*"):
                    old.unlink()
                fill_reader(database_url, folder / "reader.sqlite", size)
                if args.store:
                    reader_marker.write_text(str(size))
            theirs = search_reader(folder / "reader.sqlite", args.clients, args.requests)
            for kind in QUERIES:
                print(
                    f"  p95 ours ({args.articles:,}) / reader ({size:,}), {kind:<8} "
                    f"{ours[kind] / theirs[kind]:.2f}"
                )
        worst = max(ours.values())
        print(
            f"goal search p95 < 100 ms: {'met' if worst < 100 else 'NOT met'} (worst {worst:.1f} ms)"
        )
        if not args.skip_pages:
            print("pages (news-monitor web over HTTP, logged in):", flush=True)
            pages(database_url, folder, args.clients, args.requests, shape["stories"])
    if args.poll_runs:
        print("the index's cost to the poll:", flush=True)
        poll_cost(args.poll_runs, args.poll_feeds)


if __name__ == "__main__":
    main()
