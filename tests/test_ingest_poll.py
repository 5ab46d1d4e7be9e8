"""The poll (monitor.ingest) on a real database (SQLite and PostgreSQL) against a loopback feed server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.app import App
from monitor.articles import BANDS
from monitor.config import Settings
from monitor.feedlist import default_feeds, ensure_default_feeds
from monitor.ingest import PollReport, poll_due_feeds
from monitor.store import feeds as store
from monitor.store.db import make_engine, session_factory, transaction, upgrade
from monitor.store.models import Article, Feed, StoryKey
from monitor.watchlists import WatchlistRegistry
from tests.servers import FeedServer, Resource

DATA = Path(__file__).parent / "data" / "feeds"


def build_app(settings: Settings) -> App:
    """An App without watchlists: the pipeline stores articles and matches nothing."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return App(
        settings, engine, session_factory(engine), WatchlistRegistry(settings.watchlists_dir)
    )


@pytest.fixture
def app(make_settings: Callable[..., Settings], database_url: str) -> Iterator[App]:
    application = build_app(make_settings(database_url))
    yield application
    application.close()


def item(
    guid: str, title: str, text: str, *, link: str | None = None, date: datetime | None = None
) -> str:
    parts = [f"<item><guid isPermaLink='false'>{guid}</guid><title>{title}</title>"]
    if link:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{format_datetime(date)}</pubDate>")
    parts.append(f"<description>{text}</description></item>")
    return "".join(parts)


def rss(*items: str, title: str = "Test feed", ttl: int | None = None) -> bytes:
    extra = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"{extra}{''.join(items)}</channel></rss>"
    ).encode()


def add(app: App, url: str) -> None:
    with transaction(app.sessions) as session:
        store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))


def feed_row(app: App, url: str) -> Feed:
    with transaction(app.sessions) as session:
        row = session.scalar(select(Feed).where(Feed.url == url))
        assert row is not None
        session.expunge(row)
        return row


def articles(app: App) -> list[Article]:
    with transaction(app.sessions) as session:
        rows = list(session.scalars(select(Article).order_by(Article.id)))
        session.expunge_all()
        return rows


def outcome(report: PollReport, url: str) -> Any:
    (found,) = [o for o in report.outcomes if o.url == url]
    return found


LONG = (
    "Recruiters in Moscow offered labour migrants from Tajikistan and Kyrgyzstan one-year army "
    "contracts with signing bonuses, according to relatives who spoke to reporters this week. "
)


def test_new_articles_are_stored_once_and_validators_give_304(
    app: App, feed_server: FeedServer
) -> None:
    url_rss = feed_server.add("/rss", Resource((DATA / "recruitment.rss").read_bytes()))
    url_atom = feed_server.add(
        "/atom",
        Resource((DATA / "recruitment.atom").read_bytes(), content_type="application/atom+xml"),
    )
    url_json = feed_server.add(
        "/json",
        Resource(
            (DATA / "recruitment.json").read_bytes(),
            content_type="application/feed+json",
            etag=False,
            last_modified=None,
        ),
    )
    for url in (url_rss, url_atom, url_json):
        add(app, url)
    before = datetime.now(UTC)
    first = poll_due_feeds(app)
    assert {(o.url, o.status, o.new) for o in first.outcomes} == {
        (url_rss, "ok", 3),
        (url_atom, "ok", 1),
        (url_json, "ok", 2),
    }
    stored = articles(app)
    assert len(stored) == 6
    undated = [a for a in stored if a.title == "Undated note about the weather"]
    assert undated[0].published_at >= before  # first-seen time
    rss_row = feed_row(app, url_rss)
    assert rss_row.title == "Steppe Wire" and rss_row.etag and rss_row.status == "ok"
    assert rss_row.next_poll_at >= datetime.now(UTC) + timedelta(minutes=29)  # <ttl>30</ttl>

    again = poll_due_feeds(app, all_feeds=True)
    assert {(o.url, o.status, o.new) for o in again.outcomes} == {
        (url_rss, "not_modified", 0),
        (url_atom, "not_modified", 0),
        (url_json, "ok", 0),  # no validators: fetched and parsed, nothing new
    }
    _, headers = (
        feed_server.requests[-1]
        if feed_server.requests[-1][0] == "/rss"
        else next(r for r in reversed(feed_server.requests) if r[0] == "/rss")
    )
    assert headers.get("If-None-Match") == rss_row.etag
    assert "news-monitor" in headers["User-Agent"]
    assert len(articles(app)) == 6


def test_new_entries_on_a_later_poll_and_changed_ids(app: App, feed_server: FeedServer) -> None:
    when = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
    one = item(
        "a-1", "Migrants offered army contracts", LONG, link="https://e.example.org/1", date=when
    )
    url = feed_server.add("/f", Resource(rss(one)))
    add(app, url)
    assert poll_due_feeds(app).new_articles == 1
    two = item(
        "a-2",
        "Second story",
        "Another text about Kyrgyz workers sent to the front. " * 3,
        link="https://e.example.org/2",
    )
    renamed = item(
        "renamed-a-1",
        "Migrants offered army contracts",
        LONG,
        link="https://e.example.org/1?utm_source=x",
        date=when,
    )
    feed_server.add("/f", Resource(rss(renamed, two)))
    report = poll_due_feeds(app, all_feeds=True)
    assert outcome(report, url).new == 1
    assert [a.entry_id for a in articles(app)] == ["a-1", "a-2"]


def test_old_entries_beyond_the_parser_window_are_not_stored_again(
    app: App, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The parser skips only the latest KNOWN_IDS stored ids; older entries that a feed
    # still carries are caught when storing, feed by feed (the same ids in another feed
    # are that feed's own articles).
    monkeypatch.setattr("monitor.ingest.claim.KNOWN_IDS", 1)
    body = rss(*(item(f"old-{n}", f"Entry {n}", f"Text number {n} of the feed.") for n in range(3)))
    first = feed_server.add("/first", Resource(body, etag=False, last_modified=None))
    second = feed_server.add("/second", Resource(body, etag=False, last_modified=None))
    add(app, first)
    assert poll_due_feeds(app).new_articles == 3
    add(app, second)
    report = poll_due_feeds(app, all_feeds=True)
    assert {(o.url, o.status, o.new) for o in report.outcomes} == {
        (first, "ok", 0),
        (second, "ok", 3),
    }
    assert len(articles(app)) == 6


def test_same_story_across_feeds(app: App, feed_server: FeedServer) -> None:
    wire = LONG * 3
    first = feed_server.add(
        "/one",
        Resource(
            rss(
                item(
                    "x",
                    "Migrants recruited",
                    wire,
                    link="https://wire.example.org/s/1?utm_source=one",
                )
            )
        ),
    )
    second = feed_server.add(
        "/two",
        Resource(
            rss(
                item(
                    "y",
                    "Migrants recruited, relatives say",
                    "MOSCOW - " + wire + " Editing by the desk.",
                    link="https://paper.example.org/a/9",
                )
            )
        ),
    )
    third = feed_server.add(
        "/three",
        Resource(rss(item("z", "Copy", "x", link="https://wire.example.org/s/1#comments"))),
    )
    other = feed_server.add(
        "/four",
        Resource(
            rss(
                item(
                    "w",
                    "Cotton",
                    "Farmers picked cotton early this year in the valley after a very hot summer season.",
                    link="https://o.example.org/",
                )
            )
        ),
    )
    for url in (first, second, third, other):
        add(app, url)
    poll_due_feeds(app)
    by_feed = {a.entry_id: a.story_id for a in articles(app)}
    assert by_feed["x"] == by_feed["y"] == by_feed["z"]  # near-identical text; same canonical URL
    assert by_feed["w"] != by_feed["x"]


def test_near_identical_copies_in_one_poll_are_one_story(app: App, feed_server: FeedServer) -> None:
    # Three copies of one wire text with small edits, carried by two feeds polled together:
    # each later copy finds the earlier ones of the same batch by their band keys.
    wire = LONG * 2
    one = feed_server.add(
        "/one",
        Resource(
            rss(
                item("c1", "Army contracts", "LONDON - " + wire, link="https://a.example.org/1"),
                item(
                    "c2",
                    "Army contracts",
                    wire + " Reporting by the desk.",
                    link="https://b.example.org/2",
                ),
            )
        ),
    )
    two = feed_server.add(
        "/two",
        Resource(
            rss(item("c3", "Army contracts", wire + " (Updated)", link="https://c.example.org/3"))
        ),
    )
    for url in (one, two):
        add(app, url)
    report = poll_due_feeds(app)
    assert report.new_articles == 3
    assert sum(o.same_story for o in report.outcomes) == 2
    assert len({a.story_id for a in articles(app)}) == 1


def test_removing_a_feed_removes_its_articles_band_keys(app: App, feed_server: FeedServer) -> None:
    kept = feed_server.add("/kept", Resource(rss(item("k", "Kept", LONG))))
    removed = feed_server.add("/removed", Resource(rss(item("r", "Removed", LONG + " More."))))
    for url in (kept, removed):
        add(app, url)
    poll_due_feeds(app)

    def keys() -> int:
        with transaction(app.sessions) as session:
            return int(session.scalar(select(func.count()).select_from(StoryKey)) or 0)

    assert keys() == 2 * BANDS
    with transaction(app.sessions) as session:
        assert store.remove_feed(session, removed).articles == 1
    assert keys() == 2 * BANDS  # removed: no longer polled, its articles kept
    with transaction(app.sessions) as session:
        assert store.purge_feed(session, removed).articles == 1
    assert keys() == BANDS


def test_failures_back_off_and_recover(app: App, feed_server: FeedServer) -> None:
    calls = {"n": 0}

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        calls["n"] += 1
        status, body = (
            (500, b"oops") if calls["n"] <= 2 else (200, rss(item("r", "Back", "Recovered")))
        )
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    url = feed_server.add("/flaky", Resource(handler=flaky))
    add(app, url)
    delays = []
    for _ in range(2):
        start = datetime.now(UTC)
        report = poll_due_feeds(app, all_feeds=True)
        assert outcome(report, url).error_kind == "http_500"
        row = feed_row(app, url)
        delays.append(row.next_poll_at - start)
        assert row.status == "failing"
    assert feed_row(app, url).consecutive_errors == 2
    assert delays[1] > delays[0] * 1.5  # exponential
    report = poll_due_feeds(app, all_feeds=True)
    assert outcome(report, url).status == "ok"
    row = feed_row(app, url)
    assert (row.status, row.consecutive_errors, row.error_kind) == ("ok", 0, None)


def test_retry_after_pushes_the_next_poll(app: App, feed_server: FeedServer) -> None:
    url = feed_server.add(
        "/busy", Resource(b"slow down", status=429, headers={"Retry-After": "7200"})
    )
    add(app, url)
    start = datetime.now(UTC)
    report = poll_due_feeds(app)
    assert outcome(report, url).error_kind == "http_429"
    assert feed_row(app, url).next_poll_at >= start + timedelta(hours=2)


def test_gone_feeds_stop_and_permanent_redirects_move(app: App, feed_server: FeedServer) -> None:
    gone = feed_server.add("/gone", Resource(b"", status=410))
    target = feed_server.add("/new-home", Resource(rss(item("m", "Moved", "Text"))))
    moved = feed_server.add(
        "/old-home",
        Resource(b"", status=301, headers={"Location": target}, etag=False, last_modified=None),
    )
    temp_target = feed_server.add("/temp-target", Resource(rss(item("t", "Temp", "Text"))))
    temp = feed_server.add(
        "/temp",
        Resource(
            b"", status=302, headers={"Location": temp_target}, etag=False, last_modified=None
        ),
    )
    for url in (gone, moved, temp):
        add(app, url)
    poll_due_feeds(app)
    assert feed_row(app, gone).status == "gone"
    assert feed_row(app, moved).redirect_url == target
    second = poll_due_feeds(app, all_feeds=True)
    assert gone not in {o.url for o in second.outcomes}  # not polled any more
    assert outcome(second, target).moved_to == target
    row = feed_row(app, target)
    assert row.redirect_url is None and row.title == "Test feed"
    assert feed_row(app, temp).url == temp  # 302 never moves a feed
    assert feed_server.hits("/gone") == 1


def test_claims_do_not_overlap(app: App, feed_server: FeedServer) -> None:
    for n in range(6):
        add(app, feed_server.url(f"/c{n}"))
    now = datetime.now(UTC)

    def claim(owner: str, at: datetime, limit: int) -> list[store.FeedForUpdate]:
        with transaction(app.sessions) as session:
            return store.claim_due_feeds(
                session,
                now=at,
                cycle_started=at,
                owner=owner,
                lease=timedelta(minutes=5),
                all_feeds=False,
                limit=limit,
            )

    first = claim("a", now, 4)
    second = claim("b", now, 4)
    assert len(first) == 4 and len(second) == 2
    assert not {f.id for f in first} & {f.id for f in second}
    later = now + timedelta(minutes=6)  # leases expired: the feeds can be claimed again
    third = claim("c", later, 10)
    assert len(third) == 6


def test_a_claimed_feed_carries_what_storage_knows_of_it(app: App, feed_server: FeedServer) -> None:
    url = feed_server.url("/known")
    add(app, url)
    fetched_at = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    with transaction(app.sessions) as session:
        feed = session.scalars(select(Feed).where(Feed.url == url)).one()
        feed.title, feed.status = "Known feed", "failing"
        feed.etag, feed.last_modified = '"v7"', "Sun, 01 Nov 2026 12:00:00 GMT"
        feed.interval_minutes, feed.interval_pinned = 45, True
        feed.consecutive_errors, feed.fetch_full_text = 3, True
        feed.ignores_validators, feed.last_full_fetch_at = True, fetched_at
        feed.redirect_url, feed.redirect_count = feed_server.url("/moved"), 2
        feed_id = feed.id
    at = datetime.now(UTC)
    with transaction(app.sessions) as session:
        (claimed,) = store.claim_due_feeds(
            session, now=at, cycle_started=at, owner="a", lease=timedelta(minutes=5),
            all_feeds=True, limit=10,
        )  # fmt: skip

    assert claimed == store.FeedForUpdate(
        id=feed_id,
        url=url,
        host="127.0.0.1",
        title="Known feed",
        status="failing",
        etag='"v7"',
        last_modified="Sun, 01 Nov 2026 12:00:00 GMT",
        interval_minutes=45,
        interval_pinned=True,
        consecutive_errors=3,
        fetch_full_text=True,
        ignores_validators=True,
        last_full_fetch_at=fetched_at,
        redirect_url=feed_server.url("/moved"),
        redirect_count=2,
        last_success_at=None,
        parse_warning=None,
        full_text_mode="always",
    )


def test_default_feeds_are_imported_once_into_an_empty_table(
    make_settings: Callable[..., Settings], sqlite_url: str
) -> None:
    application = build_app(make_settings(sqlite_url, import_default_feeds=True))
    try:
        shipped = default_feeds()
        assert len(shipped) >= 5  # the shipped monitor/feeds/default_feeds.opml
        assert ensure_default_feeds(application) == len(shipped)
        assert ensure_default_feeds(application) == 0
        with transaction(application.sessions) as session:
            assert session.scalar(select(func.count()).select_from(Feed)) == len(shipped)
    finally:
        application.close()


def test_no_default_feeds_when_the_setting_is_off(app: App) -> None:
    assert ensure_default_feeds(app) == 0


def test_server_that_keeps_its_etag_for_new_content_is_caught(
    app: App, feed_server: FeedServer
) -> None:
    state = {"body": rss(item("v1", "First", "The first entry of the feed."))}

    def stale_etag(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-None-Match") == '"fixed"':
            handler.send_response(304)
            handler.send_header("ETag", '"fixed"')
            handler.end_headers()
            return
        body = state["body"]
        handler.send_response(200)
        handler.send_header("ETag", '"fixed"')
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    url = feed_server.add("/stale", Resource(handler=stale_etag))
    add(app, url)
    start = datetime.now(UTC)
    assert outcome(poll_due_feeds(app, now=start), url).new == 1
    state["body"] = rss(
        item("v2", "Second", "A newer entry."), item("v1", "First", "The first entry of the feed.")
    )
    hidden = poll_due_feeds(app, all_feeds=True, now=start + timedelta(hours=1))
    assert outcome(hidden, url).status == "not_modified"  # the server hides the change
    caught = poll_due_feeds(app, all_feeds=True, now=start + timedelta(hours=25))
    assert outcome(caught, url).new == 1  # the daily unconditional fetch finds it
    assert feed_row(app, url).ignores_validators
    with app.sessions() as session:  # what `feeds list --json` prints for it
        (listed,) = [row.to_json() for row in store.list_feeds(session) if row.url == url]
    assert listed["ignores_validators"] is True
    poll_due_feeds(app, all_feeds=True, now=start + timedelta(hours=26))
    last_headers = [h for path, h in feed_server.requests if path == "/stale"][-1]
    assert "If-None-Match" not in last_headers  # from now on always fetched in full


ARTICLE_PAGE = """<!DOCTYPE html><html><head><title>Recruited abroad</title></head><body>
<nav><a href="/">Home</a><a href="/world">World</a></nav>
<article><h1>Recruited abroad</h1>
<p>Families in the hill districts of Nepal say that dozens of young men left last year on tourist
visas after agents promised them jobs in Russian warehouses and on building sites.</p>
<p>Once they arrived in Moscow, several were taken to a recruitment office and offered one-year
contracts with the Russian army, with a signing bonus larger than a decade of wages at home.</p>
<p>Relatives told local reporters that the men were sent to training camps within days and to the
front in eastern Ukraine within weeks. Some have not been heard from since the spring.</p>
<p>The foreign ministry in Kathmandu has asked Moscow to send the men home and to return the bodies
of those who were killed, and it has stopped issuing permits for work in Russia.</p>
</article><footer>Copyright the paper</footer></body></html>"""


def test_full_text_is_fetched_for_new_entries_of_full_text_feeds(
    app: App, feed_server: FeedServer
) -> None:
    page = feed_server.add(
        "/story/1", Resource(ARTICLE_PAGE.encode(), content_type="text/html; charset=utf-8")
    )
    url = feed_server.add(
        "/teasers",
        Resource(rss(item("t1", "Recruited abroad", "Nepali men sent to war.", link=page))),
    )
    with transaction(app.sessions) as session:
        store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1), full_text=True)
    poll_due_feeds(app)
    (article,) = articles(app)
    assert "Families in the hill districts of Nepal say" in article.text
    assert "stopped issuing permits for work in Russia" in article.text
    assert "Home" not in article.text and "Copyright" not in article.text
    poll_due_feeds(app, all_feeds=True)
    assert feed_server.hits("/story/1") == 1  # fetched once, for the new entry only
