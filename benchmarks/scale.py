"""Scale: 10,000 loopback feeds over 1,000,000 stored articles, on SQLite and PostgreSQL.

    python -m benchmarks.scale [--feeds 10000] [--articles 1000000] [--changed 0.05]
                               [--slow-ms 200] [--slow-feeds N] [--skip-sqlite] [--skip-postgres]

A separate process serves the feeds on 127.0.0.0/8, four feeds per loopback
address (so the per-host fetch limit acts as it would on real sites), answering
conditional GETs with 304. The database is filled first with bulk inserts: the
feeds (already fetched once, so they send their ETag) and ``--articles`` articles
spread over them, among them every entry the feeds currently list.

Then, each poller being a fresh process calling ``poll_due_feeds`` (the function
the ``poll`` job calls) once every feed is due:

1. a full cycle: ``--changed`` of the feeds have two new entries (both written to
   match the shipped watchlists), the rest answer 304. Printed: wall time, feeds by
   outcome, matches written per second of the cycle, peak RSS of each poller (main
   process; parse workers not included), database size after;
   on SQLite with one process; on PostgreSQL with one and with three processes;
2. slow feeds (every answer waits ``--slow-ms``): PostgreSQL, one process against
   three on ``--slow-feeds`` feeds (default all), and the ratio.

PostgreSQL: ``MONITOR_TEST_DATABASE_URL`` or postgresql+psycopg://postgres@127.0.0.1:5432/test,
in a schema of its own that is dropped afterwards. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from benchmarks._corpus import FILLER_WORDS, rss_document, serve_feeds

PG_URL = os.environ.get(
    "MONITOR_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
FEEDS_PER_HOST = 4
BASE_ENTRIES = 5  # entries every feed lists (all stored beforehand)
WATCHLISTS = Path(__file__).resolve().parent.parent / "watchlists"
TOPICAL = (
    "Relatives in Kathmandu say agents offered Nepali and Uzbek migrant workers army contracts "
    "with signing bonuses, and that the recruited men were sent to the front in Ukraine"
)


def host(index: int) -> str:
    n = index // FEEDS_PER_HOST + 1
    return f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def guid(index: int, n: int) -> str:
    return f"https://news{index % 97}.example.org/{index}/{n}"


def changed(index: int, round_number: int, share: float) -> bool:
    return round_number > 0 and random.Random(index * 7919 + round_number).random() < share


def feed_body(index: int, round_number: int) -> bytes:
    """The base entries; in a round where the feed changed, two new topical entries on top."""
    numbers = list(range(BASE_ENTRIES))
    if round_number:
        numbers += [1000 * round_number, 1000 * round_number + 1]
    items = []
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for n in numbers:
        rng = random.Random(index * 1_000_003 + n)
        words = " ".join(rng.choice(FILLER_WORDS) for _ in range(60))
        text = f"{TOPICAL} ({index}-{n}). {words}." if n >= 1000 else f"{words}."
        items.append(
            f"<item><title>Item {index}-{n} {words[:40]}</title><link>{guid(index, n)}</link>"
            f"<guid>{guid(index, n)}</guid><pubDate>{format_datetime(base + timedelta(hours=n))}"
            f"</pubDate><description>{text}</description></item>"
        )
    return rss_document(index, items)


# ---------------------------------------------------------------- the feed server


def serve(port_out: Any, round_value: Any, delay_ms: Any, share: float) -> None:
    cache: dict[tuple[int, int], bytes] = {}

    def version_of(index: int) -> int:
        current = int(round_value.value)
        return current if changed(index, current, share) else 0

    def body_of(index: int, version: int) -> bytes:
        body = cache.get((index, version))
        if body is None:
            body = cache[(index, version)] = feed_body(index, version)
        return body

    serve_feeds(
        port_out,
        version_of,
        body_of,
        host="0.0.0.0",
        delay_seconds=lambda: delay_ms.value / 1000,
    )


# ---------------------------------------------------------------- the database


def settings_for(database_url: str, folder: Path) -> Any:
    from monitor.config import Settings

    return Settings(
        database_url=database_url,
        watchlists_dir=WATCHLISTS,
        outbox_dir=folder / "outbox",
        allow_private_addresses=True,
        import_default_feeds=False,
    )


def seed(database_url: str, folder: Path, port: int, feeds: int, articles: int) -> float:
    """Bulk-insert the feeds and the articles; seconds taken."""
    from monitor.app import App

    app = App.open(settings_for(database_url, folder))
    start = time.perf_counter()
    now = datetime.now(UTC)
    feed_rows = [
        {
            "url": f"http://{host(i)}:{port}/feed/{i}",
            "host": host(i),  # as add_feed fills it (store.feeds.url_host): claims are per host
            "status": "ok",
            "etag": f'"{i}-0"',
            "next_poll_at": now,
            "last_full_fetch_at": now,
            "consecutive_errors": 0,
            "redirect_count": 0,
            "full_text_mode": "auto",
            "interval_pinned": False,
            "ignores_validators": False,
            "created_at": now,
        }
        for i in range(feeds)
    ]
    from sqlalchemy import insert

    from monitor.store.models import Feed

    with app.engine.begin() as connection:
        connection.execute(insert(Feed), feed_rows)

    def article(number: int) -> tuple[Any, ...]:
        index = number % feeds
        n = number // feeds
        seen = now - timedelta(minutes=number % (365 * 24 * 60))
        words = " ".join(FILLER_WORDS[(number * 7 + k) % len(FILLER_WORDS)] for k in range(45))
        return (
            index + 1,
            guid(index, n) if n < BASE_ENTRIES else f"filler-{number}",
            f"Item {index}-{n}",
            words,
            "en",
            uuid.UUID(int=number).hex,
            seen,
            seen,
        )

    columns = (
        "feed_id",
        "entry_id",
        "title",
        "text",
        "language",
        "content_hash",
        "published_at",
        "first_seen_at",
    )
    total = max(articles, feeds * BASE_ENTRIES)
    raw = app.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        if app.engine.dialect.name == "postgresql":
            copy_sql = f"COPY articles ({', '.join(columns)}) FROM STDIN"
            with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for number in range(total):
                    copy.write_row(article(number))
            driver.commit()
        else:
            cursor = driver.cursor()
            sql = (
                f"INSERT INTO articles ({', '.join(columns)}) VALUES "
                f"({', '.join('?' * len(columns))})"
            )
            for start_at in range(0, total, 50_000):
                cursor.executemany(
                    sql,
                    [
                        (*row[:6], row[6].isoformat(" "), row[7].isoformat(" "))
                        for row in map(article, range(start_at, min(total, start_at + 50_000)))
                    ],
                )
            driver.commit()
    finally:
        raw.close()
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            from sqlalchemy import text

            connection.execute(text("ANALYZE"))
    app.close()
    return time.perf_counter() - start


def make_due(database_url: str, folder: Path, feeds: int) -> None:
    """Every feed among the first ``feeds`` due now, as if fetched once (sends its ETag)."""
    from sqlalchemy import String, case, cast, literal, update

    from monitor.app import App
    from monitor.store.models import Feed

    app = App.open(settings_for(database_url, folder), migrate=False)
    now = datetime.now(UTC) - timedelta(seconds=1)
    with app.engine.begin() as connection:
        connection.execute(
            update(Feed).values(
                etag=literal('"', String) + cast(Feed.id - 1, String) + literal('-0"', String),
                next_poll_at=now,
                last_polled_at=None,
                last_full_fetch_at=now,
                lease_owner=None,
                lease_until=None,
                interval_pinned=False,
                status=case((Feed.id <= feeds, "ok"), else_="disabled"),
            )
        )
    app.close()


def database_size(database_url: str, folder: Path) -> int:
    from sqlalchemy import text

    from monitor.app import App

    app = App.open(settings_for(database_url, folder), migrate=False)
    try:
        with app.engine.connect() as connection:
            if app.engine.dialect.name == "postgresql":
                return int(
                    connection.execute(
                        text(
                            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                        )
                    ).scalar_one()
                )
            path = Path(database_url.removeprefix("sqlite:///"))
            return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    finally:
        app.close()


# ---------------------------------------------------------------- pollers


def poller(database_url: str, folder: str, ready: Any, go: Any, out: Any) -> None:
    from monitor.app import App
    from monitor.ingest import poll_due_feeds

    app = App.open(settings_for(database_url, Path(folder)), migrate=False)
    with app.engine.connect():
        pass  # connected before the clock starts
    ready.put(os.getpid())
    go.wait()
    start = time.perf_counter()
    report = poll_due_feeds(app)
    seconds = time.perf_counter() - start
    statuses: dict[str, int] = {}
    for outcome in report.outcomes:
        statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
    app.close()
    out.put(
        (
            seconds,
            statuses,
            sum(report.matched.values()),
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    )


def cycle(database_url: str, folder: Path, processes: int) -> dict[str, Any]:
    context = mp.get_context("spawn")
    go = context.Event()
    ready = context.Queue()
    out = context.Queue()
    workers = [
        context.Process(target=poller, args=(database_url, str(folder), ready, go, out))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get()  # imported, watchlists compiled, connected
    start = time.perf_counter()
    go.set()
    results = [out.get() for _ in workers]
    wall = time.perf_counter() - start
    for worker in workers:
        worker.join()
    statuses: dict[str, int] = {}
    for result in results:
        for key, value in result[1].items():
            statuses[key] = statuses.get(key, 0) + value
    matches = sum(r[2] for r in results)
    return {
        "wall": wall,
        "statuses": statuses,
        "per_process": [sum(r[1].values()) for r in results],
        "matches": matches,
        "rss": [round(r[3]) for r in results],
    }


def show(label: str, result: dict[str, Any]) -> None:
    print(
        f"  {label}: {result['wall']:.1f} s, feeds {result['statuses']} "
        f"(per process {result['per_process']}), {result['matches']} matches "
        f"= {result['matches'] / result['wall']:.0f} matches/s, "
        f"peak RSS {result['rss']} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--changed", type=float, default=0.05, help="share of feeds with news")
    parser.add_argument("--slow-ms", type=int, default=200)
    parser.add_argument("--slow-feeds", type=int, default=None, help="default: --feeds")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    slow_feeds = min(args.slow_feeds or args.feeds, args.feeds)

    context = mp.get_context("spawn")
    port = context.Value("i", 0)
    round_value = context.Value("i", 0)
    delay = context.Value("i", 0)
    server = context.Process(
        target=serve, args=(port, round_value, delay, args.changed), daemon=True
    )
    server.start()
    while port.value == 0:
        time.sleep(0.05)
    print(
        f"{args.feeds} feeds ({FEEDS_PER_HOST} per loopback address), "
        f"{args.articles:,} stored articles, {args.changed:.0%} of feeds with 2 new entries"
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    round_number = 0

    def full_cycle(url: str, processes: int, label: str) -> dict[str, Any]:
        nonlocal round_number
        round_number += 1
        round_value.value = round_number
        make_due(url, folder, args.feeds)
        result = cycle(url, folder, processes)
        show(label, result)
        return result

    if not args.skip_sqlite:
        url = f"sqlite:///{folder / 'scale.db'}"
        print(f"SQLite: seeded in {seed(url, folder, port.value, args.feeds, args.articles):.0f} s")
        full_cycle(url, 1, "full cycle, 1 process")
        print(f"  database size {database_size(url, folder) / 2**20:.0f} MiB")

    if not args.skip_postgres:
        from sqlalchemy import create_engine, text

        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = create_engine(PG_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        try:
            took = seed(url, folder, port.value, args.feeds, args.articles)
            print(f"PostgreSQL: seeded in {took:.0f} s")
            one = full_cycle(url, 1, "full cycle, 1 process")
            three = full_cycle(url, 3, "full cycle, 3 processes")
            print(f"  3 processes vs 1: {one['wall'] / three['wall']:.2f}x")
            print(f"  database size {database_size(url, folder) / 2**20:.0f} MiB")
            delay.value = args.slow_ms
            print(f"PostgreSQL, {slow_feeds} feeds answering in {args.slow_ms} ms:")
            slow_one = _slow(url, folder, slow_feeds, 1, round_value)
            slow_three = _slow(url, folder, slow_feeds, 3, round_value)
            print(
                f"  3 processes vs 1 with slow feeds: {slow_one['wall'] / slow_three['wall']:.2f}x"
            )
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    server.terminate()


def _slow(url: str, folder: Path, feeds: int, processes: int, round_value: Any) -> dict[str, Any]:
    round_value.value = 0  # nothing new: every feed answers 304, slowly
    make_due(url, folder, feeds)
    result = cycle(url, folder, processes)
    show(f"{processes} process{'es' if processes > 1 else ''}", result)
    return result


if __name__ == "__main__":
    main()
