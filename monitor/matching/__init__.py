"""Matching: pure functions from text to matches, no I/O.

``normalize`` folds case, scripts' quirks and punctuation; ``gazetteer`` recognises
countries; ``matcher`` compiles every watchlist term into one automaton and
explains each verdict (``results``). A watchlist reaches the matcher as a ``spec``
(``MatchSpec``: slug, terms, countries, rule): nothing here imports ``monitor.watchlists``.
"""
