"""Errors of the store.

StoreError
├── DatabaseURLError (also ValueError): MONITOR_DATABASE_URL cannot be used
└── NotFoundError (also LookupError): a named feed, digest… does not exist
"""

from monitor.exceptions import MonitorError


class StoreError(MonitorError):
    """Base of the store's errors."""


class DatabaseURLError(StoreError, ValueError):
    """The database URL is malformed or names an unsupported database."""


class NotFoundError(StoreError, LookupError):
    """A feed, digest or other named record does not exist."""
