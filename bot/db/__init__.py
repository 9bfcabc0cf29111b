"""Database access: engine, sessions, models and migrations."""

from bot.db.engine import DatabaseUnavailable, check_writable, create_db_engine, ping, session_factory

__all__ = ["DatabaseUnavailable", "check_writable", "create_db_engine", "ping", "session_factory"]
