"""The per-feed boundary: any exception met by one feed becomes that feed's recorded error.

``failure_of`` is the one place this happens. It is called where a feed's own work
can fail: around its fetch, analysis and full text (``poll.poll_one``), and around
storing it alone when its batch's transaction failed (``write.write_batch``). A
``FeedError`` (fetch, parse) is recorded with its kind and message; anything else is
a bug met by that feed: recorded as ``internal_error`` with the exception's type and
message, its traceback logged (``feed_crashed``). The poll goes on either way, and
nothing of the feed is stored, so its next poll tries it all again.
"""

from __future__ import annotations

import logging

from monitor.feeds.exceptions import ErrorKind, FeedError, FetchError
from monitor.ingest.decide import FeedFailure

log = logging.getLogger("monitor.ingest")

INTERNAL_ERROR = ErrorKind.INTERNAL_ERROR


def failure_of(url: str, exc: Exception, stage: str) -> FeedFailure:
    """What to record on the feed at ``url`` for ``exc``, met while ``stage`` (a verb phrase)."""
    if isinstance(exc, FeedError):
        retry = exc.retry_after if isinstance(exc, FetchError) else None
        return FeedFailure(exc.kind, exc.message, retry)
    log.error("feed_crashed feed_url=%s stage=%s", url, stage, exc_info=exc)
    return FeedFailure(
        INTERNAL_ERROR,
        f"{url}: {stage} failed ({type(exc).__name__}: {_short(exc)}); nothing was stored and the "
        "feed will be polled again. This is a bug: please report it with the log line "
        "feed_crashed",
    )


def _short(exc: Exception, limit: int = 500) -> str:
    """The exception's message, cut to ``limit`` characters (a 70,000-character URL…)."""
    text = str(exc)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"
