"""issue 18: recipients, unsubscribes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

``secrets``: keys the service makes for itself on first use and shares through the database
(every process signs and checks the same tokens): the one that signs the one-click
unsubscribe links of digests (``alerts.recipients``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("secrets")
