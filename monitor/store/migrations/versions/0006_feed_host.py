"""feeds.host: the host name of each feed's URL, indexed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-11

The poll claims at most a few feeds of one host at a time (the feeds of a slow host
wait their turn in the table, not in the poll), so the claim query needs the host.
Filled here from each URL (lower case, without the port, as the fetcher's per-host
limit sees it); new feeds and moved feeds get it when they are written.
"""

from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "")[:255]
    except ValueError:
        return ""


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.add_column(
            sa.Column("host", sa.String(length=255), nullable=False, server_default="")
        )
    feeds = sa.table(
        "feeds",
        sa.column("id", sa.Integer()),
        sa.column("url", sa.String()),
        sa.column("host", sa.String()),
    )
    connection = op.get_bind()
    rows = [
        {"feed_id": feed_id, "new_host": _host(url)}
        for feed_id, url in connection.execute(sa.select(feeds.c.id, feeds.c.url))
    ]
    if rows:
        connection.execute(
            feeds.update()
            .where(feeds.c.id == sa.bindparam("feed_id"))
            .values(host=sa.bindparam("new_host")),
            rows,
        )
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.alter_column("host", server_default=None)
        batch_op.create_index(batch_op.f("ix_feeds_host"), ["host"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.drop_index(batch_op.f("ix_feeds_host"))
        batch_op.drop_column("host")
