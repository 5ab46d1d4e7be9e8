"""Errors of feed fetching and parsing.

    MonitorError
    └── FeedError                    ``kind``: a short stable error kind stored on the feed
        ├── FetchError               the HTTP fetch failed (timeout, dns, http_404, too_large…)
        │   └── UnsafeURLError (ValueError)   not http(s), or a private address (refused)
        ├── ParseError               the body is not a usable feed (parse_error, not_a_feed…)
        ├── OpmlError (ValueError)   an OPML file that cannot be read (names the file)
        ├── FeedNotFound (LookupError, ValueError)   no feed with that URL in the store
        └── FeedExists (ValueError)           the feed is already in the store

Every message names the URL and says what the user can do.
"""

from __future__ import annotations

from enum import StrEnum

from monitor.exceptions import MonitorError


class FeedError(MonitorError):
    """A feed could not be fetched or used; ``kind`` is an ``ErrorKind`` or ``http_kind(status)``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class FetchError(FeedError):
    """The HTTP fetch failed. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(kind, message)
        self.retry_after = retry_after


class UnsafeURLError(FetchError, ValueError):
    """The URL is not http(s), or resolves to a loopback, private or link-local address."""


class ParseError(FeedError):
    """The body is not a feed we can use. ``feed_links`` names feeds an HTML page links to."""

    def __init__(self, kind: str, message: str, *, feed_links: tuple[str, ...] = ()) -> None:
        super().__init__(kind, message)
        self.feed_links = feed_links


class OpmlError(FeedError, ValueError):
    """An OPML file that cannot be read; the message names the file and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__("opml", message)


class FeedNotFound(FeedError, LookupError, ValueError):
    """No feed with that URL is in the store."""

    def __init__(self, url: str) -> None:
        super().__init__("not_found", f"no feed {url} (see `news-monitor feeds list`)")


class FeedExists(FeedError, ValueError):
    """The feed is already in the store."""

    def __init__(self, url: str) -> None:
        super().__init__("exists", f"{url} is already polled (see `news-monitor feeds list`)")


class ErrorKind(StrEnum):
    """The fixed error kinds stored on a feed (``error_kind``); HTTP errors are ``http_kind``."""

    TIMEOUT = "timeout"
    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TOO_LARGE = "too_large"
    REDIRECT_LOOP = "redirect_loop"
    PRIVATE_ADDRESS = "private_address"
    BAD_URL = "bad_url"
    NOT_A_FEED = "not_a_feed"
    PARSE_ERROR = "parse_error"
    HOSTILE_XML = "hostile_xml"
    INTERNAL_ERROR = (
        "internal_error"  # storing the entries raised: a bug, logged as feed_store_crashed
    )
    EMPTY = "empty"


def http_kind(status: int) -> str:
    """The error kind of an HTTP error status: ``http_404``, ``http_429``… (an open family)."""
    return f"http_{status}"
