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
to ``write`` in batches weighed by what they store. One feed's failure is recorded on
that feed (``error_kind``, ``last_error``) and never stops the others. Adding,
importing and probing feeds is ``monitor.feedlist``.
"""

from monitor.ingest.outcome import FeedOutcome, PollReport, PollStatus
from monitor.ingest.poll import poll_due_feeds

__all__ = ["FeedOutcome", "PollReport", "PollStatus", "poll_due_feeds"]
