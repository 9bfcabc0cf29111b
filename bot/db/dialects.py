"""Statements that differ by database (an `INSERT … ON CONFLICT`), built on first use.

SQLAlchemy's PostgreSQL dialect package imports the modules of every PostgreSQL driver
it knows (asyncpg, pg8000, psycopg2…): about 30 ms of CPU that a Heard on SQLite would
pay on every start for statements it never runs. `PerDialect` builds a statement for a
database the first time it is asked for it, with that database's own `insert`, so each
process imports only the dialect its engine already loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Insert

S = TypeVar("S")


def insert_for(dialect_name: str) -> Callable[..., Insert]:
    """The `insert` construct of `dialect_name` ("postgresql" or "sqlite": the databases
    `bot.settings` accepts), which has `on_conflict_do_nothing`."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"no upsert for the {dialect_name!r} database")
    return insert


class PerDialect(Generic[S]):
    """`build(insert)` for each database, built once, the first time `[dialect_name]` asks.

    Built on first use rather than at import, each with its database's `insert`
    (`insert_for`); the lock keeps two threads from building one twice.
    """

    def __init__(self, build: Callable[[Callable[..., Insert]], S]):
        self._build = build
        self._built: dict[str, S] = {}
        self._lock = threading.Lock()

    def __getitem__(self, dialect_name: str) -> S:
        found = self._built.get(dialect_name)
        if found is None:
            with self._lock:
                found = self._built.get(dialect_name)
                if found is None:
                    found = self._built[dialect_name] = self._build(insert_for(dialect_name))
        return found
