"""Locks for SQLite: a lock in the process for its busiest writers (`write_lock`), and one
process per role on a database file (`claim_role`)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from contextlib import AbstractContextManager, nullcontext

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

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


class AlreadyRunning(Exception):
    """Another process already plays this role on this SQLite database; one line."""


_ROLES = {"processor": "processes stored Slack events", "clock": "runs the scheduler"}
_HELD: list[int] = []  # lock files held open for the life of the process


def claim_role(database: Engine | str, role: str) -> None:
    """On SQLite, make this process the only one that `role`s the database file, until it
    exits; raise `AlreadyRunning` when another has. Nothing to do on PostgreSQL, where any
    number of processors and clocks share the work.

    One inbox processor per SQLite file (it takes back every claim when it starts, which
    a second one would steal) and one clock (one writer: two would only wait for each
    other). The lock is the operating system's (`flock` on a file beside the database),
    so a killed process releases it.
    """
    url = database.url if isinstance(database, Engine) else make_url(database)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:":
        return
    try:
        descriptor = os.open(f"{path}.{role}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # no such directory, read-only: opening the database says so in one line
        return
    if not _locked(descriptor):
        holder = os.pread(descriptor, 20, 0).decode(errors="replace").strip() or "?"
        if not (_sibling(holder) and _locked(descriptor, wait=SIBLING_SECONDS)):
            os.close(descriptor)
            raise AlreadyRunning(
                f"another Heard process (pid {holder}) already {_ROLES[role]} on {path}; "
                "on SQLite run one, or use PostgreSQL to run several"
            ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, str(os.getpid()).encode(), 0)
    _HELD.append(descriptor)


SIBLING_SECONDS = 30.0  # gunicorn's graceful timeout (20 s), and a margin


def _locked(descriptor: int, *, wait: float = 0.0) -> bool:
    """Take the role's lock, trying for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
        time.sleep(0.1)


WORKER_OF = "HEARD_WORKER_OF"  # set by `bot.web.HeardServer`'s master: its pid, for its workers


def _sibling(holder: str) -> bool:
    """Whether this process is a worker of `heard run`'s gunicorn master and the holder
    another of its workers: the one a reload (SIGHUP) is replacing, which lets go of the
    role once it has finished its requests. Any other holder (another Heard, even one
    started by the same parent) is refused at once."""
    parent = os.getppid()
    if not holder.isdigit() or os.environ.get(WORKER_OF) != str(parent):
        return False
    try:
        with open(f"/proc/{holder}/stat", encoding="ascii", errors="replace") as stat:
            # "pid (name) state ppid …": the name may hold spaces and parentheses
            fields = stat.read().rsplit(")", 1)[-1].split()
    except OSError:
        return False
    return len(fields) > 1 and fields[1] == str(parent)
