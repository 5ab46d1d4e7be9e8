"""The monitor's error tree. Each package keeps its own errors; all derive from here.

    MonitorError
    ├── store.exceptions.StoreError
    │   ├── DatabaseURLError (ValueError)
    │   └── NotFoundError (LookupError)
    ├── feeds.exceptions.FeedError …
    ├── watchlists.WatchlistError (ValueError): names file, line and key path
    ├── watchlists.WatchlistNotFound (LookupError, ValueError)
    ├── matching.terms.TermError (ValueError)
    ├── matching.gazetteer.UnknownCountry (LookupError, ValueError)
    ├── schedules.ScheduleError (ValueError)
    ├── service.AlreadyRunningError
    └── alerts.exceptions.AlertError …

A ``ValueError`` subclass means bad input the user can fix; the CLI prints the
message on one line and exits with status 2. Causes are chained (``raise … from``).

Every error survives pickling with its fields (a parse worker's ``ParseError`` reaches
the poll intact): :meth:`MonitorError.__reduce__` rebuilds it from its class, ``args``
and ``__dict__`` without calling ``__init__``, whatever that ``__init__`` takes.
"""

from __future__ import annotations

from typing import Any


def rebuild_error(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    """An instance of ``cls`` with these ``args``, its ``__init__`` not called (pickle sets the rest)."""
    error = cls.__new__(cls, *args)
    error.args = args
    return error


def reduce_error(error: BaseException) -> tuple[Any, ...]:
    """``__reduce__`` for an exception whose ``__init__`` does not take its ``args``.

    The default (``type(error)(*error.args)``, then ``__dict__``) calls ``__init__`` with
    what it passed on to ``Exception.__init__``, which fails or garbles the fields when
    the two differ (``FeedError(kind, message)`` passes on ``(message,)`` only).
    """
    return (rebuild_error, (type(error), error.args), dict(error.__dict__) or None)


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose; pickles with all its fields."""

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_error(self)
