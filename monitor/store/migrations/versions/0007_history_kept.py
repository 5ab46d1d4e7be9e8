"""issue 14: history kept, backfill

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

- ``matches.history_only``: a match recorded for the record, never alerted (an entry
  published more than ``MONITOR_BACKFILL_DAYS`` before its feed's first poll, or a
  rematch asked for as history). Existing matches are alerted ones: false.
- ``matches.found``: the words as they stand in the article, per term
  (``[[term, surface], …]``), which digests show as labels; null for older matches.
- ``digest_schedule.failing_told``: the ids of the failing feeds an empty digest last
  told the watchlist's recipients about (comma-separated), so that digest goes out once,
  not every schedule tick while they keep failing.
- ``leases``: named work one process does at a time (the admin's health message, so two
  ``run`` processes on PostgreSQL do not both send it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch_op:
        batch_op.add_column(
            sa.Column("history_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("found", sa.JSON(), nullable=True))
    with op.batch_alter_table("matches") as batch_op:
        batch_op.alter_column("history_only", server_default=None)
    with op.batch_alter_table("digest_schedule") as batch_op:
        batch_op.add_column(sa.Column("failing_told", sa.Text(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("digest_schedule") as batch_op:
        batch_op.drop_column("failing_told")
    with op.batch_alter_table("matches") as batch_op:
        batch_op.drop_column("found")
        batch_op.drop_column("history_only")
