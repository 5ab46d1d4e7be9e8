"""The whole loop on loopback: feeds served over HTTP, polled, matched, emailed over SMTP.

The articles are written for this project from the facts of the seeds, in our own words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from alerts.service import send_digests
from monitor.app import App
from monitor.ingest import poll_due_feeds
from monitor.store import feeds as feed_store
from monitor.store.db import transaction
from tests.servers import FeedServer, Resource, SMTPServer
from tests.test_alerts_support import ALICE, BOB, make_app, make_watchlist

PUBLISHED = datetime(2025, 8, 13, 9, 0, tzinfo=UTC)

MATCHING = {
    "Nepal asks Moscow to send home citizens recruited into its army": (
        "Kathmandu has asked the Russian government to stop recruiting Nepalese men and to "
        "return those who signed army contracts; the foreign ministry says dozens were killed."
    ),
    "Uzbek migrant jailed for mercenarism after coming back from the front": (
        "A court in Uzbekistan gave a labour migrant a prison term for mercenarism: he had "
        "joined Russian forces while working in Moscow."
    ),
    "Cuban men lured by building jobs ended up with military contracts": (
        "Two young men from Cuba say they were offered construction work in Russia and were "
        "instead taken to a recruitment point and handed a military contract."
    ),
}
UNRELATED = {
    "Kathmandu hosts a regional cricket tournament": (
        "Teams from Nepal, India and Sri Lanka meet for a week of matches in the capital."
    ),
    "Football club recruits a striker on a three-year contract": (
        "The club confirmed the transfer on Tuesday; the fee was not disclosed."
    ),
}


def _rss(title: str, items: dict[str, str], desk: str | None = None) -> bytes:
    desk = desk or title.split()[0].lower()
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>https://news.example/{desk}/{n}</link>"
        f"<guid>https://news.example/{desk}/{n}</guid><description>{escape(body)}</description>"
        f"<pubDate>{format_datetime(PUBLISHED)}</pubDate></item>"
        for n, (t, body) in enumerate(items.items())
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
        f"</title><link>https://news.example/</link><description>d</description>{entries}"
        "</channel></rss>"
    ).encode()


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def _titles(message: EmailMessage) -> set[str]:
    text = _text(message)
    assert all(text.count(t) <= 1 for t in MATCHING)
    return {t for t in [*MATCHING, *UNRELATED] if t in text}


def test_poll_match_and_email_each_matching_article_once(
    make_settings: Any,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
) -> None:
    settings = make_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=smtp_server.port, mail_from="m@news.example"
    )
    app: App = make_app(settings, [make_watchlist()])
    first = dict(list(MATCHING.items())[:2]) | dict(list(UNRELATED.items())[:1])
    second = dict(list(MATCHING.items())[2:]) | dict(list(UNRELATED.items())[1:])
    urls = [
        feed_server.add("/asia.xml", Resource(_rss("Asia Desk", first))),
        feed_server.add("/world.xml", Resource(_rss("World Desk", second))),
        # The Nepal story again, syndicated by a wire feed under the same link.
        feed_server.add("/wire.xml", Resource(_rss("Wire Service", first, desk="asia"))),
    ]
    with transaction(app.sessions) as session:
        for url in urls:
            feed_store.add_feed(session, url, now=PUBLISHED)
    poll_due_feeds(app, all_feeds=True)
    report = send_digests(app)
    assert sorted(o.recipient for o in report.sent) == [ALICE, BOB]
    for recipient in (ALICE, BOB):
        [message] = smtp_server.to(recipient)
        assert _titles(message) == set(MATCHING)
        assert str(message["Subject"]).startswith("[Foreign recruitment] 3 new matches (")
        # One item with both sources (in the order the feeds were stored: either).
        text = _text(message)
        assert "Asia Desk, Wire Service · " in text or "Wire Service, Asia Desk · " in text
    # A second poll and send find nothing new.
    poll_due_feeds(app, all_feeds=True)
    again = send_digests(app)
    assert again.created == () and again.outcomes == ()
    assert len(smtp_server.messages) == 2
    app.close()
