"""History is never lost by an edit, and old news is not alerted (issue 14), through the CLI.

A real SQLite file (and PostgreSQL where marked), a loopback feed server, the
``news-monitor`` command run in-process by click's runner; digests are written as
``.eml`` files (no SMTP server), read back with Python's ``email`` package.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select

from monitor.cli import cli
from monitor.store.models import Article, Delivery, Match
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

WATCHLIST = """\
name: Recruitment desk
recipients: [desk@example.org]
schedule: immediate
timezone: UTC
keywords: [recruit*]
countries: [NP]
"""

NOW = datetime.now(UTC)
OLD = datetime(2019, 5, 6, 9, 0, tzinfo=UTC)


def feed_bytes() -> bytes:
    return rss(
        item("old", "Nepal recruits guards in 2019", "Nepalese men recruited long ago.", date=OLD),
        item(
            "new",
            "Nepal asks Moscow to return its recruits",
            "Kathmandu says Nepalese recruits were sent to the front.",
            date=NOW - timedelta(hours=3),
        ),
        item(
            "future",
            "Nepal recruitment agents arrested",
            "Police in Nepal arrested two recruitment agents.",
            date=NOW + timedelta(days=3),
        ),
        item("plain", "Harbour festival opens", "Boats and music on the river.", date=NOW),
        title="Himalaya Wire",
    )


@pytest.fixture
def env(tmp_path: Path, watchlists_dir: Path, database_url: str) -> dict[str, str]:
    (watchlists_dir / "recruitment.yaml").write_text(WATCHLIST)
    return {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_WATCHLISTS_DIR": str(watchlists_dir),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_ALLOW_PRIVATE_ADDRESSES": "true",
        "MONITOR_IMPORT_DEFAULT_FEEDS": "false",
        "MONITOR_BACKFILL_DAYS": "7",  # the default, which the other tests turn off
    }


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def written_messages(outbox: Path) -> list[EmailMessage]:
    messages = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def count(database_url: str, query: object) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)  # type: ignore[call-overload]
    finally:
        engine.dispose()


def test_a_new_feeds_old_entries_are_stored_not_alerted_and_removal_keeps_history(
    env: dict[str, str], feed_server: FeedServer, tmp_path: Path, database_url: str
) -> None:
    url = feed_server.add("/wire.xml", Resource(feed_bytes()))
    assert run(env, "feeds", "add", url).exit_code == 0
    polled = run(env, "poll")
    assert polled.exit_code == 0, polled.output
    assert polled.output.splitlines()[0] == (
        f"ok           {url}  4 new; matched recruitment 2; "
        "1 match of old entries kept as history, not alerted"
    )

    sent = run(env, "digest", "send")
    assert sent.exit_code == 0, sent.output
    (message,) = written_messages(tmp_path / "outbox")
    text = text_of(message)
    assert "Nepal asks Moscow to return its recruits" in text
    assert "Nepal recruitment agents arrested" in text
    assert "2019" not in text  # stored, not alerted
    assert "From 1 feed; none failing." in text
    subject = str(message["Subject"]).strip()  # folded after "Subject:" when long
    assert subject.startswith("[Recruitment desk] 2 new matches (Nepal 2): ")
    assert subject.split(": ", 1)[1] in (
        "Nepal asks Moscow to return its recruits",
        "Nepal recruitment agents arrested",
    )

    # stored and kept: the 2019 entry is a history-only match; the future one dated when seen
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Article.title, Article.published_at, Article.first_seen_at, Match.history_only)
            .outerjoin(Match, Match.article_id == Article.id)
            .order_by(Article.id)
        ).all()
    engine.dispose()
    by_title = {row[0]: row for row in rows}
    assert by_title["Nepal recruits guards in 2019"][3] is True
    assert by_title["Nepal asks Moscow to return its recruits"][3] is False
    future = by_title["Nepal recruitment agents arrested"]
    assert future[1] == future[2]  # published when first seen, not in three days
    assert by_title["Harbour festival opens"][3] is None

    outbox = run(env, "outbox", "list").output
    assert "2 matches" in outbox

    removed = run(env, "feeds", "remove", url)
    assert removed.exit_code == 0
    assert removed.output == (
        f"Removed {url}: no longer polled. Kept 4 articles, 3 matches and 2 deliveries "
        "(`feeds remove --purge` deletes them).\n"
    )
    assert run(env, "outbox", "list").output == outbox  # the sent digest still has its matches
    assert count(database_url, select(func.count(Match.id))) == 3
    assert count(database_url, select(func.count(Delivery.id))) == 2
    assert run(env, "feeds", "list").output == (
        "No feeds. Add one with `news-monitor feeds add URL`.\n"
    )
    unknown = run(env, "feeds", "set", url, "--enable")
    assert (unknown.exit_code, unknown.output) == (
        2,
        f"Error: no feed {url} (see `news-monitor feeds list`)\n",
    )
    hits = feed_server.hits("/wire.xml")
    assert run(env, "poll", "--all").output.startswith("No feeds are due")
    assert feed_server.hits("/wire.xml") == hits  # no longer polled

    # added again, it is the same feed: its kept articles are not new
    assert run(env, "feeds", "add", url).exit_code == 0
    again = run(env, "poll")
    assert again.output.splitlines()[0] in (
        f"ok           {url}  0 new",
        f"unchanged    {url}  not modified",
    )

    declined = run(env, "feeds", "remove", url, "--purge", input="n\n")
    assert declined.exit_code == 1
    assert declined.output == (
        f"Purging {url} deletes 4 articles, 3 matches and 2 deliveries.\n"
        "Delete them? [y/N]: n\n"
        "Error: nothing deleted\n"
    )
    assert count(database_url, select(func.count(Match.id))) == 3
    purged = run(env, "feeds", "remove", url, "--purge", "--yes")
    assert purged.exit_code == 0
    assert purged.output == (
        f"Purging {url} deletes 4 articles, 3 matches and 2 deliveries.\n"
        f"Purged {url}: 4 articles deleted.\n"
    )
    assert count(database_url, select(func.count(Article.id))) == 0


def test_feeds_add_refuses_what_is_not_a_feed_unless_anyway(
    env: dict[str, str], feed_server: FeedServer
) -> None:
    missing = feed_server.url("/gone.xml")
    refused = run(env, "feeds", "add", missing)
    assert refused.exit_code == 2
    assert refused.output.startswith(f"Error: {missing}: ")
    assert "(http_404); not added: check the URL, or add it anyway with --anyway" in (
        refused.output
    )
    nowhere = "http://no-such-host.invalid/feed.xml"
    unresolved = run(env, "feeds", "add", nowhere)
    assert unresolved.exit_code == 2
    assert unresolved.output.startswith(f"Error: {nowhere}")
    assert unresolved.output.rstrip().endswith("or add it anyway with --anyway")
    assert run(env, "feeds", "list").output.startswith("No feeds.")

    added = run(env, "feeds", "add", missing, "--anyway")
    assert added.exit_code == 0
    table = run(env, "feeds", "list").output.splitlines()
    assert re.match(r"failing +1  never polled +\S+ \S+ +0  " + re.escape(missing), table[1])
    assert table[-1] == "1 feed, 1 failing or gone."
    status = run(env, "status").output
    assert "feeds:      failing 1" in status
    assert "health:     ok" not in status  # a feed that never answered is not healthy
