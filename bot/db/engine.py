"""Engine and session factory: SQLite (WAL, foreign keys on) by default, PostgreSQL in production."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.unit import Sessions


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message is one line for a person."""


def create_db_engine(url: str) -> Engine:
    """An Engine for `url`; SQLite connections get WAL and enforced foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping (a round trip per checkout on the hot path); connections are recycled
        # well before a server or proxy drops idle ones.
        return create_engine(url, pool_recycle=300, future=True)

    # Slack listeners, the scheduler and the web server share the file from
    # several threads; a busy timeout waits for a writer instead of failing.
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 15}, future=True
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no branch - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL syncs at checkpoints, not every commit: a power cut may lose
            # the last commits, never corrupt the file (SQLite's documented trade-off).
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for `engine`; inside a unit of work they lend its session (`bot.db.unit`)."""
    return Sessions(engine, expire_on_commit=False, future=True)


def ping(engine: Engine) -> None:
    """Run a trivial query; raise DatabaseUnavailable with a one-line reason."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"cannot connect to the database {where}: {reason}") from None
