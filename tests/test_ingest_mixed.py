"""One feed never breaks a poll: 40 feeds through the process pool, some of them hostile.

Healthy feeds in several languages beside an HTML page, an empty body, broken XML, a
gzip bomb, a 70,000-character redirect, a full-text page whose extractor raises and a
feed that kills its parse worker. Every healthy feed's entries are stored, every bad
one carries its error kind, and the next poll works.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import monitor.ingest.fulltext as fulltext
import monitor.ingest.poll as poll
from monitor.app import App
from monitor.ingest import PollReport, poll_due_feeds
from monitor.ingest.analyse import AnalysedFeed, analyse
from monitor.ingest.pool import ParsePool
from monitor.matching.results import MatchResult
from monitor.store import feeds as store
from monitor.store.db import transaction
from monitor.store.models import Article, Feed
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

WATCHLIST = """\
name: Recruitment
recipients: [desk@example.org]
schedule: daily 08:00
timezone: UTC
keywords: [recruit*]
countries: [NP, UZ]
"""

KILLER = "WORKER-KILLER"  # a title the test's matcher dies on, in a worker process only
EXPLODING = b"EXTRACTOR-EXPLODES"  # a page the test's extractor raises on

# Written for this test: two entries per language, each feed gets them numbered.
LANGUAGES = {
    "en": (
        "The harbour office opened a second ferry line to the northern islands this week.",
        "Volunteers planted four hundred young oaks along the old railway embankment.",
    ),
    "fr": (
        "La mairie a ouvert une nouvelle bibliothèque dans l'ancienne gare du quartier.",
        "Les pêcheurs du port ont fêté une saison exceptionnelle de sardines cet été.",
    ),
    "de": (
        "Die Stadtwerke haben im Herbst drei neue Buslinien durch das Tal eingerichtet.",
        "Im Museum am Fluss zeigt eine Ausstellung alte Karten der Region und ihrer Dörfer.",
    ),
    "es": (
        "El ayuntamiento inauguró un mercado cubierto junto a la plaza de la catedral.",
        "Los agricultores del valle esperan una buena cosecha de naranjas este invierno.",
    ),
    "ru": (
        "В городском парке открыли новый каток, и в первый вечер пришли сотни жителей.",
        "Местная школа получила грант на ремонт спортзала и покупку новых компьютеров.",
    ),
    "uz": (
        "Shahar kutubxonasi bolalar uchun yangi o'qish zalini ochdi va kitoblar sovg'a qildi.",
        "Vodiydagi fermerlar bu yil paxta va bug'doydan mo'l hosil kutishmoqda.",
    ),
}
HEALTHY = 33


class KillerMatcher:
    """The real matcher, except that a worker process matching ``KILLER`` dies on the spot.

    Picklable (the pool hands it to each worker); in the process that built it, it
    matches as usual and counts the calls, so the retry in the main process succeeds.
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.parent = os.getpid()
        self.main_calls = 0

    def __call__(self, title: str, text: str) -> Sequence[MatchResult]:
        if os.getpid() != self.parent:
            if KILLER in title:
                os._exit(70)  # a worker dying mid-call: the pool is broken
        else:
            self.main_calls += 1
        result: Sequence[MatchResult] = self.real(title, text)
        return result


def _raw(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
) -> None:
    handler.send_response(status)
    for key, value in {**headers, "Content-Length": str(len(body))}.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def gzip_bomb(handler: BaseHTTPRequestHandler) -> None:
    body = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=6)
    _raw(handler, 200, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}, body)


def long_redirect(handler: BaseHTTPRequestHandler) -> None:
    target = "/next?" + "a" * 70_000
    _raw(handler, 302, {"Location": target}, b"")


@pytest.fixture
def app(make_settings: Any, database_url: str, watchlists_dir: Path) -> Iterator[App]:
    (watchlists_dir / "recruitment.yaml").write_text(WATCHLIST)
    application = App.open(make_settings(database_url))
    yield application
    application.close()


def healthy_feed(index: int) -> tuple[bytes, list[str]]:
    language = sorted(LANGUAGES)[index % len(LANGUAGES)]
    first, second = LANGUAGES[language]
    ids = [f"h{index}-a", f"h{index}-b"]
    body = rss(
        item(ids[0], f"{first.split(',')[0][:40]} ({index})", f"{first} ({index})"),
        item(ids[1], f"{second.split(',')[0][:40]} ({index})", f"{second} ({index})"),
        title=f"Feed {index} ({language})",
    )
    return body, ids


def stored_ids(app: App) -> dict[str, set[str]]:
    with transaction(app.sessions) as session:
        rows = session.execute(select(Feed.url, Article.entry_id).join(Article.feed)).all()
    found: dict[str, set[str]] = {}
    for url, entry_id in rows:
        found.setdefault(url, set()).add(entry_id)
    return found


def test_a_poll_of_40_mixed_feeds_through_the_pool_stores_every_healthy_feed(
    app: App,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    killer = KillerMatcher(app.watchlists.matcher.match)
    monkeypatch.setattr(poll, "matcher_of", lambda _app: killer)
    real_extract = fulltext.extract_main_text

    def extract(body: bytes, url: str) -> str:
        if EXPLODING in body:  # stands in for an extractor bug met by one page
            raise KeyError("the extractor lost its way")
        return real_extract(body, url)

    monkeypatch.setattr(fulltext, "extract_main_text", extract)

    expected: dict[str, set[str]] = {}
    for index in range(HEALTHY):
        body, ids = healthy_feed(index)
        expected[feed_server.add(f"/healthy/{index}", Resource(body))] = ids_set = set(ids)
        assert ids_set
    killed = feed_server.add(
        "/killer", Resource(rss(item("k1", f"{KILLER} in the headline", "A plain entry text.")))
    )
    expected[killed] = {"k1"}
    page = feed_server.add(
        "/page", Resource(b"<html><body><p>" + EXPLODING + b"</p></body></html>")
    )
    bad = {
        feed_server.add(
            "/html",
            Resource(
                b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
                content_type="text/html",
            ),
        ): {"not_a_feed"},
        feed_server.add("/empty", Resource(b"")): {"empty"},
        feed_server.add(
            "/broken", Resource(b'<?xml version="1.0"?><rss version="2.0"><channel><ti')
        ): {"parse_error"},
        feed_server.add("/bomb", Resource(handler=gzip_bomb)): {"too_large"},
        # an unhandled httpx.InvalidURL until the fetcher classifies it: either way the
        # feed's own error, and the poll goes on
        feed_server.add("/redirect", Resource(handler=long_redirect)): {
            "bad_url",
            "internal_error",
        },
        feed_server.add(
            "/fulltext", Resource(rss(item("f1", "Council news", "Short teaser.", link=page)))
        ): {"internal_error"},
    }
    with transaction(app.sessions) as session:
        for url in [*expected, *bad]:
            store.add_feed(session, url, now=datetime.now(UTC), full_text=url.endswith("/fulltext"))
    assert len(expected) + len(bad) >= 40

    with caplog.at_level(logging.WARNING, logger="monitor.ingest.pool"):
        report = poll_due_feeds(app, all_feeds=True, parse_workers=1)

    assert isinstance(report, PollReport)
    outcomes = {o.url: o for o in report.outcomes}
    assert set(outcomes) == set(expected) | set(bad)
    assert stored_ids(app) == expected  # every healthy feed's entries, nothing of the bad ones
    assert report.new_articles == sum(len(ids) for ids in expected.values())
    for url in expected:
        assert (outcomes[url].status, outcomes[url].error_kind) == ("ok", None), url
    for url, kinds in bad.items():
        assert outcomes[url].status == "failing", url
        assert outcomes[url].error_kind in kinds, (url, outcomes[url].error)
    assert {o.url for o in report.failed} == set(bad)
    fulltext_error = outcomes[feed_server.url("/fulltext")].error or ""
    assert "KeyError" in fulltext_error and "the extractor lost its way" in fulltext_error
    # the worker that died broke the pool: it was replaced, the killer feed retried here
    assert any("parse_pool_replaced" in r.getMessage() for r in caplog.records)
    assert killer.main_calls >= 1

    # The next poll works: the healthy feeds answer 304, the bad ones fail again, alone.
    again = poll_due_feeds(app, all_feeds=True, parse_workers=1)
    statuses = {o.url: (o.status, o.error_kind in bad.get(o.url, {None})) for o in again.outcomes}
    assert statuses == {
        **{url: ("not_modified", True) for url in expected},
        **{url: ("failing", True) for url in bad},
    }
    assert stored_ids(app) == expected
    with transaction(app.sessions) as session:
        errors = {
            url: count for url, count in session.execute(select(Feed.url, Feed.consecutive_errors))
        }
    assert {url: errors[url] for url in bad} == {url: 2 for url in bad}


def test_a_broken_pool_is_replaced_and_the_feed_that_broke_it_is_retried_once_here(
    app: App,
) -> None:
    killer = KillerMatcher(app.watchlists.matcher.match)
    body = rss(
        item("k1", f"{KILLER} strikes", "Nepal recruits were sent home."),
        item("k2", "A quiet entry", "Nothing to see."),
    )
    parse_pool = ParsePool(1, killer)
    try:
        import asyncio
        import functools

        def job(data: bytes) -> functools.partial[AnalysedFeed]:
            return functools.partial(analyse, data, {}, "http://feeds.test/k", frozenset())

        analysed = asyncio.run(parse_pool.analyse(job(body)))
        assert parse_pool.replaced == 1
        # retried once, here: each entry matched once in this process
        assert killer.main_calls == 2
        assert [item.entry.entry_id for item in analysed.entries] == ["k1", "k2"]
        assert [len(item.matches or ()) for item in analysed.entries] == [1, 0]

        healthy = rss(item("h1", "Uzbek recruits", "Uzbek recruits came back."))
        again = asyncio.run(parse_pool.analyse(job(healthy)))
        assert parse_pool.replaced == 1 and killer.main_calls == 2  # the new pool did it
        assert [len(item.matches or ()) for item in again.entries] == [1]
    finally:
        parse_pool.shutdown()
