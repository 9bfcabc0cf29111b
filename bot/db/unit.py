"""Units of work: everything one piece of work writes commits together, and what must
wait for the commit (a Slack post, a card refresh, a schedule re-sync) runs after it.

The inbox's processor (`bot.slack.inbox`) handles each stored event as a unit. Listener
code does not change for it: it still says `with runtime.sessions.begin() as session`,
and inside a unit every such block (and every `with runtime.sessions()`) is lent the
unit's session instead of opening its own. An exception that leaves such a block fails
the whole unit, even if the listener goes on: its writes are rolled back and the event
is retried, so nothing half-done is ever kept. The model is Django's `atomic` blocks
(with `savepoint=False`) and `transaction.on_commit`.

Units run in a batch (`Batch`): one session, and one transaction for several units in a
row (`Batch.MAX_UNITS`, or `Batch.MAX_OPEN` of wall time, whichever comes first). The
units that succeed commit together with their rows marked done, and a crash loses both
or neither. A unit that fails rolls back the transaction; the units it took along are run
again, each in a SAVEPOINT of its own (`careful`), so a failure costs its batch a second
pass and the common case costs no SAVEPOINT at all. What a
batch reads that rarely changes (a workspace's settings) is remembered for the batch
(`remember`), and hooks registered with `on_commit` run once each after the transaction
that holds their unit commits. Outside a unit, `on_commit` runs its hook at once and
`remember` computes each time.

A write nobody reads back at once (a post stored as it arrives, the inbox row marked done)
can wait for its batch (`write_later`): the units' same statement then goes to the
database as one `executemany` (on PostgreSQL one round trip for all of them instead of
one each) just before the batch's next other statement runs, or its commit. A
statement's result is not known when it is written later, and a failure shows there:
the batch rolls back and its units run again, carefully, as when a unit fails.

Inside a unit, write only through the lent session: on SQLite another connection's
write would wait for the batch's transaction (it holds the database's one write lock).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Connection, Engine, Executable, event
from sqlalchemy.orm import Session, sessionmaker

from bot.db.locks import write_lock

log = logging.getLogger(__name__)

T = TypeVar("T")


class UnitFailed(Exception):
    """A block inside the unit raised; the unit's writes are rolled back."""


class Unit:
    """One piece of work in a batch: a SAVEPOINT, and hooks for after the commit."""

    def __init__(self, sessions: Sessions, session: Session, batch: Batch | None = None):
        self.sessions = sessions
        self.session = session
        self.batch = batch  # of a unit taken the fast way: its writes may wait for the batch
        self.hooks: dict[Hashable, Callable[[], object]] = {}
        self.failure: BaseException | None = None
        self.notes: set[Hashable] = set()


_batch: ContextVar[Batch | None] = ContextVar("heard_batch", default=None)
_unit: ContextVar[Unit | None] = ContextVar("heard_unit", default=None)


class Batch:
    """Units of work in a row on one session; see the module's docstring."""

    MAX_UNITS = 50
    # Seconds a transaction stays open for more units: on SQLite every other writer waits
    # for it; PostgreSQL locks rows, so only the rows' own writers would.
    MAX_OPEN: ClassVar[dict[str, float]] = {"sqlite": 0.02, "postgresql": 1.0}

    def __init__(self, sessions: Sessions):
        self.sessions = sessions
        self.session: Session = sessionmaker.__call__(sessions)
        self.cache: dict[Hashable, Any] = {}
        self._hooks: dict[Hashable, Callable[[], object]] = {}  # of units not committed yet
        self._tags: list = []  # of units not committed yet
        self._lost: list = []  # of units a failed unit's rollback took along
        self._units = 0
        self._opened = 0.0
        self._max_open = self.MAX_OPEN.get(self.session.get_bind().dialect.name, 0.02)
        self._writing: AbstractContextManager | None = None  # `write_lock`, while a transaction is open
        self._later: dict[Executable, tuple[list[dict[str, Any]], Merge | None]] = {}  # `write_later`
        self._later_failed = False  # writing them failed: no unit's own fault

    @contextmanager
    def unit(self, tag: object = None, *, careful: bool = False) -> Iterator[Session]:
        """One unit of work: it commits with its transaction, or, raising, takes nothing along.

        A careful unit is a SAVEPOINT and rolls back alone. Otherwise (the fast way: two
        statements fewer, which on PostgreSQL are two round trips) a unit that fails rolls
        back the whole open transaction, and the `tag`s of the units that went with it wait
        in `take_lost()` to be run again, carefully.
        """
        if _unit.get() is not None:
            raise RuntimeError("units of work do not nest")
        self.begin()
        unit = Unit(self.sessions, self.session, None if careful else self)
        savepoint = self.session.begin_nested() if careful else None
        token = _unit.set(unit)
        try:
            yield self.session
            if unit.failure is not None:
                raise UnitFailed(f"{type(unit.failure).__name__}: {unit.failure}") from unit.failure
            if savepoint is None:
                self.session.flush()  # a constraint fails here, inside the unit, not at the commit
        except BaseException:
            _forget_all()  # what was remembered may be what the unit wrote
            if savepoint is not None:
                if savepoint.is_active:
                    savepoint.rollback()
            else:
                # Writing what earlier units left for later failed in this unit's time:
                # it runs again with them rather than being blamed.
                self._lost += self._tags + ([tag] if self._later_failed else [])
                self._rollback()
            raise
        else:
            if savepoint is not None:
                savepoint.commit()
            self._hooks.update(unit.hooks)
            self._tags.append(tag)
        finally:
            _unit.reset(token)
            self._units += 1

    def take_lost(self) -> list:
        """The tags of units that a failed unit's rollback took along (oldest first); the
        failed unit's own tag too when the failure was not its own (`write_later`'s
        statements, written in its time, failed), and after a `commit` that failed so."""
        lost, self._lost = self._lost, []
        return lost

    def begin(self) -> Session:
        """The open transaction's session, opening one if needed."""
        if not self.session.in_transaction():
            self._begin()
        return self.session

    def commit_due(self) -> bool:
        """Whether the transaction holds enough units or has been open long enough."""
        return self._units >= self.MAX_UNITS or time.monotonic() - self._opened >= self._max_open

    def commit(self) -> None:
        """Commit what the units did, then run their hooks.

        When the writes left for later (`write_later`) fail, nothing is committed: the
        units are rolled back and wait in `take_lost()` to be run again, carefully."""
        if self._later:
            try:
                self.write_pending(self.session.connection())
            except Exception:
                log.warning("a batch's deferred writes failed; its units run again, one by one", exc_info=True)
                self._lost += self._tags
                self._rollback()
                return
        try:
            if self.session.in_transaction():
                self.session.commit()
        finally:
            self._release()
        self.session.expire_all()  # the next transaction reads afresh
        self._units, self._tags = 0, []
        hooks, self._hooks = list(self._hooks.values()), {}
        for hook in hooks:
            try:
                hook()
            except Exception:  # one failed hook must not keep the others from running
                log.exception("after-commit work failed")

    def _begin(self) -> None:
        engine = self.session.get_bind()
        self._writing = write_lock(engine)
        self._writing.__enter__()
        try:
            self.session.begin()
            if engine.dialect.name == "sqlite":
                _begin_immediate(self.session)
        except BaseException:
            self._release()
            raise
        self._opened = time.monotonic()

    def _rollback(self) -> None:
        try:
            self.session.rollback()
        finally:
            self._release()
        self._units, self._tags, self._hooks = 0, [], {}
        self._later, self._later_failed = {}, False

    def write_later(self, statement: Executable, params: dict[str, Any], merge: Merge | None = None) -> None:
        self._later.setdefault(statement, ([], merge))[0].append(params)

    def write_pending(self, connection: Connection) -> None:
        """Run the statements `write_later` kept, each once for all its parameter sets (an
        executemany, or once with the parameters `merge` made of them)."""
        later, self._later = self._later, {}
        try:
            for statement, (rows, merge) in later.items():
                connection.execute(statement, merge(rows) if merge is not None else rows)
        except BaseException:
            self._later_failed = True
            raise

    def _owns(self, connection: Connection) -> bool:
        return self.session.in_transaction() and self.session.connection() is connection

    def _release(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.__exit__(None, None, None)

    def close(self) -> None:
        try:
            self.session.close()  # rolls back what was not committed
        finally:
            self._release()


def _begin_immediate(session: Session) -> None:
    """Open SQLite's transaction now, as the writer.

    The sqlite3 driver starts a transaction only at the first INSERT/UPDATE/DELETE, so the
    units' SAVEPOINTs would open transactions of their own, and releasing one would commit
    early. An explicit BEGIN makes them nest. IMMEDIATE, because units read and then
    write: a deferred transaction whose snapshot another writer overtook would fail at its
    first write (SQLITE_BUSY_SNAPSHOT) instead of waiting for the lock like every writer.
    """
    session.connection().exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def batch(sessions: Sessions) -> Iterator[Batch]:
    """Run units of work as a batch. Leaving the block commits what is left; an exception
    leaving it rolls back what was not committed."""
    if _batch.get() is not None:
        raise RuntimeError("batches do not nest")
    current = Batch(sessions)
    token = _batch.set(current)
    try:
        yield current
        current.commit()
    finally:
        _batch.reset(token)
        current.close()


class Sessions(sessionmaker[Session]):
    """The session factory (`runtime.sessions`); inside a unit of work, it lends the
    unit's session instead of opening one."""

    def __call__(self, **local_kw: Any) -> Session:
        unit = _unit.get()
        if unit is None or unit.sessions is not self:
            return super().__call__(**local_kw)
        return _Lent(unit)  # type: ignore[return-value]

    def begin(self):  # type: ignore[override]
        unit = _unit.get()
        if unit is None or unit.sessions is not self:
            return super().begin()
        return _Lent(unit)


class _Lent:
    """The unit's session as `with sessions() as session` and `with sessions.begin() as
    session` expect it: leaving the block flushes (so a constraint fails there, as at a
    commit) and neither commits nor closes; an exception leaving it fails the unit."""

    def __init__(self, unit: Unit):
        self.unit = unit

    def __enter__(self) -> Session:
        return self.unit.session

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        if error is None:
            try:
                self.unit.session.flush()
            except BaseException as failed:
                self.unit.failure = self.unit.failure or failed
                raise
        elif self.unit.failure is None:
            self.unit.failure = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unit.session, name)


Merge = Callable[[list[dict[str, Any]]], dict[str, Any]]
"""Turns the parameter sets `write_later` kept for one statement into one set."""


def write_later(session: Session, statement: Executable, params: dict[str, Any], *,
                merge: Merge | None = None) -> None:  # fmt: skip
    """Execute `statement` (a write whose result nobody needs) with `params`: now, or,
    inside a unit of work taken the fast way, with its batch's other units' same
    statement before the batch's next other statement or at its commit, whichever comes
    first: as one executemany, or, given `merge`, once with the parameters it merges (an
    UPDATE … WHERE id IN the ids of all). Every statement given here must commute with the others given here (an
    insert that does nothing on a conflict, a row marked done): the batch writes them
    statement by statement, not in the order they were given."""
    unit = _unit.get()
    if unit is None or unit.batch is None or unit.session is not _session_of(session):
        session.execute(statement, merge([params]) if merge is not None else params)
        return
    unit.batch.write_later(statement, params, merge)


def _session_of(session: Session | _Lent) -> Session:
    return session.unit.session if isinstance(session, _Lent) else session


@event.listens_for(Engine, "before_execute")
def _write_pending_first(connection: Connection, *_args: Any) -> None:
    """Any other statement of a batch waits for the writes kept for later: what it reads
    (or writes) must see them, as if they had been written when they were given."""
    current = _batch.get()
    if current is not None and current._later and current._owns(connection):
        current.write_pending(connection)


def on_commit(hook: Callable[[], object], *, key: Hashable | None = None) -> None:
    """Run `hook` once the current unit of work has committed, or now when there is none.
    Hooks with the same `key` run once per commit; a unit that rolls back drops its hooks."""
    unit = _unit.get()
    if unit is None:
        hook()
        return
    unit.hooks[key if key is not None else object()] = hook


def note(what: Hashable) -> None:
    """Record that the current unit of work did `what` (nothing outside a unit)."""
    unit = _unit.get()
    if unit is not None:
        unit.notes.add(what)


def noted(what: Hashable) -> bool:
    """Whether the current unit of work did `what`; True outside a unit (nothing is known)."""
    unit = _unit.get()
    return unit is None or what in unit.notes


def remember(key: Hashable, compute: Callable[[], T], *, across_batches: float = 0.0) -> T:
    """`compute()`, kept for the rest of the current batch (computed each time outside one).

    With `across_batches`, a batch also reuses what an earlier batch of this process
    computed up to that many seconds ago: when events come one at a time, each is its own
    batch. A change made in this process is seen at once (`forget_remembered`); one made
    by another process (an admin's command served by another web process) within that
    many seconds.
    """
    current = _batch.get()
    if current is None:
        return compute()
    if key in current.cache:
        return current.cache[key]
    if across_batches:
        now = time.monotonic()
        across = _across.setdefault(current.session.get_bind(), {})  # one cache per database
        kept = across.get(key)
        if kept is not None and now - kept[0] < across_batches:
            value = kept[1]
        else:
            value = compute()
            across[key] = (now, value)
    else:
        value = compute()
    current.cache[key] = value
    return value


# engine -> key -> (when computed, value)
_across: weakref.WeakKeyDictionary[Any, dict[Hashable, tuple[float, Any]]] = weakref.WeakKeyDictionary()


def forget_remembered(session: Session | None = None) -> None:
    """Something remembered changed (a setting was written): read it again, now and, when
    `session` is given, once it commits (a batch that read in between kept the old value)."""
    _forget_all()
    if session is not None:
        session.info[_FORGET_ON_COMMIT] = True


_FORGET_ON_COMMIT = "heard_forget_remembered"


def _forget_all() -> None:
    _across.clear()
    current = _batch.get()
    if current is not None:
        current.cache.clear()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_FORGET_ON_COMMIT, False):
        _forget_all()


def in_unit() -> bool:
    return _unit.get() is not None
