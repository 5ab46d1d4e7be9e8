"""Relevance: article vectors, feedback, and each match's verdict and score (issue 16)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

- ``article_vectors``: one row per article the relevance stage has looked at: its embedding
  (float16 bytes) when the article carries a signal of some watchlist, none when it does not.
  Articles without a row are the stage's backlog.
- ``feedback``: "relevant" / "not relevant" left on a match, with a copy of the article's
  title and text, so the model keeps learning from it when the article is gone.
- ``matches.verdict`` (``match``, ``possible``, ``doubtful``) and ``matches.relevance``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.add_column(
            sa.Column("verdict", sa.String(12), nullable=False, server_default="match")
        )
        batch.add_column(sa.Column("relevance", sa.Float(), nullable=True))
        batch.add_column(sa.Column("nearest", sa.JSON(), nullable=True))
    op.create_table(
        "article_vectors",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("watchlist", sa.String(200), nullable=False, index=True),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("token", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("watchlist", "article_id", name="uq_feedback_watchlist_article"),
    )


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("article_vectors")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("nearest")
        batch.drop_column("relevance")
        batch.drop_column("verdict")
