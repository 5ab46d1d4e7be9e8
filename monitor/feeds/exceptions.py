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

from monitor.exceptions import MonitorError


class FeedError(MonitorError):
    """A feed could not be fetched or used; ``kind`` is one of ``ERROR_KINDS``."""

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


ERROR_KINDS = (
    "timeout",
    "dns",
    "connect",
    "tls",
    "http_<status>",
    "too_large",
    "redirect_loop",
    "private_address",
    "bad_url",
    "not_a_feed",
    "parse_error",
    "hostile_xml",
    "internal_error",  # storing the entries raised: a bug, logged as feed_store_crashed
    "empty",
)
