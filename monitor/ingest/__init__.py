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
    PollReport  a FeedOutcome per feed polled

``fetch.FetchLoop`` keeps the per-feed work in flight (``MONITOR_FETCH_CONCURRENCY``
at a time, claiming the next batch before this one drains) and hands finished feeds
to ``write`` in batches weighed by what they store. Parse workers import only
``analyse`` (and this package, kept light for them). One feed's failure is recorded on
that feed (``error_kind``, ``last_error``) and never stops the others. Adding,
importing and probing feeds is ``monitor.feedlist``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.ingest.outcome import FeedOutcome, PollReport, PollStatus

if TYPE_CHECKING:
    from monitor.app import App

__all__ = ["FeedOutcome", "PollReport", "PollStatus", "poll_due_feeds"]


def poll_due_feeds(
    app: App,
    *,
    all_feeds: bool = False,
    now: datetime | None = None,
    parse_workers: int | None = None,
) -> PollReport:
    """Poll every due feed once (every pollable feed with ``all_feeds``): ``poll.poll_due_feeds``.

    Imported when called: a parse worker imports ``monitor.ingest.analyse``, and so this
    package, which must then stay light (importing the poll's modules here cost each
    forkserver 2.1 s and 43 MB more, measured: the first cycle of the poll benchmark 1.6 s slower).
    """
    from monitor.ingest import poll

    return poll.poll_due_feeds(app, all_feeds=all_feeds, now=now, parse_workers=parse_workers)
