"""Alembic environment: the engine comes from ``monitor.store.db.alembic_config``."""

from alembic import context
from sqlalchemy import create_engine

from monitor.store.models import Base
from monitor.store.search import is_index_table

config = context.config
target_metadata = Base.metadata

engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: read the URL from settings
    from monitor.config import Settings
    from monitor.store.db import normalise_url

    engine = create_engine(normalise_url(Settings().database_url))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # the search index is not in the models (FTS5 on SQLite, tsvector on PostgreSQL)
        include_name=lambda name, kind, _parent: kind != "table" or not is_index_table(name),
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
