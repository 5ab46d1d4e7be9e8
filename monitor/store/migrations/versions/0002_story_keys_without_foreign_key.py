"""story_keys without a foreign key to articles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The band keys are a derived look-up index of the articles' MinHash signatures. Their
foreign key made every key inserted (16 per article) search the articles table:
measured on SQLite, 37 % of the time of inserting a poll's keys. Keys now go with their
articles explicitly (retention, feed removal), and a key whose article is gone is never
a candidate: the look-up joins the articles.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        _rebuild_sqlite(foreign_key=False)
        return
    for foreign_key in sa.inspect(bind).get_foreign_keys('story_keys'):
        name = foreign_key['name']
        assert name is not None, 'PostgreSQL names every constraint'
        op.drop_constraint(name, 'story_keys', type_='foreignkey')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        _rebuild_sqlite(foreign_key=True)
        return
    op.execute('DELETE FROM story_keys WHERE article_id NOT IN (SELECT id FROM articles)')
    op.create_foreign_key(
        'story_keys_article_id_fkey', 'story_keys', 'articles', ['article_id'], ['id'],
        ondelete='CASCADE',
    )


def _rebuild_sqlite(*, foreign_key: bool) -> None:
    """SQLite cannot drop or add a constraint: copy the table (WITHOUT ROWID kept)."""
    reference = ' REFERENCES articles (id) ON DELETE CASCADE' if foreign_key else ''
    op.execute(
        'CREATE TABLE story_keys_new (key BIGINT NOT NULL, '
        f'article_id INTEGER NOT NULL{reference}, PRIMARY KEY (key, article_id)) WITHOUT ROWID'
    )
    keep = ' WHERE article_id IN (SELECT id FROM articles)' if foreign_key else ''
    op.execute(f'INSERT INTO story_keys_new (key, article_id) SELECT key, article_id FROM story_keys{keep}')
    op.execute('DROP INDEX ix_story_keys_article_id')
    op.execute('DROP TABLE story_keys')
    op.execute('ALTER TABLE story_keys_new RENAME TO story_keys')
    op.execute('CREATE INDEX ix_story_keys_article_id ON story_keys (article_id)')
