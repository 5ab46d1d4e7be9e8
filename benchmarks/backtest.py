"""Backtest speed: a change to a shipped watchlist tried over ~100,000 stored articles.

    python -m benchmarks.backtest [--feeds 2000] [--articles 100000] [--topical 0.05]
                                  [--repeats 3] [--naive-repeats 1] [--postgres]

The store is filled with ``benchmarks.scale``'s generator (bulk inserts, one article a minute
going back, so 100,000 articles span about 70 days; the window asked for covers them all);
``--topical`` of them get a text written to match the shipped watchlists, the rest are filler.
The change tried: ``foreign-recruitment`` + keyword ``migrant worker*`` + exclusion ``football``.

Measured, each the median of its repeats, in the same run:

- ours: ``monitor.backtest.backtest`` (one keyset query per batch of stored articles, both
  versions compiled into one matcher, one scan per article);
- naive: one query per article (by id) and each version matched by its own matcher, the
  full explanation asked of both (what a per-item rematch in Python does).

Prints articles examined, seconds, articles per second and the ratio naive / ours.
PostgreSQL (``--postgres``): ``MONITOR_TEST_DATABASE_URL`` or the local server, in a schema of
its own dropped afterwards. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text, update

from benchmarks.scale import PG_URL, TOPICAL, WATCHLISTS, seed, settings_for
from monitor.app import App
from monitor.backtest import backtest
from monitor.matching.matcher import Matcher
from monitor.matching.spec import MatchSpec
from monitor.store.models import Article
from monitor.watchlist_edit import WatchlistChange, change_text
from monitor.watchlists import load_watchlist

WATCHLIST = "foreign-recruitment"


def change_specs() -> tuple[MatchSpec, MatchSpec]:
    path = WATCHLISTS / f"{WATCHLIST}.yaml"
    before = load_watchlist(path)
    change = WatchlistChange(add_keywords=("migrant worker*",), add_exclude=("football",))
    _, after = change_text(path.read_text(encoding="utf-8"), path, change)
    return before.to_spec(), after.to_spec()


def make_topical(database_url: str, share: float) -> int:
    """Give every ``1/share``-th article a text the shipped watchlists match."""
    every = max(1, round(1 / share)) if share > 0 else 0
    if not every:
        return 0
    engine = create_engine(database_url)
    with engine.begin() as connection:
        result = connection.execute(
            update(Article)
            .where(Article.id % every == 0)
            .values(
                text=TOPICAL + ". " + Article.text,
                title="Recruited for the front: " + Article.title,
            )
        )
    engine.dispose()
    return int(result.rowcount or 0)


Run = tuple[float, float, int, tuple[int, int]]  # wall s, CPU s, examined, (added, removed)


def ours(app: App, before: MatchSpec, after: MatchSpec, since: datetime, until: datetime) -> Run:
    start, cpu = time.perf_counter(), time.process_time()
    report = backtest(app.sessions, before, after, since=since, until=until)
    took, used = time.perf_counter() - start, time.process_time() - cpu
    return took, used, report.examined, (report.added.count, report.removed.count)


def naive(app: App, before: MatchSpec, after: MatchSpec, since: datetime, until: datetime) -> Run:
    start, cpu = time.perf_counter(), time.process_time()
    old, new = Matcher.compile([before]), Matcher.compile([after])
    added = removed = examined = 0
    with app.sessions() as session:
        ids = list(
            session.scalars(
                select(Article.id)
                .where(Article.first_seen_at >= since, Article.first_seen_at < until)
                .order_by(Article.id)
            )
        )
        for article_id in ids:
            row = session.execute(
                select(Article.title, Article.text).where(Article.id == article_id)
            ).one()
            examined += 1
            was = old.explain(row[0], row[1])[0].matched
            now = new.explain(row[0], row[1])[0].matched
            added += now and not was
            removed += was and not now
    took, used = time.perf_counter() - start, time.process_time() - cpu
    return took, used, examined, (added, removed)


def measure(label: str, url: str, folder: Path, args: argparse.Namespace) -> None:
    took = seed(url, folder, 1, args.feeds, args.articles)
    topical = make_topical(url, args.topical)
    print(f"{label}: seeded {args.articles:,} articles in {took:.0f} s ({topical:,} topical)")
    app = App.open(settings_for(url, folder), migrate=False)
    before, after = change_specs()
    until = datetime.now(UTC) + timedelta(minutes=1)
    since = until - timedelta(minutes=args.articles + 10)
    results: dict[str, list[float]] = {"ours": [], "naive": []}
    cpus: dict[str, list[float]] = {"ours": [], "naive": []}
    seen: dict[str, tuple[int, tuple[int, int]]] = {}
    for name, run, repeats in (("ours", ours, args.repeats), ("naive", naive, args.naive_repeats)):
        for _ in range(repeats):
            seconds, used, examined, diff = run(app, before, after, since, until)
            results[name].append(seconds)
            cpus[name].append(used)
            seen[name] = (examined, diff)
    app.close()
    assert seen["ours"] == seen["naive"], seen  # both found the same
    examined, (added, removed) = seen["ours"]
    days = (until - since).days
    print(
        f"{label}: {examined:,} articles over {days} days, the change adds {added:,} and "
        f"removes {removed:,}"
    )
    mine = statistics.median(results["ours"])
    for name in ("ours", "naive"):
        wall, cpu = statistics.median(results[name]), statistics.median(cpus[name])
        ratio = f"; naive / ours = {wall / mine:.1f}x" if name == "naive" else ""
        print(
            f"  {name + ':':<6} median {wall:.2f} s wall, {cpu:.2f} s CPU (of "
            f"{len(results[name])}), {examined / wall:,.0f} articles/s{ratio}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--topical", type=float, default=0.05, help="Share of matching texts.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-repeats", type=int, default=1)
    parser.add_argument("--postgres", action="store_true", help="Also on PostgreSQL.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        measure("SQLite", f"sqlite:///{folder / 'backtest.db'}", folder, args)
        if args.postgres:
            schema = "bench_" + uuid.uuid4().hex[:8]
            admin = create_engine(PG_URL)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in PG_URL else "?"
            try:
                measure(
                    "PostgreSQL", f"{PG_URL}{sep}options=-csearch_path%3D{schema}", folder, args
                )
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
