"""Alembic environment: runs on the connection `bot.db.migrate` hands it."""

from alembic import context

from bot.db.models import Base
from bot.features import load_models

load_models()  # each room's tables, for autogenerate to compare
target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:  # pragma: no cover - only the `alembic` CLI takes this path
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
