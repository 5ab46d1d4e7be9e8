"""Ingestion: one poll of the due feeds, as stages in the order data flows through them.

::

    claim      lease due feeds (FOR UPDATE SKIP LOCKED)     → FeedForUpdate   (monitor.store.feeds)
      │
      ├─ per feed, inside one boundary (boundary.failure_of; poll.poll_one) ────────────────┐
      │  fetch     conditional GET, many at once            → FeedFetched                 │
      │  analyse   parse, normalise, match (pool.py: in     → AnalysedFeed of             │
      │            worker processes, replaced when broken)    AnalysedEntry (+ matches)   │
      │  fulltext  the pages of new entries, for full-text  → AnalysedFeed                │
      │            feeds (matched again in this process)                                  │
      │  any exception → the feed's FeedFailure (a FeedError's kind, else internal_error) │
      ├───────────────────────────────────────────────────── → FeedPolled ─────────────────┘
      │
    write      one transaction per batch of FeedPolled (the only stage with a Session):
      │        looks up what is known, then asks the pure stages
      │          decide.new_entries   is this entry new?        → the entries to store
      │          stories.plan_stories which story each joins    → StoryPlan
      │          decide.decide        the feed row's new state  → Decision(FeedUpdateIntent, FeedOutcome)
      │        and writes articles, story keys, matches, feed rows (lease released)
      ▼
    enrich     once every batch is written (a poll with watchlists): the article pages of
      │        stored teasers with a watchlist's signal, matched again (enrich.py)
      ▼
    PollReport  a FeedOutcome per feed polled (outcome.py)

``fetch.FetchLoop`` keeps the per-feed work in flight (``MONITOR_FETCH_CONCURRENCY``
fetching at a time, claiming the next batch before this one drains) and hands finished
feeds to ``write`` in batches weighed by what they store. Every claim asks what is due
at that moment and takes at most a few feeds of one host (``claim.HOST_CAP_PER_SLOT``
per connection): the feeds of a slow host wait in the table, unleased, while the
others are polled on their interval. In the service the poll goes on as long as
feeds are in flight, claiming each as it falls due; a stop event cancels what is in
flight, writes what was fetched and hands back the other leases. Parse workers import only
``analyse`` (and this package, kept light for them). One feed's failure is recorded on
that feed (``error_kind``, ``last_error``) and never stops the others. Adding,
importing and probing feeds is ``monitor.feedlist``.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.ingest.outcome import FeedOutcome, PollReport, PollStatus

if TYPE_CHECKING:
    from monitor.app import App
    from monitor.ingest.fetch import Stop
    from monitor.ingest.poll import Guard, Written

__all__ = ["FeedOutcome", "PollReport", "PollStatus", "poll_due_feeds"]


def poll_due_feeds(
    app: App,
    *,
    all_feeds: bool = False,
    now: datetime | None = None,
    parse_workers: int | None = None,
    once: bool = True,
    stop: Stop | None = None,
    guard: Guard | None = None,
    written: Written | None = None,
) -> PollReport:
    """Poll every due feed once (every pollable feed with ``all_feeds``): ``poll.poll_due_feeds``.

    The service passes ``once=False`` (claim each feed whenever it falls due while the
    poll runs), its stop event and its database gate.

    Imported when called: a parse worker imports ``monitor.ingest.analyse``, and so this
    package, which must then stay light (importing the poll's modules here cost each
    forkserver 2.1 s and 43 MB more, measured: the first cycle of the poll benchmark 1.6 s slower).
    """
    from monitor.ingest import poll

    return poll.poll_due_feeds(
        app,
        all_feeds=all_feeds,
        now=now,
        parse_workers=parse_workers,
        once=once,
        stop=stop,
        guard=guard or contextlib.nullcontext,
        written=written,
    )
