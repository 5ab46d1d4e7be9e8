"""issue 15: per-feed full-text mode; each article's full-text state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

feeds.full_text_mode (never | auto | always) replaces the boolean fetch_full_text:
a feed that fetched full text keeps doing so ("always"), every other feed gets the
new default "auto" (a teaser carrying a watchlist's signal has its page fetched after
the poll). articles.full_text_state and full_text_error say what looking for an
article's page gave, and why it failed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.add_column(
            sa.Column("full_text_mode", sa.String(length=6), nullable=False, server_default="auto")
        )
    feeds = sa.table(
        "feeds",
        sa.column("full_text_mode", sa.String()),
        sa.column("fetch_full_text", sa.Boolean()),
    )
    op.execute(feeds.update().where(feeds.c.fetch_full_text).values(full_text_mode="always"))
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.alter_column("full_text_mode", server_default=None)
        batch_op.drop_column("fetch_full_text")
    with op.batch_alter_table("articles") as batch_op:
        batch_op.add_column(sa.Column("full_text_state", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("full_text_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch_op:
        batch_op.drop_column("full_text_error")
        batch_op.drop_column("full_text_state")
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.add_column(
            sa.Column("fetch_full_text", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    feeds = sa.table(
        "feeds",
        sa.column("full_text_mode", sa.String()),
        sa.column("fetch_full_text", sa.Boolean()),
    )
    op.execute(
        feeds.update().where(feeds.c.full_text_mode == "always").values(fetch_full_text=True)
    )
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.alter_column("fetch_full_text", server_default=None)
        batch_op.drop_column("full_text_mode")
