"""issue 17: indexes for the matches page and prefix search

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

The matches page is one index range whatever its depth (``monitor.store.browse``):

- ``ix_matches_created (created_at, id)``: newest first, the cursor's ``(created_at, id)``;
- ``ix_matches_score (score, id)``: by relevance;
- ``ix_matches_watchlist_created`` becomes ``(watchlist, created_at, id)``: one watchlist's
  page (SQLite had the id in it implicitly; PostgreSQL sorted the ties);
- ``ix_articles_language``: the language filter's choices, one index probe per language
  instead of reading every article.

On SQLite the search index (FTS5) gets prefix indexes of 3 and 4 characters
(``monitor.store.search.PREFIXES``), rebuilt from its own rows (no article is normalised
again), and the list of its words (``article_search_words``, read from FTS5's vocabulary)
that a longer prefix* is expanded with; a line on stderr for each (about 5 minutes and 2
for 1M articles). PostgreSQL's GIN index answers prefixes as it is.
"""

import sys
import time
from collections.abc import Sequence

from alembic import op

from monitor.store.search import (
    PREFIXES,
    TABLE,
    WORDS,
    create_words,
    fill_words,
    set_fts_prefixes,
)

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _progress(line: str) -> None:
    print(f"search index: {line}", file=sys.stderr, flush=True)


def upgrade() -> None:
    op.create_index("ix_matches_created", "matches", ["created_at", "id"])
    op.create_index("ix_matches_score", "matches", ["score", "id"])
    op.drop_index("ix_matches_watchlist_created", table_name="matches")
    op.create_index("ix_matches_watchlist_created", "matches", ["watchlist", "created_at", "id"])
    op.create_index("ix_articles_language", "articles", ["language"])
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    started = time.monotonic()
    if set_fts_prefixes(connection, PREFIXES, _progress):
        _progress(f"prefix indexes built ({time.monotonic() - started:.0f} s)")
    create_words(connection)
    if connection.exec_driver_sql(f"SELECT 1 FROM {TABLE} LIMIT 1").first() is None:
        return  # an empty index: the poll lists the words of what it indexes
    started = time.monotonic()
    _progress("listing its words for longer prefixes")
    words = fill_words(connection)
    _progress(f"{words:,} words listed ({time.monotonic() - started:.0f} s)")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {WORDS}")
        set_fts_prefixes(connection, None, _progress)
    op.drop_index("ix_articles_language", table_name="articles")
    op.drop_index("ix_matches_watchlist_created", table_name="matches")
    op.create_index("ix_matches_watchlist_created", "matches", ["watchlist", "created_at"])
    op.drop_index("ix_matches_score", table_name="matches")
    op.drop_index("ix_matches_created", table_name="matches")
