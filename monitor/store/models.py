"""SQLAlchemy models: the one schema shared by SQLite and PostgreSQL.

Durable state lives here, never in the scheduler: a feed carries its own
``next_poll_at``, validators and error count; a match carries, through
``Delivery`` rows, which recipients got it. Schema changes go through Alembic
(``monitor/store/migrations``); ``tests/test_store.py`` checks the two agree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class FeedStatus(StrEnum):
    """A feed's ``status``: polled (``ok``, ``failing``), or not (``gone`` after a 410, ``disabled``)."""

    OK = "ok"
    FAILING = "failing"
    GONE = "gone"  # answered 410 Gone: not polled until enabled again
    DISABLED = "disabled"  # turned off by the user
    REMOVED = "removed"  # removed by the user: not polled, not listed; its articles are kept


class FullTextMode(StrEnum):
    """When a feed's article pages are fetched for their full text (``feeds.full_text_mode``)."""

    NEVER = "never"  # the feed's own text only
    # A teaser (short, or cut with an ellipsis) carrying a signal of some watchlist, after
    # the poll stored it, within a budget per poll (monitor.ingest.enrich).
    AUTO = "auto"
    ALWAYS = "always"  # every new entry's page, in the poll itself (monitor.ingest.fulltext)


class Feed(Base):
    """A polled feed. ``status`` is a ``FeedStatus``."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    # The URL's host name (lower case, no port): the poll claims a few feeds of a host
    # at a time, so a slow host does not hold up the others (migration 0006).
    host: Mapped[str] = mapped_column(String(255), index=True, default="")
    title: Mapped[str | None] = mapped_column(String(500))
    site_url: Mapped[str | None] = mapped_column(String(2048))
    folder: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=FeedStatus.OK.value)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    interval_minutes: Mapped[int | None] = mapped_column(Integer)
    next_poll_at: Mapped[datetime] = mapped_column(index=True)
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    parse_warning: Mapped[str | None] = mapped_column(Text)
    redirect_url: Mapped[str | None] = mapped_column(String(2048))
    redirect_count: Mapped[int] = mapped_column(Integer, default=0)
    # A FullTextMode (migration 0008: was the boolean fetch_full_text, true now "always").
    full_text_mode: Mapped[str] = mapped_column(String(6), default=FullTextMode.AUTO.value)
    interval_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    ignores_validators: Mapped[bool] = mapped_column(Boolean, default=False)
    last_full_fetch_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]

    articles: Mapped[list[Article]] = relationship(back_populates="feed", passive_deletes=True)

    @hybrid_property
    def fetch_full_text(self) -> bool:
        """Every new entry's page is fetched in the poll (``always``); set: ``always``/``auto``."""
        return self.full_text_mode == FullTextMode.ALWAYS.value

    @fetch_full_text.inplace.setter
    def _fetch_full_text_setter(self, value: bool) -> None:
        self.full_text_mode = (FullTextMode.ALWAYS if value else FullTextMode.AUTO).value

    @fetch_full_text.inplace.expression
    @classmethod
    def _fetch_full_text_expression(cls) -> ColumnElement[bool]:
        return cls.full_text_mode == FullTextMode.ALWAYS.value


class Story(Base):
    """One event reported by one or more articles (same canonical URL or near-identical text)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The content hash of its first article; not indexed, nothing looks stories up by it
    # (its index was a random write per story, migration 0003).
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class FullTextState(StrEnum):
    """What looking for an article's full text gave (``articles.full_text_state``)."""

    FETCHED = "fetched"  # the page's main text replaced the feed's, matched again
    NO_GAIN = "no_gain"  # the page's main text was no longer than the feed's: kept the feed's
    FAILED = "failed"  # the page could not be fetched or read (``full_text_error`` says why)


class Article(Base):
    """One feed entry, unique per feed by its entry id."""

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("feed_id", "entry_id", name="uq_articles_feed_entry"),
        Index("ix_articles_canonical_url", "canonical_url"),
        # Content hashes are looked up per feed (an entry whose id changed): with the
        # feed first, a poll's new hashes land in a few places of the index instead of
        # all over it (migration 0003).
        Index("ix_articles_feed_content_hash", "feed_id", "content_hash"),
        Index("ix_articles_first_seen_at", "first_seen_at"),
        Index("ix_articles_story_id", "story_id"),
        # the matches page's language filter offers each stored language (migration 0013)
        Index("ix_articles_language", "language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    entry_id: Mapped[str] = mapped_column(String(1024))
    url: Mapped[str | None] = mapped_column(String(2048))
    canonical_url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    published_at: Mapped[datetime]
    first_seen_at: Mapped[datetime]
    # The article page's full text, when it was looked for (monitor.ingest.enrich): a
    # FullTextState, and why it failed (the feed text's verdict then stands). Migration 0008.
    full_text_state: Mapped[str | None] = mapped_column(String(20))
    full_text_error: Mapped[str | None] = mapped_column(Text)

    feed: Mapped[Feed] = relationship(back_populates="articles")


class StoryKey(Base):
    """One LSH band key of an article's MinHash: articles sharing a key are near-duplicate candidates.

    The primary key (key, article_id) is the lookup index itself; on SQLite the table
    is ``WITHOUT ROWID``, so each key is written into one B-tree, not a table and an
    index (16 keys per article make this the largest write of a poll).
    """

    __tablename__ = "story_keys"
    __table_args__ = (
        Index("ix_story_keys_article_id", "article_id"),
        {"sqlite_with_rowid": False},
    )

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # No foreign key: a derived look-up index, deleted with its articles explicitly
    # (retention, feed removal). The key check searched the articles table for every
    # key inserted: 37 % of a poll's key inserts on SQLite (migration 0002).
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class Match(Base):
    """An article that matched a watchlist, with why: unique per (article, watchlist).

    ``highlights`` are ``[start, end]`` character offsets into ``snippet``.
    ``is_duplicate`` marks a later copy of a story already matched for this
    watchlist: stored, never alerted again. ``history_only`` marks a match kept
    for the record and search, never alerted.
    """

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("article_id", "watchlist", name="uq_matches_article_watchlist"),
        # the matches page's index ranges (migration 0013): newest first, by relevance,
        # one watchlist newest first; the id breaks ties as the cursor does
        Index("ix_matches_created", "created_at", "id"),
        Index("ix_matches_score", "score", "id"),
        Index("ix_matches_watchlist_created", "watchlist", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    watchlist: Mapped[str] = mapped_column(String(200))
    terms: Mapped[list[Any]] = mapped_column(JSON)
    countries: Mapped[list[Any]] = mapped_column(JSON)
    snippet: Mapped[str] = mapped_column(Text, default="")
    highlights: Mapped[list[Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    is_duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    # Recorded, never alerted: an entry published long before its feed's first poll
    # (MONITOR_BACKFILL_DAYS), or a rematch asked for as history (migration 0007).
    history_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # The words as found, per term: [[term, surface], …]; None for older matches.
    found: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    # ``match`` (the rules held), ``possible`` (the model alone: its own digest section) or
    # ``doubtful`` (the rules held, the model scores it very low): monitor/relevance/verdict.py
    verdict: Mapped[str] = mapped_column(String(12), default="match", server_default="match")
    relevance: Mapped[float | None] = mapped_column(Float)
    # of a possible match: [[example text, similarity], …], the examples it is most like
    nearest: Mapped[list[Any] | None] = mapped_column(JSON)

    article: Mapped[Article] = relationship()


class Digest(Base):
    """The outbox: one rendered digest for one recipient, written before it is sent.

    ``status``: ``pending`` (to send, maybe after ``next_attempt_at``), ``sent``,
    ``failed`` (permanent refusal; the matches stay with it, shown by ``outbox list``,
    and ``outbox retry ID`` sends the same message again; see ``alerts.outbox``).
    """

    __tablename__ = "digests"
    __table_args__ = (Index("ix_digests_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    message: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Delivery(Base):
    """That one match is (being) delivered to one recipient: unique per (match, recipient)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("match_id", "recipient", name="uq_deliveries_match_recipient"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime]


class Unsubscribe(Base):
    """A recipient who asked to stop receiving one watchlist (``watchlist`` = ``*``: all)."""

    __tablename__ = "unsubscribes"
    __table_args__ = (UniqueConstraint("address", "watchlist", name="uq_unsubscribes"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    watchlist: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Secret(Base):
    """A key the service made for itself, shared by every process through the store.

    ``unsubscribe``: signs the one-click unsubscribe links (``alerts.recipients``); made on
    first use (migration 0012).
    """

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Subscription(Base):
    """Since when a recipient of a watchlist receives its matches.

    Written the first time a digest is built for the address: a recipient added to a
    watchlist that has already sent digests gets the matches from that watchlist's last
    run on, not its whole history; on a watchlist's first run, everything stored so far.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("watchlist", "address", name="uq_subscriptions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(320))
    since: Mapped[datetime]
    created_at: Mapped[datetime]


class DigestSchedule(Base):
    """When each watchlist's digest last ran: lets a missed slot run once at start."""

    __tablename__ = "digest_schedule"

    watchlist: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_run_at: Mapped[datetime | None]
    # The failing feeds (ids, comma-separated) an empty digest last told the recipients
    # of: that digest is sent once, not at every run while they keep failing (0007).
    failing_told: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]


class OperatorNotice(Base):
    """A health message sent to ``MONITOR_ADMIN_EMAIL``: the last one says what the admin knows.

    ``status`` is the health status it reported (``ok`` for a recovery message);
    ``reasons`` the codes of the reasons it gave, comma-separated (migration 0005).
    """

    __tablename__ = "operator_notices"
    __table_args__ = (Index("ix_operator_notices_address_sent", "address", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]


class UserRole(StrEnum):
    """What a web user may do: ``viewer`` reads, ``editor`` also changes, ``admin`` everything."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


class User(Base):
    """A person who logs in to the web app (``news-monitor users add``); password hashed with argon2."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20), default=UserRole.VIEWER.value)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class WebSession(Base):
    """A logged-in browser: the cookie holds a random token, the table its SHA-256 (migration 0009)."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """A user's read-only token for the Atom, JSON Feed and API URLs; ``revoked_at`` ends it."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """A refused login, kept a while: too many per address and account are refused outright."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]


class ArticleVector(Base):
    """The relevance stage's look at one article: its embedding, or none (no signal).

    Articles without a row are the stage's backlog (monitor/relevance/stage.py).
    """

    __tablename__ = "article_vectors"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    model: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)  # float16; None: no signal
    created_at: Mapped[datetime]


class Feedback(Base):
    """A user's "relevant" / "not relevant" on a match: never deleted, exportable.

    Title and text are copied, so the relevance model keeps learning from it when the
    article itself is purged.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("watchlist", "article_id", name="uq_feedback_watchlist_article"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist: Mapped[str] = mapped_column(String(200), index=True)
    match_id: Mapped[int | None] = mapped_column(Integer)
    article_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    relevant: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20))  # cli, web, email
    # sha256 of the emailed link that recorded it: each link is used once
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class Lease(Base):
    """A named piece of work one process does at a time (e.g. the admin's health message).

    Taken with a guarded update (or an insert) whose row count says who won; it expires
    at ``lease_until``, so a process that died holds it no longer (migration 0007).
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
