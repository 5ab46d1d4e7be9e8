"""issue 17: full-text search index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

The search index of every stored article (``monitor.store.search``): an FTS5 table on
SQLite, a tsvector table with a GIN index on PostgreSQL, of the normalised words and their
lemmas. Built here for the articles already stored, in batches, with progress on stderr
(``search index: 40,000 of 1,000,000 articles``); new articles are indexed by the poll in
the transaction that stores them.
"""

import sys
import time
from collections.abc import Sequence

from alembic import op

from monitor.store.search import create_index, drop_index, rebuild_index

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    create_index(connection)
    started = time.monotonic()
    last = [started]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 2:
            last[0] = now
            print(
                f"search index: {done:,} of {total:,} articles ({now - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    rebuild_index(connection, progress=progress)


def downgrade() -> None:
    drop_index(op.get_bind())
