"""news-monitor: poll news feeds, match articles against watchlists, email digests.

Data flows one way: ``feeds`` (fetch, parse) → ``articles`` (normalise) → ``store``
→ ``matching`` → ``alerts`` (digests). ``pipeline`` runs one feed end to end,
``service`` schedules the work, ``cli`` is the ``news-monitor`` command.
"""

__version__ = "0.1.0"
