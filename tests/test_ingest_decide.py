"""The decide stage is pure: a claimed feed and what its poll brought in, the feed row's new state out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.articles import Signature
from monitor.feeds.fetch import FetchResult, Redirect
from monitor.feeds.parse import Entry
from monitor.ingest.analyse import AnalysedEntry, AnalysedFeed
from monitor.ingest.decide import (
    MOVE_AFTER,
    FeedFailure,
    FeedPolled,
    StoredNews,
    decide,
    move_target,
    new_entries,
)
from monitor.ingest.fetch import FeedFetched
from monitor.store.feeds import FeedForUpdate

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
INTERVAL = timedelta(minutes=30)

texts = st.text(alphabet="abc", max_size=3)
maybe = st.none() | st.text(alphabet="xyz", min_size=1, max_size=4)
times = st.none() | st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
)

feeds = st.builds(
    FeedForUpdate,
    id=st.integers(1, 10_000),
    url=st.just("https://news.example.org/feed"),
    title=maybe,
    status=st.sampled_from(["ok", "failing"]),
    etag=maybe,
    last_modified=maybe,
    interval_minutes=st.none() | st.integers(5, 360),
    interval_pinned=st.booleans(),
    consecutive_errors=st.integers(0, 50),
    fetch_full_text=st.booleans(),
    ignores_validators=st.booleans(),
    last_full_fetch_at=times,
    redirect_url=st.none() | st.just("https://new.example.org/feed"),
    redirect_count=st.integers(0, 3),
    last_success_at=times,
    parse_warning=maybe,
)
kinds = st.sampled_from(["timeout", "dns", "http_404", "http_410", "parse_error", "internal_error"])


def response(
    status: int = 200, redirects: tuple[Redirect, ...] = (), etag: str = '"e2"'
) -> FetchResult:
    final = redirects[-1].location if redirects else "https://news.example.org/feed"
    return FetchResult(
        "https://news.example.org/feed", final, status, {"etag": etag}, b"", redirects
    )


def parsed(*entries: AnalysedEntry) -> AnalysedFeed:
    return AnalysedFeed(
        title="Example news", ttl_minutes=None, warning=None, dates=(), entries=entries
    )


@given(feeds, kinds, st.floats(0, 1))
def test_a_failure_counts_an_error_and_leaves_what_the_feed_knew(
    feed: FeedForUpdate, kind: str, jitter: float
) -> None:
    failure = FeedFailure(kind, f"{feed.url}: went wrong")
    decision = decide(
        FeedPolled(feed, failure=failure),
        StoredNews(),
        url_taken=False,
        default_interval=INTERVAL,
        now=NOW,
        jitter=jitter,
    )
    intent, outcome = decision.intent, decision.outcome
    assert intent.status == ("gone" if kind == "http_410" else "failing") == outcome.status
    assert (intent.consecutive_errors, intent.error_kind, intent.last_error) == (
        feed.consecutive_errors + 1,
        kind,
        failure.message,
    )
    assert intent.next_poll_at > NOW and intent.last_polled_at == NOW
    # what a failure does not know about is left as it was
    assert (intent.url, intent.etag, intent.last_modified, intent.title) == (
        feed.url,
        feed.etag,
        feed.last_modified,
        feed.title,
    )
    assert (intent.last_success_at, intent.redirect_url, intent.redirect_count) == (
        feed.last_success_at,
        feed.redirect_url,
        feed.redirect_count,
    )
    assert outcome.new == 0 and outcome.error_kind == kind


@given(feeds, st.floats(0, 1))
def test_a_304_clears_the_errors_and_keeps_the_validators(
    feed: FeedForUpdate, jitter: float
) -> None:
    decision = decide(
        FeedPolled(feed, FeedFetched(feed, response(304), unconditional=False)),
        StoredNews(),
        url_taken=False,
        default_interval=INTERVAL,
        now=NOW,
        jitter=jitter,
    )
    intent = decision.intent
    assert (intent.status, intent.consecutive_errors, intent.error_kind) == ("ok", 0, None)
    assert (intent.etag, intent.last_modified) == (feed.etag, feed.last_modified)
    assert intent.last_success_at == NOW and intent.next_poll_at > NOW
    assert decision.outcome.status == "not_modified"


@given(feeds, st.booleans())
def test_a_permanent_redirect_moves_the_feed_after_it_is_seen_twice_unless_taken(
    feed: FeedForUpdate, taken: bool
) -> None:
    target = "https://new.example.org/feed"
    result = response(redirects=(Redirect(301, target),))
    decision = decide(
        FeedPolled(feed, FeedFetched(feed, result, unconditional=False), parsed()),
        StoredNews(),
        url_taken=taken,
        default_interval=INTERVAL,
        now=NOW,
        jitter=0.5,
    )
    seen = feed.redirect_count + 1 if feed.redirect_url == target else 1
    moves = seen >= MOVE_AFTER and not taken
    assert (move_target(feed, result) == target) == (seen >= MOVE_AFTER)
    assert decision.intent.url == (target if moves else feed.url)
    assert decision.outcome.moved_to == (target if moves else None)
    assert (decision.intent.redirect_url, decision.intent.redirect_count) == (
        (None, 0) if moves else (target, seen)
    )


def test_a_server_sending_the_same_validators_for_news_is_caught() -> None:
    feed = FeedForUpdate(
        1, "https://news.example.org/feed", "news.example.org", "T", "ok", '"e1"', None, None, False, 0, False,
        False, NOW - 2 * DAY, None, 0, NOW - DAY, None,
    )  # fmt: skip
    fetched = FeedFetched(feed, response(etag='"e1"'), unconditional=True)
    stale = decide(
        FeedPolled(feed, fetched, parsed()),
        StoredNews(new=2),
        url_taken=False,
        default_interval=INTERVAL,
        now=NOW,
        jitter=0.5,
    )
    assert stale.validators_stale and stale.intent.ignores_validators
    assert stale.intent.last_full_fetch_at == NOW
    quiet = decide(
        FeedPolled(feed, fetched, parsed()),
        StoredNews(new=0),
        url_taken=False,
        default_interval=INTERVAL,
        now=NOW,
        jitter=0.5,
    )
    assert not quiet.validators_stale and not quiet.intent.ignores_validators


def entry(entry_id: str, content_hash: str, signed: bool) -> AnalysedEntry:
    signature = Signature(b"\0" * 8, (1, 2)) if signed else None
    record = Entry(entry_id, None, None, "t", "x", None, None, None, content_hash, signature)
    return AnalysedEntry(record, "x", None)


entries = st.lists(st.builds(entry, texts, texts, st.booleans()), max_size=12)


@given(entries, st.sets(texts), st.sets(texts))
def test_an_entry_is_new_when_neither_its_id_nor_its_trusted_content_is_known(
    items: list[AnalysedEntry], known_ids: set[str], known_hashes: set[str]
) -> None:
    fresh = new_entries(items, known_ids, known_hashes)
    kept = {id(i) for i in fresh}

    assert [i for i in items if id(i) in kept] == fresh  # feed order, a subset
    assert not {i.entry.entry_id for i in fresh} & known_ids
    signed = [i.entry.content_hash for i in fresh if i.entry.signature is not None]
    assert not set(signed) & known_hashes
    assert len(signed) == len(set(signed))  # one article per trusted content
    for i in items:  # whatever is left out is left out for a reason
        if id(i) not in kept:
            assert i.entry.entry_id in known_ids or (
                i.entry.signature is not None
                and (
                    i.entry.content_hash in known_hashes
                    or any(f.entry.content_hash == i.entry.content_hash for f in fresh)
                )
            )
