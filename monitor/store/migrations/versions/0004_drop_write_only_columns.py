"""drop write-only columns: feeds.last_new_at, matches.explanation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Both were written by every poll and read by nothing: ``last_new_at`` (the schedule
reads the entries' own dates) and a match's ``explanation`` (a JSON copy of what its
terms, countries, snippet and highlights already say). SQLite 3.35 and later drop a
column in place (``ALTER TABLE … DROP COLUMN``); neither column has an index.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column('feeds', 'last_new_at')
    op.drop_column('matches', 'explanation')


def downgrade() -> None:
    op.add_column('feeds', sa.Column('last_new_at', sa.DateTime(timezone=True), nullable=True))
    # Old rows get an empty explanation: what it said is in the match's other columns.
    op.add_column(
        'matches',
        sa.Column('explanation', sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
