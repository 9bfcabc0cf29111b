"""A lock in the process for SQLite's busiest writers (see `write_lock`)."""

from __future__ import annotations

import threading
import weakref
from contextlib import AbstractContextManager, nullcontext

from sqlalchemy import Engine

WAIT_SECONDS = 15  # as long as SQLite's own busy timeout (`bot.db.engine`)


class _WriterLock:
    """A lock that stops waiting after `WAIT_SECONDS` and lets SQLite decide: a writer
    that somehow waits for itself gets SQLite's "database is locked", never a hang."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = threading.local()

    def __enter__(self) -> None:
        self._held.value = self._lock.acquire(timeout=WAIT_SECONDS)

    def __exit__(self, *exc_info: object) -> None:
        if getattr(self._held, "value", False):
            self._held.value = False
            self._lock.release()


_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()


def write_lock(engine: Engine) -> AbstractContextManager:
    """On SQLite, the lock this process's busiest writers take before the database's own:
    the inbox's inserts (one per Slack event) and its processor's transactions.

    SQLite has one writer at a time, and a connection that finds the database locked
    sleeps and retries (1, 2, 5, 10… up to 100 ms a try), so under load an insert could
    wait far longer than the transaction it waited for. Waiting on a lock in the process
    instead hands over the moment the writer is done. Other writers (a slash command, the
    CLI, another process) still wait the SQLite way. PostgreSQL needs none of this.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITERS.get(engine)
    if lock is None:
        lock = _WRITERS.setdefault(engine, _WriterLock())
    return lock
