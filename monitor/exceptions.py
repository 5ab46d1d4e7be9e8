"""The monitor's error tree. Each package keeps its own errors; all derive from here.

    MonitorError
    ├── store.exceptions.StoreError
    │   ├── DatabaseURLError (ValueError)
    │   └── NotFoundError (LookupError)
    ├── feeds.exceptions.FeedError …
    ├── watchlists.WatchlistError (ValueError): names file, line and key path
    └── alerts.exceptions.AlertError …

A ``ValueError`` subclass means bad input the user can fix; the CLI prints the
message on one line and exits with status 2. Causes are chained (``raise … from``).
"""


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""
