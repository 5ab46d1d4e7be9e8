"""Settings, declared once: name, type, default and help.

Every setting is read from a ``MONITOR_*`` environment variable or from a ``.env``
file in the working directory. Secrets (the SMTP password) come from the
environment only: they are never written to the database or logged.
``tests/test_config.py`` checks that each one is documented in the README.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor.exceptions import MonitorError

DEFAULT_DATABASE_URL = "sqlite:///./data/monitor.db"


class DataFolderError(MonitorError):
    """A folder the monitor writes to (the SQLite file's, the outbox) cannot be created or written."""


class Settings(BaseSettings):
    """Every setting of the monitor. Construct with ``Settings()`` to read the environment."""

    model_config = SettingsConfigDict(
        env_prefix="MONITOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the store: SQLite file or postgresql+psycopg://…",
    )
    watchlists_dir: Path = Field(
        Path("./watchlists"), description="Folder of watchlist YAML files, one per watchlist."
    )
    outbox_dir: Path = Field(
        Path("./data/outbox"),
        description="Where digests are written as .eml files when no SMTP host is set.",
    )
    poll_interval_minutes: int = Field(
        15, ge=1, le=24 * 60, description="Default interval between two polls of one feed."
    )
    smtp_host: str | None = Field(
        None, description="SMTP server; unset means digests are written to the outbox folder."
    )
    smtp_port: int = Field(
        25, ge=1, le=65535, description="SMTP port (587 for starttls, 465 for ssl)."
    )
    smtp_username: str | None = Field(None, description="SMTP login; no login when unset.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (environment only).")
    smtp_security: Literal["none", "starttls", "ssl"] = Field(
        "none", description="Transport security: none, starttls or ssl."
    )
    smtp_timeout_seconds: float = Field(
        30.0, gt=0, description="Timeout of one SMTP conversation step."
    )
    mail_from: str = Field(
        "News Monitor <news-monitor@localhost>", description="From address of digests."
    )
    fetch_concurrency: int = Field(20, ge=1, le=500, description="Feeds fetched at once.")
    full_text_budget: int = Field(
        100,
        ge=0,
        description="Article pages fetched per poll for teasers with a watchlist's signal "
        "(feeds in full-text mode auto; 0: none).",
    )
    fetch_timeout_seconds: float = Field(
        30.0, gt=0, description="Total time limit of one feed fetch, connect to last byte."
    )
    max_feed_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest feed body accepted, after decompression."
    )
    allow_private_addresses: bool = Field(
        False,
        description="Allow feed URLs on loopback, private and link-local addresses (intranets, tests).",
    )
    import_default_feeds: bool = Field(
        True, description="Import the shipped default feed list when the feeds table is empty."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level printed."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as 'event key=value' text or one JSON object per line."
    )
    http_port: int = Field(
        8080,
        ge=0,
        le=65535,
        description="Port of the web app, /healthz and /metrics (run, web); 0 turns it off.",
    )
    http_host: str = Field(
        "127.0.0.1", description="Address the web app, /healthz and /metrics listen on."
    )
    http_forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Reverse proxies whose X-Forwarded-Proto/-For are trusted (comma-separated, *).",
    )
    digest_batch_minutes: int = Field(
        5,
        ge=0,
        le=24 * 60,
        description="Least time between two digests of one watchlist on the immediate schedule.",
    )
    tick_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How often the service looks for due feeds and due digests.",
    )
    lease_seconds: int | None = Field(
        None,
        ge=1,
        description="How long claimed work (feeds being polled, a digest being sent) stays "
        "reserved to one process; unset: 15 min for feeds, 5 min for a digest.",
    )
    retention_days: int = Field(
        90,
        ge=0,
        description="Unmatched articles older than this are deleted; 0 keeps everything.",
    )
    maintenance_hours: float = Field(
        24.0,
        gt=0,
        description="How often the service prunes old articles and compacts SQLite.",
    )
    unsubscribe_url: str | None = Field(
        None,
        pattern=r"^https://\S+$",
        description="https page that unsubscribes (one-click, RFC 8058); unset means mailto only.",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://\S+[^/\s]$",
        description="The web app's base URL as users reach it (no trailing /); digests link "
        "to it ('view in browser', 'edit this watchlist'); unset: no such links.",
    )
    relevance: bool = Field(
        True,
        description="Score matches with the relevance model and find 'possibly relevant' "
        "articles (after each poll; the rules work without it).",
    )
    search_index: bool = Field(
        True,
        description="Index new articles for search as the poll stores them; false leaves "
        "them out until `news-monitor search --reindex`.",
    )
    backfill_days: int = Field(
        7,
        ge=0,
        description="An entry published more than this many days before its feed's first "
        "poll is stored and searchable but not alerted; 0 alerts everything.",
    )

    admin_email: str | None = Field(
        None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Address told when the monitor turns degraded or failing, and when it "
        "recovers; unset: only the log, status and /healthz say so.",
    )
    admin_alert_minutes: int = Field(
        60,
        ge=0,
        le=7 * 24 * 60,
        description="Least time between two problem messages to MONITOR_ADMIN_EMAIL.",
    )
    health_start_ticks: int = Field(
        3,
        ge=1,
        le=1000,
        description="Failing when no poll has ever succeeded this many ticks after start.",
    )
    health_failing_feeds_percent: int = Field(
        50,
        ge=0,
        le=100,
        description="Degraded when more than this share of the polled feeds is failing.",
    )
    health_digest_failing_minutes: int = Field(
        60,
        ge=1,
        description="Degraded when a digest has been failing to go out for longer than this.",
    )

    def ensure_dirs(self) -> None:
        """Create the folders a SQLite file and the outbox need; ``DataFolderError`` if one cannot be."""
        _writable_folder(self.outbox_dir, "MONITOR_OUTBOX_DIR")
        path = sqlite_path(self.database_url)
        if path is not None:
            _writable_folder(path.parent, "MONITOR_DATABASE_URL")


def _writable_folder(folder: Path, setting: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise DataFolderError(f"{folder} is a file, not a folder; move it away or set {setting}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFolderError(
            f"cannot create the folder {folder}: {exc.strerror or exc}; "
            f"make it writable or set {setting}"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataFolderError(
            f"the folder {folder} is not writable; make it writable or set {setting}"
        )


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///…`` URL, or None for other databases and in-memory SQLite."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    rest = database_url[len(prefix) :].split("?", 1)[0]
    if rest in ("", ":memory:"):
        return None
    return Path(rest)
