"""`check_writable`, what `/healthz` asks of the database: that an event could be stored now."""

import pytest
from sqlalchemy import create_engine

from bot.db import DatabaseUnavailable, check_writable, create_db_engine


def test_a_migrated_database_can_take_events(engine):
    check_writable(engine, "inbox")


def test_a_database_without_heard_s_tables_cannot(tmp_path):
    """A database dropped and created again empty answered `SELECT 1`, so /healthz said
    "ok" while every event got a 500."""
    empty = create_db_engine(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(DatabaseUnavailable) as caught:
        check_writable(empty, "inbox")
    assert str(caught.value).startswith(f"the database sqlite:///{tmp_path}/empty.db has no inbox table: ")
    assert str(caught.value).endswith("(run heard db upgrade)")
    empty.dispose()


def test_a_read_only_postgresql_cannot(engine):
    """Connections left on a standby after a failover (or `default_transaction_read_only`)
    answer every read and refuse every write."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's read-only transactions; SQLite's case is the one above")
    read_only = create_engine(engine.url, connect_args={"options": "-c default_transaction_read_only=on"})
    with pytest.raises(DatabaseUnavailable) as caught:
        check_writable(read_only, "inbox")
    assert "is read-only (transaction_read_only is on): no event can be stored" in str(caught.value)
    read_only.dispose()


def test_an_unreachable_server_is_named():
    gone = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/x")
    with pytest.raises(DatabaseUnavailable, match="^cannot connect to the database postgresql"):
        check_writable(gone, "inbox")
