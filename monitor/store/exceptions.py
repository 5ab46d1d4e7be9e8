"""Errors of the store.

StoreError
├── DatabaseURLError (also ValueError): MONITOR_DATABASE_URL cannot be used
├── DatabaseUnavailableError: the database cannot be reached (host, port, user named)
│   └── DatabaseCredentialsError (also ValueError): it refused the user, password or name
└── NotFoundError (also LookupError): a named feed, digest… does not exist
"""

from monitor.exceptions import MonitorError


class StoreError(MonitorError):
    """Base of the store's errors."""


class DatabaseURLError(StoreError, ValueError):
    """The database URL is malformed or names an unsupported database."""


class DatabaseUnavailableError(StoreError):
    """The database cannot be reached or opened; the message names host, port and user."""


class DatabaseCredentialsError(DatabaseUnavailableError, ValueError):
    """The database refused the user or password, or has no database of that name."""


class NotFoundError(StoreError, LookupError):
    """A feed, digest or other named record does not exist."""
