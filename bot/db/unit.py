"""Units of work: one transaction around everything a piece of work writes, with what
must wait for the commit (a Slack post, a card refresh) run after it.

The inbox's processor (`bot.slack.inbox`) handles each stored event as a unit: every
session the listeners open borrows the unit's session, so the event's effects and the
row marked done commit together, or not at all. Listener code does not change: it still
says `with runtime.sessions.begin() as session`; inside a unit that block is a SAVEPOINT
of the unit's transaction (an exception rolls back the block alone, as a transaction of
its own would have), and `with runtime.sessions() as session` is the unit's session
itself. The model is Django's `atomic` blocks and `transaction.on_commit`.

Units run inside a batch (`batch()`): what the work reads that rarely changes (a
workspace's settings) is remembered for the batch (`remember`), and hooks registered with
`on_commit` run once each when the batch is over, for the units that committed. Outside a
unit, `on_commit` runs its hook at once and `remember` computes every time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")


class Batch:
    """Several units of work in a row: a cache they share and the hooks they left."""

    def __init__(self) -> None:
        self.cache: dict[Hashable, Any] = {}
        self.hooks: dict[Hashable, Callable[[], object]] = {}

    def run_hooks(self) -> None:
        hooks, self.hooks = list(self.hooks.values()), {}
        for hook in hooks:
            try:
                hook()
            except Exception:  # one failed hook must not keep the others from running
                log.exception("after-commit work failed")


class Unit:
    """One transaction on one session; its hooks join the batch once it commits."""

    def __init__(self, sessions: Sessions, batch: Batch):
        self.sessions = sessions
        self.batch = batch
        self.session: Session = sessionmaker.__call__(sessions)
        self.hooks: dict[Hashable, Callable[[], object]] = {}


_batch: ContextVar[Batch | None] = ContextVar("heard_batch", default=None)
_unit: ContextVar[Unit | None] = ContextVar("heard_unit", default=None)


class Sessions(sessionmaker[Session]):
    """The session factory (`runtime.sessions`); inside a unit of work, it lends the
    unit's session instead of opening one."""

    def __call__(self, **local_kw: Any) -> Session:
        unit = _unit.get()
        if unit is None or unit.sessions is not self:
            return super().__call__(**local_kw)
        return _Lent(unit.session)  # type: ignore[return-value]

    def begin(self):  # type: ignore[override]
        unit = _unit.get()
        if unit is None or unit.sessions is not self:
            return super().begin()
        return _savepoint(unit.session)


class _Lent:
    """The unit's session as `with sessions() as session` expects it; leaving the block
    does not close it (the unit does)."""

    def __init__(self, session: Session):
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


@contextmanager
def _savepoint(session: Session) -> Iterator[Session]:
    nested: SessionTransaction = session.begin_nested()
    try:
        yield session
    except BaseException:
        if nested.is_active:
            nested.rollback()
        raise
    if nested.is_active:
        nested.commit()


@contextmanager
def batch() -> Iterator[Batch]:
    """Run units of work as one batch; their hooks run when it ends."""
    if _batch.get() is not None:
        raise RuntimeError("batches do not nest")
    current = Batch()
    token = _batch.set(current)
    try:
        yield current
    finally:
        _batch.reset(token)
        current.run_hooks()


@contextmanager
def unit_of_work(sessions: Sessions) -> Iterator[Session]:
    """One transaction for everything done inside; commits when the block ends, rolls
    back when it raises. Must run inside `batch()`."""
    current = _batch.get()
    if current is None:
        raise RuntimeError("a unit of work runs inside a batch")
    unit = Unit(sessions, current)
    token = _unit.set(unit)
    try:
        with unit.session.begin():
            if unit.session.get_bind().dialect.name == "sqlite":
                _begin_immediate(unit.session)
            yield unit.session
    finally:
        _unit.reset(token)
        unit.session.close()
    current.hooks.update(unit.hooks)


def _begin_immediate(session: Session) -> None:
    """Open SQLite's transaction now, as the writer.

    The sqlite3 driver starts a transaction only at the first INSERT/UPDATE/DELETE, so a
    SAVEPOINT before it would open one of its own, and releasing that savepoint would
    commit the unit's work early. An explicit BEGIN makes the savepoints nest. IMMEDIATE,
    because a unit reads and then writes: a deferred transaction whose snapshot another
    writer overtook would fail at its first write (SQLITE_BUSY_SNAPSHOT) instead of
    waiting for the lock like every other writer does.
    """
    session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def on_commit(hook: Callable[[], object], *, key: Hashable | None = None) -> None:
    """Run `hook` once the current unit of work has committed (at the end of its batch),
    or now when there is none. Hooks with the same `key` run once per batch; a unit that
    rolls back drops its hooks."""
    unit = _unit.get()
    if unit is None:
        hook()
        return
    unit.hooks[key if key is not None else object()] = hook


def remember(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, kept for the rest of the current batch (computed each time outside one)."""
    current = _batch.get()
    if current is None:
        return compute()
    if key not in current.cache:
        current.cache[key] = compute()
    return current.cache[key]


def forget_remembered() -> None:
    """Something remembered changed (a setting was written): read it again."""
    current = _batch.get()
    if current is not None:
        current.cache.clear()


def in_unit() -> bool:
    return _unit.get() is not None
