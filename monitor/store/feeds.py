"""The queries ingestion and the ``feeds`` commands use: feeds, articles, stories, matches.

No business rules (what is due, backoff, story decisions live in
``monitor.feeds.schedule`` and ``monitor.ingest``): reads and writes only. Every
function takes an open ``Session``; the caller owns the transaction.

Claiming due feeds: on PostgreSQL the candidates are read with ``FOR UPDATE SKIP
LOCKED`` so several processes split the due feeds without waiting on each other;
the lease (``lease_owner``/``lease_until``) is then set with a guarded ``UPDATE``
whose ``WHERE`` re-checks that the lease is free, which is atomic on SQLite too. A
process that dies leaves a lease that simply expires. A claim can leave out the hosts
the poll already has enough feeds of in flight (``feeds.host``, the URL's host name),
and a poll that stops hands back the leases of the feeds it did not fetch.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    Update,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from monitor.feeds.exceptions import FeedExists, FeedNotFound
from monitor.store.models import Article, Delivery, Feed, FeedStatus, Match, Story, StoryKey

POLLABLE = (FeedStatus.OK.value, FeedStatus.FAILING.value)

# The per-feed queries of polling are Core statements on the tables, run on the
# session's connection: through the ORM each cost about twice as much Python
# (profiled: the ORM's compile step was 8% of a first poll's time).
_ARTICLES = cast(Table, Article.__table__)
_STORY_KEYS = cast(Table, StoryKey.__table__)
_MATCHES = cast(Table, Match.__table__)


@dataclass(frozen=True)
class FeedForUpdate:
    """A claimed feed, as storage knows it, handed to the fetch stage."""

    id: int
    url: str
    host: str
    title: str | None
    status: str
    etag: str | None
    last_modified: str | None
    interval_minutes: int | None
    interval_pinned: bool
    consecutive_errors: int
    fetch_full_text: bool
    ignores_validators: bool
    last_full_fetch_at: datetime | None
    redirect_url: str | None
    redirect_count: int
    last_success_at: datetime | None
    parse_warning: str | None
    full_text_mode: str = "auto"  # a FullTextMode

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> FeedForUpdate:
        """From a row of ``CLAIMED_COLUMNS``: the fields, in order (all NOT NULL but the
        optional ones, booleans as ``bool``)."""
        return cls(*row)


# What a claimed feed is read with: columns, not ORM objects (loading Feed objects, with
# their identity map and every column, cost 5 % of the main process on the poll
# benchmark's second cycle).
CLAIMED_COLUMNS = (
    Feed.id,
    Feed.url,
    Feed.host,
    Feed.title,
    Feed.status,
    Feed.etag,
    Feed.last_modified,
    Feed.interval_minutes,
    Feed.interval_pinned,
    Feed.consecutive_errors,
    Feed.fetch_full_text,
    Feed.ignores_validators,
    Feed.last_full_fetch_at,
    Feed.redirect_url,
    Feed.redirect_count,
    Feed.last_success_at,
    Feed.parse_warning,
    Feed.full_text_mode,
)


@dataclass(frozen=True)
class FeedSummary:
    """One line of ``feeds list``."""

    url: str
    title: str | None
    folder: str | None
    site_url: str | None
    status: str
    error_kind: str | None
    consecutive_errors: int
    last_polled_at: datetime | None
    next_poll_at: datetime
    articles: int
    last_error: str | None
    parse_warning: str | None
    fetch_full_text: bool
    interval_minutes: int | None
    interval_pinned: bool
    ignores_validators: bool = False  # answered the same ETag/Last-Modified for new content
    full_text_mode: str = "auto"  # never | auto | always (a FullTextMode)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "folder": self.folder,
            "status": self.status,
            "error_kind": self.error_kind,
            "consecutive_errors": self.consecutive_errors,
            "last_polled_at": self.last_polled_at.isoformat() if self.last_polled_at else None,
            "next_poll_at": self.next_poll_at.isoformat(),
            "articles": self.articles,
            "last_error": self.last_error,
            "parse_warning": self.parse_warning,
            "full_text": self.fetch_full_text,
            "interval_minutes": self.interval_minutes,
            "interval_pinned": self.interval_pinned,
            "ignores_validators": self.ignores_validators,
            "full_text_mode": self.full_text_mode,
        }


# ---------------------------------------------------------------- feeds


def url_host(url: str) -> str:
    """The host name of a feed URL as ``feeds.host`` keeps it (lower case, no port; "" if none).

    The same name the fetcher's per-host limit uses (``urlsplit(url).hostname``).
    """
    try:
        return (urlsplit(url).hostname or "")[:255]
    except ValueError:
        return ""


def count_feeds(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Feed)) or 0)


def get_feed(session: Session, url: str) -> Feed:
    feed = session.scalar(select(Feed).where(Feed.url == url))
    if feed is None:
        raise FeedNotFound(url)
    return feed


def find_feed(session: Session, url: str) -> Feed | None:
    return session.scalar(select(Feed).where(Feed.url == url))


def add_feed(
    session: Session,
    url: str,
    *,
    now: datetime,
    title: str | None = None,
    folder: str | None = None,
    site_url: str | None = None,
    full_text: bool = False,
    error_kind: str | None = None,
    last_error: str | None = None,
) -> Feed:
    """A new feed, due at once; ``FeedExists`` when the URL is already there.

    A removed feed's URL brings that feed back (its kept articles with it). With
    ``error_kind`` (added although it did not answer with a feed) it starts ``failing``.
    """
    status = FeedStatus.FAILING.value if error_kind else FeedStatus.OK.value
    errors = 1 if error_kind else 0
    existing = find_feed(session, url)
    if existing is not None and existing.status == FeedStatus.REMOVED.value:
        existing.status, existing.next_poll_at = status, now
        existing.consecutive_errors, existing.error_kind = errors, error_kind
        existing.last_error = last_error
        existing.title = title or existing.title
        existing.folder = folder or existing.folder
        existing.fetch_full_text = full_text
        session.flush()
        return existing
    if existing is not None:
        raise FeedExists(url)
    feed = Feed(
        url=url,
        host=url_host(url),
        title=title,
        folder=folder,
        site_url=site_url,
        status=status,
        next_poll_at=now,
        consecutive_errors=errors,
        error_kind=error_kind,
        last_error=last_error,
        redirect_count=0,
        fetch_full_text=full_text,
        interval_pinned=False,
        ignores_validators=False,
        created_at=now,
    )
    session.add(feed)
    session.flush()
    return feed


@dataclass(frozen=True)
class FeedHistory:
    """What a feed's removal keeps, or its purge deletes."""

    url: str
    articles: int
    matched_articles: int
    matches: int
    deliveries: int
    removed: bool  # already removed (not polled) before


def feed_history(session: Session, url: str) -> FeedHistory:
    """How many articles (matched ones), matches and deliveries the feed has."""
    feed = get_feed(session, url)
    of_feed = select(Article.id).where(Article.feed_id == feed.id)
    articles = session.scalar(select(func.count()).where(Article.feed_id == feed.id)) or 0
    matched, matches = session.execute(
        select(func.count(func.distinct(Match.article_id)), func.count(Match.id)).where(
            Match.article_id.in_(of_feed)
        )
    ).one()
    deliveries = session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.match_id.in_(select(Match.id).where(Match.article_id.in_(of_feed)))
        )
    )
    return FeedHistory(
        url=feed.url,
        articles=int(articles),
        matched_articles=int(matched or 0),
        matches=int(matches or 0),
        deliveries=int(deliveries or 0),
        removed=feed.status == FeedStatus.REMOVED.value,
    )


def remove_feed(session: Session, url: str) -> FeedHistory:
    """Stop polling a feed, keeping its row, articles, matches and deliveries."""
    history = feed_history(session, url)
    feed = get_feed(session, url)
    feed.status = FeedStatus.REMOVED.value
    feed.lease_owner = feed.lease_until = None
    session.flush()
    return history


def purge_feed(session: Session, url: str) -> FeedHistory:
    """Delete a feed with its articles, their matches and deliveries; what went."""
    history = feed_history(session, url)
    feed = get_feed(session, url)
    session.execute(  # the band keys have no foreign key to cascade along (migration 0002)
        delete(StoryKey)
        .where(StoryKey.article_id.in_(select(Article.id).where(Article.feed_id == feed.id)))
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Feed).where(Feed.id == feed.id))
    return history


def list_feeds(session: Session) -> list[FeedSummary]:
    """Every feed but the removed ones (whose articles are kept)."""
    counts = select(Article.feed_id, func.count().label("n")).group_by(Article.feed_id).subquery()
    rows = session.execute(
        select(Feed, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.feed_id == Feed.id)
        .where(Feed.status != FeedStatus.REMOVED.value)
        .order_by(Feed.folder, Feed.url)
    ).all()
    return [
        FeedSummary(
            url=feed.url,
            title=feed.title,
            folder=feed.folder,
            site_url=feed.site_url,
            status=feed.status,
            error_kind=feed.error_kind,
            consecutive_errors=feed.consecutive_errors or 0,
            last_polled_at=feed.last_polled_at,
            next_poll_at=feed.next_poll_at,
            articles=int(count),
            last_error=feed.last_error,
            parse_warning=feed.parse_warning,
            fetch_full_text=bool(feed.fetch_full_text),
            interval_minutes=feed.interval_minutes,
            interval_pinned=bool(feed.interval_pinned),
            ignores_validators=bool(feed.ignores_validators),
            full_text_mode=feed.full_text_mode,
        )
        for feed, count in rows
    ]


def count_due_feeds(session: Session, *, now: datetime, all_feeds: bool) -> int:
    """How many feeds are due now (all pollable ones with ``all_feeds``), leased or not."""
    query = select(func.count()).select_from(Feed).where(Feed.status.in_(POLLABLE))
    if not all_feeds:
        query = query.where(Feed.next_poll_at <= now)
    return session.scalar(query) or 0


def claim_due_feeds(
    session: Session,
    *,
    now: datetime,
    cycle_started: datetime | None,
    owner: str,
    lease: timedelta,
    all_feeds: bool,
    limit: int,
    per_host: int | None = None,
    exclude_hosts: Collection[str] = (),
) -> list[FeedForUpdate]:
    """Lease up to ``limit`` due feeds (all pollable ones with ``all_feeds``) to ``owner``.

    ``cycle_started``: leave out the feeds polled since then (a one-shot poll polls each
    feed once); ``None`` in the service, which polls a feed whenever it is due.
    ``per_host``: at most this many feeds of one host (the first due); ``exclude_hosts``:
    none of these hosts. On PostgreSQL only the outer query locks (``SKIP LOCKED``): the
    per-host ranking is a plain subquery.
    """
    due = [
        Feed.status.in_(POLLABLE),
        or_(Feed.lease_until.is_(None), Feed.lease_until < now),
    ]
    if cycle_started is not None:
        due.append(or_(Feed.last_polled_at.is_(None), Feed.last_polled_at < cycle_started))
    if exclude_hosts:
        due.append(Feed.host.not_in(sorted(exclude_hosts)))
    if not all_feeds:
        due.append(Feed.next_poll_at <= now)
    query = select(Feed.id).where(*due)
    if per_host is not None:  # the first ``per_host`` due feeds of each host
        ranked = (
            select(
                Feed.id.label("id"),
                func.row_number()
                .over(partition_by=Feed.host, order_by=(Feed.next_poll_at, Feed.id))
                .label("n"),
            )
            .where(*due)
            .subquery()
        )
        query = query.where(Feed.id.in_(select(ranked.c.id).where(ranked.c.n <= per_host)))
    ids = list(
        session.scalars(
            query.order_by(Feed.next_poll_at, Feed.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    session.execute(
        update(Feed)
        .where(Feed.id.in_(ids), or_(Feed.lease_until.is_(None), Feed.lease_until < now))
        .values(lease_owner=owner, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(*CLAIMED_COLUMNS)
        .where(Feed.id.in_(ids), Feed.lease_owner == owner)
        .order_by(Feed.id)
    )
    return [FeedForUpdate.from_row(row) for row in rows]


def release_feeds(session: Session, owner: str, feed_ids: Collection[int]) -> int:
    """Hand back ``owner``'s leases on these feeds, untouched otherwise; how many were freed."""
    freed = 0
    for chunk in _chunks(sorted(feed_ids), 500):
        result = session.execute(
            update(Feed)
            .where(Feed.id.in_(chunk), Feed.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        freed += int(getattr(result, "rowcount", 0) or 0)
    return freed


def update_feeds(session: Session, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Write each poll's outcome on its feed and release its lease: one ``executemany`` per
    set of columns written.

    A batch of polls writes few distinct column sets (ok, not modified, failing), so a
    batch of 64 feeds costs two or three statements instead of 64.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for feed_id, values in rows:
        if "url" in values:  # the host follows the URL (a moved feed)
            values = {**values, "host": url_host(values["url"])}
        parameters = {f"v_{key}": value for key, value in values.items()}
        groups[tuple(sorted(values))].append({**parameters, "v_feed_id": feed_id})
    connection = session.connection()
    for columns, parameter_rows in groups.items():
        connection.execute(_feed_update(columns), parameter_rows)


@functools.lru_cache(maxsize=64)
def _feed_update(columns: tuple[str, ...]) -> Update:
    """One UPDATE per set of columns, built once: building it per feed cost 0.9 ms (profiled)."""
    table = cast(Table, Feed.__table__)
    values: dict[str, Any] = {key: bindparam(f"v_{key}") for key in columns}
    return (
        update(table)
        .where(table.c.id == bindparam("v_feed_id"))
        .values(**values, lease_owner=None, lease_until=None)
    )


# ---------------------------------------------------------------- articles and stories


def known_entries(
    session: Session, wanted: Mapping[int, tuple[Sequence[str], Sequence[str]]]
) -> dict[int, tuple[set[str], set[str]]]:
    """Per feed id, which of its given entry ids and content hashes it already has stored.

    ``wanted`` maps a feed id to (entry ids, content hashes). The (feed, value) pairs of
    the whole batch are joined to the articles as one table parameter (``json_each`` on
    SQLite, ``unnest`` on PostgreSQL), so each pair is one index look-up whatever the
    size of the table: a row-value ``IN (VALUES …)`` was planned by SQLite as a scan of
    the whole index (measured: 4 ms per batch at 40,000 articles, growing with them).
    """
    found: dict[int, tuple[set[str], set[str]]] = {feed: (set(), set()) for feed in wanted}
    ids = [(feed, entry_id) for feed, (entry_ids, _) in wanted.items() for entry_id in entry_ids]
    hashes = [(feed, h) for feed, (_, content_hashes) in wanted.items() for h in content_hashes]
    connection = session.connection()
    for column, pairs, slot in (("entry_id", ids, 0), ("content_hash", hashes, 1)):
        for chunk in _chunks(pairs, 5000):
            for feed_id, value in _join_pairs(connection, column, chunk):
                found[feed_id][slot].add(value)
    return found


def _join_pairs(
    connection: Connection, column: str, pairs: Sequence[tuple[int, str]]
) -> Iterable[tuple[int, str]]:
    """The (feed id, value) pairs that some article has in (``feed_id``, ``column``)."""
    if connection.dialect.name == "postgresql":
        return cast(
            Iterable[tuple[int, str]],
            connection.exec_driver_sql(
                f"SELECT a.feed_id, a.{column} FROM unnest(%s::int[], %s::text[]) AS w(f, v) "
                f"JOIN articles AS a ON a.feed_id = w.f AND a.{column} = w.v",
                ([feed for feed, _ in pairs], [value for _, value in pairs]),
            ),
        )
    return cast(
        Iterable[tuple[int, str]],
        connection.exec_driver_sql(
            # CROSS JOIN keeps the wanted pairs as the outer loop: one index search each.
            f"SELECT a.feed_id, a.{column} FROM json_each(?) AS w CROSS JOIN articles AS a "
            f"ON a.feed_id = json_extract(w.value, '$[0]') "
            f"AND a.{column} = json_extract(w.value, '$[1]')",
            (json.dumps(pairs),),
        ),
    )


def stories_by_url(session: Session, urls: Iterable[str]) -> dict[str, int]:
    """The story of each canonical URL already stored (any feed)."""
    found: dict[str, int] = {}
    a = _ARTICLES.c
    for chunk in _chunks(sorted(set(urls)), 500):
        for url, story_id in session.connection().execute(
            select(a.canonical_url, a.story_id).where(
                a.canonical_url.in_(chunk), a.story_id.is_not(None)
            )
        ):
            if url is not None and story_id is not None:
                found.setdefault(url, story_id)
    return found


def near_duplicate_candidates(
    session: Session, keys: Iterable[int], *, since: datetime
) -> dict[int, list[tuple[int, bytes]]]:
    """For each band key, the (story id, MinHash) of stored articles first seen since ``since``.

    The keys travel as one parameter: an array on PostgreSQL (``= ANY``), a JSON array
    read by ``json_each`` on SQLite. A batch of polls asks for tens of thousands of keys,
    and one bound parameter per key cost more Python than the look-up itself (profiled).
    """
    found: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    a, k = _ARTICLES.c, _STORY_KEYS.c
    for chunk in _chunks(sorted(set(keys)), 20_000):
        if postgres:
            matches_key = k.key == any_(cast_(chunk, postgresql.ARRAY(BigInteger)))
        else:
            matches_key = k.key.in_(
                select(literal_column("value")).select_from(
                    func.json_each(literal(json.dumps(chunk), String))
                )
            )
        rows = connection.execute(
            select(k.key, a.story_id, a.minhash)
            .join(_ARTICLES, a.id == k.article_id)
            .where(
                matches_key,
                a.first_seen_at >= since,
                a.story_id.is_not(None),
                a.minhash.is_not(None),
            )
        )
        for key, story_id, minhash in rows:
            if story_id is not None and minhash is not None:
                found[key].append((story_id, minhash))
    return found


def merge_stories(session: Session, old_story: int, new_story: int) -> None:
    """Move every article of ``old_story`` into ``new_story`` (found to be the same event)."""
    session.execute(
        update(Article)
        .where(Article.story_id == old_story)
        .values(story_id=new_story)
        .execution_options(synchronize_session=False)
    )


def new_stories(session: Session, fingerprints: Sequence[str | None], now: datetime) -> list[int]:
    """Insert one story per fingerprint; their ids in the same order.

    RETURNING without ``sort_by_parameter_order`` lets SQLAlchemy send one multi-row
    INSERT instead of one per row on SQLite; the ids are then matched back by
    fingerprint (stories with the same fingerprint are interchangeable when new).
    """
    if not fingerprints:
        return []
    table = cast(Table, Story.__table__)
    rows = session.connection().execute(
        insert(table).returning(table.c.id, table.c.fingerprint),
        [{"fingerprint": f, "created_at": now} for f in fingerprints],
    )
    by_fingerprint: dict[str | None, list[int]] = defaultdict(list)
    for story_id, fingerprint in rows:
        by_fingerprint[fingerprint].append(story_id)
    return [by_fingerprint[f].pop() for f in fingerprints]


def insert_articles(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert articles (distinct (feed id, entry id) pairs); their ids in the same order.

    Matched back by feed and entry id, so the INSERT can be one multi-row statement
    (see ``new_stories``).
    """
    if not rows:
        return []
    table = cast(Table, Article.__table__)
    result = session.connection().execute(
        insert(table).returning(table.c.id, table.c.feed_id, table.c.entry_id), list(rows)
    )
    ids = {(feed_id, entry_id): article_id for article_id, feed_id, entry_id in result}
    return [ids[(row["feed_id"], row["entry_id"])] for row in rows]


def insert_story_keys(session: Session, rows: Sequence[tuple[int, int]]) -> None:
    """Insert (article id, band key) rows.

    Straight to the driver's ``executemany``: these are 16 small rows per article, and
    SQLAlchemy's per-row parameter handling cost more than the database (measured).
    In key order, so consecutive rows land on the same pages of the key index.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":  # one round trip instead of one per row
        connection.exec_driver_sql(
            "INSERT INTO story_keys (article_id, key) SELECT * FROM unnest(%s::int[], %s::bigint[])",
            ([article for article, _ in rows], [key for _, key in rows]),
        )
        return
    mark = _mark(connection)
    connection.exec_driver_sql(
        f"INSERT INTO story_keys (article_id, key) VALUES ({mark}, {mark})",
        sorted(rows, key=lambda row: row[1]),
    )


def matched_stories(session: Session, story_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(story id, watchlist) pairs that already have a match on some article."""
    found: set[tuple[int, str]] = set()
    a, m = _ARTICLES.c, _MATCHES.c
    for chunk in _chunks(sorted(set(story_ids)), 500):
        for story_id, watchlist in session.connection().execute(
            select(a.story_id, m.watchlist)
            .join(_MATCHES, m.article_id == a.id)
            .where(a.story_id.in_(chunk))
            .distinct()
        ):
            if story_id is not None:
                found.add((story_id, watchlist))
    return found


def insert_matches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.connection().execute(insert(_MATCHES), list(rows))


def recent_entry_ids(connection: Connection, feed_id: int, limit: int) -> frozenset[str]:
    """The ids of the feed's latest ``limit`` stored entries.

    Plain SQL on a connection the caller keeps open for a whole poll: it is asked once
    per feed with news, and a session and a compiled statement per call cost ten times
    the query itself (profiled: 1.3 ms a feed). Straight to the driver's cursor: even
    ``exec_driver_sql`` spent more on its result rows than the query took (profiled: 8 %
    of the main process on the poll benchmark's second cycle). Its transaction ends at
    once, so no snapshot is held between feeds.
    """
    mark = _mark(connection)
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(
            f"SELECT entry_id FROM articles WHERE feed_id = {mark} ORDER BY id DESC LIMIT {mark}",
            (feed_id, limit),
        )
        return frozenset(row[0] for row in cursor.fetchall())
    finally:
        cursor.close()
        driver.rollback()


def feeds_on_url(session: Session, url: str, exclude_id: int) -> bool:
    """True when another feed already has this URL (a redirect target already polled)."""
    return (
        session.scalar(select(Feed.id).where(and_(Feed.url == url, Feed.id != exclude_id)))
        is not None
    )


def _mark(connection: Connection) -> str:
    """The driver's positional parameter marker: ``?`` for sqlite3, ``%s`` for psycopg."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
