"""What the tests of a window of stored articles share (no tests here): backtest, near misses
and rematch.

``polled_store`` fills a store the way a user does, through the CLI: one watchlist file, one
loopback feed added and polled once; ``article`` builds a ``WindowArticle`` for the pure parts.
The feed texts are the calling tests' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result

from monitor.cli import cli
from monitor.store.window import WindowArticle
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

NOW = datetime.now(UTC)
#: what the feed is called, so what every article's source is
FEED_TITLE = "Hill Wire"


def run(env: dict[str, str], *args: str) -> Result:
    """``news-monitor ARGS`` in this process, with ``env`` as the environment."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def polled_store(
    folder: Path,
    watchlists_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    *,
    watchlist: str,
    articles: Sequence[tuple[str, str, str]],
) -> dict[str, str]:
    """The environment of a store holding ``articles`` ((guid, title, text), dated now).

    ``watchlist`` is written as ``recruitment.yaml``; each article links to
    ``https://wire.example.org/GUID``.
    """
    (watchlists_dir / "recruitment.yaml").write_text(watchlist, encoding="utf-8")
    env = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_WATCHLISTS_DIR": str(watchlists_dir),
        "MONITOR_OUTBOX_DIR": str(folder / "outbox"),
        "MONITOR_ALLOW_PRIVATE_ADDRESSES": "true",
        "MONITOR_IMPORT_DEFAULT_FEEDS": "false",
    }
    items = [
        item(guid, title, text, link=f"https://wire.example.org/{guid}", date=NOW)
        for guid, title, text in articles
    ]
    url = feed_server.add("/rss", Resource(rss(*items, title=FEED_TITLE)))
    added = run(env, "feeds", "add", url)
    assert added.exit_code == 0, added.output
    polled = run(env, "poll")
    assert polled.exit_code == 0, polled.output
    return env


def article(
    number: int, title: str, text: str = "", *, source: str = "W", story_id: int | None = None
) -> WindowArticle:
    """A stored article as the window hands it out, first seen and published now."""
    return WindowArticle(number, title, text, None, source, NOW, NOW, story_id)
