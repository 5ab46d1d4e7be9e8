"""operator notices: the health messages sent to MONITOR_ADMIN_EMAIL

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10

One row per message sent to the admin (a problem, or a recovery). The newest row per
address is what the admin was last told: a restarted service does not tell them again,
and the rate limit (MONITOR_ADMIN_ALERT_MINUTES) counts from the last problem message.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'operator_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=320), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_operator_notices_address_sent', 'operator_notices', ['address', 'sent_at']
    )


def downgrade() -> None:
    op.drop_index('ix_operator_notices_address_sent', table_name='operator_notices')
    op.drop_table('operator_notices')
