"""news-monitor: poll news feeds, match articles against watchlists, email digests.

Data flows one way: ``feeds`` (fetch, parse) → ``articles`` (normalise) → ``store``
→ ``matching`` → ``alerts`` (digests). ``ingest`` runs a poll as stages (claim, fetch,
analyse, full text, decide, stories, write), ``feedlist`` manages the feed list,
``service`` schedules the work, ``cli`` is the ``news-monitor`` command.
"""

__version__ = "0.1.0"
