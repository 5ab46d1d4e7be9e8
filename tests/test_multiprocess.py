"""Three ``news-monitor run`` processes on one PostgreSQL: each feed polled once per due time,
each digest sent once.

The processes claim due feeds in batches (``FOR UPDATE SKIP LOCKED`` and a lease)
and digests one at a time; the feed server counts the requests for each feed and
the SMTP server keeps every message. (On SQLite a second ``run`` refuses to start:
``tests/test_service.py``.)
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from monitor.store.models import Feed
from tests.harness import (
    GrowingFeeds,
    Monitor,
    SlowSMTP,
    check_outcome,
    expected_deliveries,
    monitor_env,
    plain_text,
    run_cli,
    wait_for,
)
from tests.servers import FeedServer

FEEDS = 40
PROCESSES = 3
BATCH = 5  # feeds per claim (1000 in production): the three processes take turns

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def smtp() -> Iterator[SlowSMTP]:
    server = SlowSMTP().start()
    yield server
    server.stop()


def _hits(server: FeedServer) -> Counter[str]:
    with server._lock:
        return Counter(path for path, _headers in server.requests)


def _all_delivered(smtp: SlowSMTP, wanted: set[tuple[str, str]]) -> bool:
    seen: set[tuple[str, str]] = set()
    for recipient, message in smtp.received():
        body = plain_text(message)
        seen.update((title, r) for title, r in wanted if r == recipient and title in body)
    return seen == wanted


def test_three_processes_poll_each_feed_once_and_send_each_digest_once(
    postgres_url: str, tmp_path: Path, feed_server: FeedServer, smtp: SlowSMTP
) -> None:
    rng = random.Random(7)
    env = monitor_env(postgres_url, tmp_path, smtp.port)
    feeds = GrowingFeeds(feed_server, rng, delay=0.1)
    for _ in range(FEEDS):
        feeds.add_feed(items=rng.randint(1, 3))
    (tmp_path / "feeds.opml").write_text(feeds.opml())
    imported = run_cli(env, "feeds", "import", str(tmp_path / "feeds.opml"))
    assert imported.returncode == 0, imported.stderr
    paths = sorted(feeds.items)
    log = tmp_path / "monitor.log"

    processes = [Monitor(env, log, "run", claim_batch=BATCH) for _ in range(PROCESSES)]
    try:
        for process in processes:
            process.wait_started()
        # Round 1: every feed is due once.
        wait_for(lambda: set(_hits(feed_server)) >= set(paths), 60, "every feed to be polled")
        wanted = set(expected_deliveries(feeds))
        wait_for(lambda: _all_delivered(smtp, wanted), 60, "round 1 digests")
        time.sleep(2)  # several more ticks of all three: nothing is polled or sent again
        assert _hits(feed_server) == Counter(dict.fromkeys(paths, 1))

        # Round 2: time passes (every feed due again) and every feed has new items.
        for path in paths:
            feeds.grow(path, 1)
        engine = create_engine(postgres_url)
        with engine.begin() as connection:
            connection.execute(update(Feed).values(next_poll_at=datetime.now(UTC)))
        engine.dispose()
        wait_for(
            lambda: all(_hits(feed_server)[p] >= 2 for p in paths), 60, "every feed polled again"
        )
        wanted = set(expected_deliveries(feeds))
        wait_for(lambda: _all_delivered(smtp, wanted), 60, "round 2 digests")
        time.sleep(2)
        assert _hits(feed_server) == Counter(dict.fromkeys(paths, 2))
    finally:
        codes = [process.stop() for process in processes]
    assert codes == [0] * PROCESSES, log.read_text()[-3000:]

    # The work was split between the processes, without doubles.
    polled: Counter[int] = Counter()
    for pid, count in re.findall(r"poll_cycle pid=(\d+) feeds=(\d+)", log.read_text()):
        polled[int(pid)] += int(count)
    assert sum(polled.values()) == 2 * FEEDS
    assert set(polled) == {p.process.pid for p in processes}, polled
    message_ids = [str(message["Message-ID"]) for _rcpt, message in smtp.received()]
    assert len(message_ids) == len(set(message_ids)), "a digest was sent twice"
    report = check_outcome(postgres_url, feeds, smtp)
    assert report["item_copies_resent_with_same_message_id"] == 0
