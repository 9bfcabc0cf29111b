"""Database access: engine, sessions, models and migrations."""

from bot.db.engine import DatabaseUnavailable, create_db_engine, ping, session_factory

__all__ = ["DatabaseUnavailable", "create_db_engine", "ping", "session_factory"]
