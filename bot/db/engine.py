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
        raise DatabaseUnavailable(f"cannot connect to the database {_where(engine)}: {_reason(exc)}") from None


def check_writable(engine: Engine, table: str) -> None:
    """Raise DatabaseUnavailable, one line, unless `table` can take rows now: the server
    answers, `table` exists (a database dropped and created again empty answers `SELECT 1`
    as well as ever) and, on PostgreSQL, transactions may write (after a failover that left
    the connections on a standby, or with `default_transaction_read_only`, every write
    fails while a ping succeeds). For `/healthz`, which a load balancer asks every few
    seconds: reads only, one round trip on SQLite, two on PostgreSQL."""
    where = _where(engine)
    try:
        with engine.connect() as connection:
            connection.execute(text(f"SELECT 1 FROM {table} WHERE 1 = 0"))
            if connection.dialect.name == "postgresql":
                read_only = connection.execute(text("SHOW transaction_read_only")).scalar()
    except SQLAlchemyError as exc:
        reason = _reason(exc)
        if any(word in reason for word in ("no such table", "does not exist")):
            raise DatabaseUnavailable(f"the database {where} has no {table} table: {reason} "
                                      "(run heard db upgrade)") from None  # fmt: skip
        raise DatabaseUnavailable(f"cannot connect to the database {where}: {reason}") from None
    if engine.dialect.name == "postgresql" and read_only == "on":
        raise DatabaseUnavailable(f"the database {where} is read-only (transaction_read_only is on): "
                                  "no event can be stored")  # fmt: skip


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _reason(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
