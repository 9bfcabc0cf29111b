"""The inbox: every inbound Slack event is stored before Slack gets its 200, then processed.

Slack expects an answer within three seconds and retries what it thinks was missed. Heard
answers an event only once it is stored (`store`: one insert, a duplicate inserts
nothing), so a stop, a crash or a deploy after the answer loses nothing: the row waits.
A processor (`InboxProcessor`) takes due rows in batches and runs each through the rooms'
listeners (`dispatch`) as a unit of work (`bot.db.unit`): the listeners' writes and the
row marked done commit together, or, when a listener fails, neither does and the row is
retried with back-off, then parked after `MAX_ATTEMPTS` for an operator
(`heard inbox list`, `heard inbox retry`).

A listener's Slack call that Slack rate-limited is no failure of the event: the
processor does not sleep out a long `Retry-After` (`bot.slack.client.waiting_at_most`,
`PATIENCE`), which would hold every event behind it, but puts the event back until
Slack's `Retry-After` has passed, without counting a try, and goes on with the rest.
The workspace's `RateLimiter` holds the method as long, so the outbox waits too.

Delivery is at least once: a row whose lease ran out while a slow processor still held
it may be processed twice. The rooms' effects are idempotent by their own keys (one item
per channel and ts, one acknowledgement per item, actor and ref, outbox keys), so a
second run changes nothing.

Answering Slack comes first: a woken processor waits a few milliseconds for more events
to join its batch (`GATHER_SECONDS`), and during a burst (`BURST`) it waits between
batches `DEFER_SHARE` times as long as its last batch took (at most
`MAX_DEFER_SECONDS`), so that the request threads have most of the interpreter while
the events pour in, and a burst that goes on for minutes still sees its events
processed, at a quarter of the processor's speed or more.

Several processors may share one PostgreSQL database: rows are claimed with
`FOR UPDATE SKIP LOCKED` for a lease (`STALE_CLAIM`) that the processor renews while it
works through its batch; a lease that ran out (its process died) is taken over. On SQLite
run one processor per database: it takes back, when it starts, whatever a killed
predecessor had claimed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, Insert, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.db import unit
from bot.db.locks import write_lock
from bot.db.models import InboxEvent
from bot.slack.client import retry_after, waiting_at_most

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 50
MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(seconds=30)  # a claim's lease; a live processor renews it as it works
KEEP_DONE = timedelta(days=1)  # Slack retries a delivery for about an hour
POLL_SECONDS = 2.0  # how often a processor looks for rows it was not woken for
GATHER_SECONDS = 0.02  # how long a woken processor waits for more events to join the batch
BURST = (8, 0.04)  # 8 events within 40 ms (200/s) are a burst: acknowledging them comes first
MAX_DEFER_SECONDS = 1.0  # how long a burst may hold processing back at a time
DEFER_SHARE = 3.0  # and at most this many times as long as the last batch took
MAX_EVENT_ID = 64
PATIENCE = 2  # seconds a 429's Retry-After may ask of the processor and be waited out (once)


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    PARKED = "parked"


def backoff(attempts: int) -> timedelta:
    """How long a failed row waits before its next try: 10 s, 40 s, 2.5 min, 10 min."""
    return timedelta(seconds=10 * 4 ** max(attempts - 1, 0))


def forget_mentions(session: Session, team_id: str, user_id: str) -> int:
    """Blank the bodies of the team's processed events that name `user_id` (`/heard forget`):
    a done row is kept a day only to recognise Slack's retries, which needs its id alone.
    Events not processed yet keep their bodies. Returns how many rows."""
    return session.execute(
        update(InboxEvent)
        .where(InboxEvent.team_id == team_id[:32], InboxEvent.status == InboxStatus.DONE,
               InboxEvent.body.contains(user_id))
        .values(body="")
        .execution_options(synchronize_session=False)
    ).rowcount or 0  # fmt: skip


def store(runtime: Runtime, *, event_id: str, team_id: str, body: str, now: datetime) -> bool:
    """Insert the event unless its id is already stored; True when this call stored it.

    One Core statement (`INSERT … ON CONFLICT DO NOTHING`): no ORM, no read first, so two
    processes or a Slack retry racing each other store one row.
    """
    values = {"event_id": event_id, "team_id": team_id[:32], "body": body, "received_at": now}
    engine = runtime.engine
    if engine.dialect.name == "postgresql":
        return _store_on_postgres(engine, values)
    with write_lock(engine), _one_statement(engine) as connection:
        return connection.execute(_STORE[engine.dialect.name], values).first() is not None


def _store_on_postgres(engine: Engine, values: dict) -> bool:
    """`store` on PostgreSQL: the same statement, compiled once, run on a pooled driver
    connection in autocommit, without SQLAlchemy's execution around it (its events, result
    objects and the isolation level set and reset on every checkout cost about 0.1 ms of
    the interpreter per event, as much as all the rest of the acknowledgement).

    A connection the server dropped (a restart, an idle timeout) is thrown away and the
    insert is tried again through SQLAlchemy, which notices the disconnect, renews the
    pool and is tried once more; any other error is raised as SQLAlchemy raises it.
    """
    import psycopg  # loaded already: the engine's driver

    sql, fixed = _raw_store(engine, values)
    params = {**fixed, **values, "received_at": values["received_at"].astimezone(UTC)}
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True
        try:
            with driver.cursor() as cursor:
                cursor.execute(sql, params)
                stored = cursor.fetchone() is not None
        finally:
            if not driver.closed:
                driver.autocommit = False
    except psycopg.OperationalError as exc:
        pooled.invalidate(exc)
        return _store_again(engine, values)
    finally:
        pooled.close()  # back to the pool (or, invalidated, discarded)
    return stored


def _store_again(engine: Engine, values: dict) -> bool:
    for attempt in (1, 2):
        try:
            with _one_statement(engine) as connection:
                return connection.execute(_STORE["postgresql"], values).first() is not None
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def _raw_store(engine: Engine, values: dict) -> tuple[str, dict]:
    """The insert as the driver takes it, and the values it fixes (the row's status)."""
    found = _RAW_STORE.get(engine)
    if found is None:
        compiled = _STORE["postgresql"].compile(dialect=engine.dialect, column_keys=list(values))
        fixed = {name: str(value) if isinstance(value, str) else value
                 for name, value in compiled.params.items() if name not in values}  # fmt: skip
        found = _RAW_STORE.setdefault(engine, (str(compiled), fixed))
    return found


_RAW_STORE: weakref.WeakKeyDictionary[Engine, tuple[str, dict]] = weakref.WeakKeyDictionary()


def _one_statement(engine: Engine) -> AbstractContextManager[Connection]:
    """A connection for one statement, atomic by itself: on PostgreSQL in autocommit (no
    BEGIN and COMMIT round trips); on SQLite a transaction (its driver's BEGIN is free)."""
    if engine.dialect.name == "sqlite":
        return engine.begin()
    found = _AUTOCOMMIT.get(engine)
    if found is None:
        found = _AUTOCOMMIT.setdefault(engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
    return found.connect()


_AUTOCOMMIT: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _store_statement(insert_for) -> Insert:
    # RETURNING says whether a row went in (psycopg reports no rowcount for this statement).
    return (
        insert_for(InboxEvent).values(status=InboxStatus.PENDING, attempts=0)
        .on_conflict_do_nothing(index_elements=["event_id"]).returning(InboxEvent.event_id)
    )  # fmt: skip


_STORE = {"postgresql": _store_statement(pg_insert), "sqlite": _store_statement(sqlite_insert)}  # built once


def first_delivery(runtime: Runtime, key: str, *, now: datetime) -> bool:
    """Record a delivery Heard acts on at once rather than through the inbox (a slash
    command, by its `trigger_id`): True the first time, False for a replay of the same
    signed request. Kept as a row already done, forgotten with the rest (`KEEP_DONE`),
    long after Slack's signature on it has expired (five minutes)."""
    values = {"event_id": key[:MAX_EVENT_ID], "seen_at": now}
    with write_lock(runtime.engine), _one_statement(runtime.engine) as connection:
        return connection.execute(_SEEN[runtime.engine.dialect.name], values).first() is not None


def _seen_statement(insert_for) -> Insert:
    return (
        insert_for(InboxEvent)
        .values(team_id="", body="", status=InboxStatus.DONE, attempts=0, received_at=bindparam("seen_at"),
                finished_at=bindparam("seen_at"))
        .on_conflict_do_nothing(index_elements=["event_id"]).returning(InboxEvent.event_id)
    )  # fmt: skip


_SEEN = {"postgresql": _seen_statement(pg_insert), "sqlite": _seen_statement(sqlite_insert)}  # built once


@dataclass(frozen=True)
class Claimed:
    event_id: str
    body: str
    attempts: int
    team_id: str


def claim(runtime: Runtime, worker: str, *, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Take up to `limit` due rows, oldest first, for `worker`; rows another live processor
    holds are skipped, and rows of a processor that died (`STALE_CLAIM`) are taken over.

    One statement: an UPDATE of the rows a `FOR UPDATE SKIP LOCKED` subquery picks (on
    SQLite, where the one processor needs no locks, the same without them). On PostgreSQL
    it runs in autocommit, one round trip, and its commit does not wait for the disk (the
    statement sets `synchronous_commit` off for its own transaction): a claim lost with
    the server is only a lease lost, its rows are pending again, and the batch's commit,
    which does wait, writes the claim first. A claim took 2.0-2.3 ms so, against 2.7-3.7
    ms as a transaction of its own and about 4 ms waiting for the disk.
    """
    values = {"now": now, "stale_before": now - STALE_CLAIM, "n": limit, "claimer": worker, "claimed": now}
    engine = runtime.engine
    postgres = engine.dialect.name == "postgresql"
    with _one_statement(engine) if postgres else engine.begin() as connection:
        rows = connection.execute(_CLAIM_WITHOUT_WAITING if postgres else _CLAIM, values).all()
    return [Claimed(row.event_id, row.body, row.attempts, row.team_id)
            for row in sorted(rows, key=lambda r: (r.received_at, r.event_id))]  # fmt: skip


# Built once: the processor claims after every wake.
_DUE = or_(
    (InboxEvent.status == InboxStatus.PENDING)
    & (InboxEvent.not_before.is_(None) | (InboxEvent.not_before <= bindparam("now"))),
    (InboxEvent.status == InboxStatus.PROCESSING) & (InboxEvent.claimed_at < bindparam("stale_before")),
)
# A CTE picks and locks the rows, not `event_id IN (subquery … LIMIT n)`: PostgreSQL may
# run such a subquery again for each row it checks, and then claims far more than `n`.
_PICKED = (
    select(InboxEvent.event_id).where(_DUE).order_by(InboxEvent.received_at, InboxEvent.event_id)
    .limit(bindparam("n")).with_for_update(skip_locked=True).cte("picked")
)  # fmt: skip
_CLAIM = (
    update(InboxEvent)
    .where(InboxEvent.event_id == _PICKED.c.event_id, _DUE)
    .values(status=InboxStatus.PROCESSING, claimed_by=bindparam("claimer"), claimed_at=bindparam("claimed"))
    .returning(InboxEvent.event_id, InboxEvent.body, InboxEvent.attempts, InboxEvent.received_at, InboxEvent.team_id)
)  # fmt: skip
_NO_WAIT = select(func.set_config("synchronous_commit", "off", True).label("setting")).cte("no_wait")
_CLAIM_WITHOUT_WAITING = _CLAIM.where(exists(select(_NO_WAIT.c.setting)))  # PostgreSQL's


def finish(session: Session, event_id: str, worker: str, *, now: datetime) -> bool:
    """Mark a row done in `session` (the transaction of its effects), if this worker still
    holds it; False when it does not (its lease ran out and another processor took it)."""
    done = {"row": event_id, "holder": worker, "done_at": now}
    return session.connection().execute(_FINISH, done).rowcount == 1


def finish_later(session: Session, event_id: str, worker: str, *, now: datetime) -> None:
    """`finish`, written with the batch's other rows (`bot.db.unit.write_later`): one
    statement for the whole batch. Whether the claim still held is not known then; a row
    whose lease ran out stays with the processor that took it over, which runs it again
    (the rooms' effects are idempotent) and marks it done."""
    unit.write_later(session, _FINISH_ALL, {"row": event_id, "holder": worker, "done_at": now}, merge=_finish_all)


def _finish_all(marks: list[dict]) -> dict:
    """The rows a batch finished, as `_FINISH_ALL`'s parameters: one statement for all
    (a batch is one processor's, so one holder; the last time stands for all)."""
    return {"rows": [mark["row"] for mark in marks], "holder": marks[0]["holder"],
            "done_at": max(mark["done_at"] for mark in marks)}  # fmt: skip


_FINISH = (  # built once: this runs for every event
    update(InboxEvent)
    .where(InboxEvent.event_id == bindparam("row"), InboxEvent.claimed_by == bindparam("holder"),
           InboxEvent.status == InboxStatus.PROCESSING)
    .values(status=InboxStatus.DONE, finished_at=bindparam("done_at"), last_error=None)
)  # fmt: skip
_FINISH_ALL = (
    update(InboxEvent)
    .where(InboxEvent.event_id.in_(bindparam("rows", expanding=True)), InboxEvent.claimed_by == bindparam("holder"),
           InboxEvent.status == InboxStatus.PROCESSING)
    .values(status=InboxStatus.DONE, finished_at=bindparam("done_at"), last_error=None)
)  # fmt: skip


def renew(runtime: Runtime, event_ids: list[str], worker: str, *, now: datetime) -> None:
    """Extend this worker's lease on the rows it still holds."""
    with runtime.sessions.begin() as session:
        session.execute(
            update(InboxEvent).where(InboxEvent.event_id.in_(event_ids), InboxEvent.claimed_by == worker,
                                     InboxEvent.status == InboxStatus.PROCESSING)
            .values(claimed_at=now)
        )  # fmt: skip


def recover(runtime: Runtime) -> int:
    """SQLite's one processor, starting: take back every claim (a killed process's)."""
    with runtime.sessions.begin() as session:
        return session.execute(
            update(InboxEvent).where(InboxEvent.status == InboxStatus.PROCESSING)
            .values(status=InboxStatus.PENDING, claimed_by=None, claimed_at=None)
        ).rowcount  # fmt: skip


def release(runtime: Runtime, event_ids: list[str], worker: str) -> None:
    """Give back claimed rows this worker will not process (it is stopping)."""
    with runtime.sessions.begin() as session:
        session.execute(
            update(InboxEvent).where(InboxEvent.event_id.in_(event_ids), InboxEvent.claimed_by == worker,
                                     InboxEvent.status == InboxStatus.PROCESSING)
            .values(status=InboxStatus.PENDING, claimed_by=None, claimed_at=None)
        )  # fmt: skip


def fail(session: Session, row: Claimed, worker: str, error: str, *, now: datetime) -> bool:
    """Record a failed try in `session`: retried after `backoff`, parked after
    `MAX_ATTEMPTS`. True when parked."""
    attempts = row.attempts + 1
    parked = attempts >= MAX_ATTEMPTS
    session.connection().execute(
        update(InboxEvent).where(InboxEvent.event_id == row.event_id, InboxEvent.claimed_by == worker)
        .values(status=InboxStatus.PARKED if parked else InboxStatus.PENDING, attempts=attempts,
                not_before=None if parked else now + backoff(attempts), last_error=error[:2000],
                claimed_by=None, claimed_at=None)
    )  # fmt: skip
    return parked


def defer(session: Session, row: Claimed, worker: str, error: str, *, until: datetime) -> None:
    """Put a row back in `session` until `until`, without counting a try (Slack said
    "not now" to a call it needed, not that the event is at fault)."""
    session.connection().execute(
        update(InboxEvent).where(InboxEvent.event_id == row.event_id, InboxEvent.claimed_by == worker)
        .values(status=InboxStatus.PENDING, not_before=until, last_error=error[:2000], claimed_by=None,
                claimed_at=None)
    )  # fmt: skip


def parked(runtime: Runtime, *, limit: int = 100) -> list[InboxEvent]:
    """Parked rows, oldest first (`heard inbox list`)."""
    with runtime.sessions() as session:
        return list(session.scalars(
            select(InboxEvent).where(InboxEvent.status == InboxStatus.PARKED)
            .order_by(InboxEvent.received_at, InboxEvent.event_id).limit(limit)
        ))  # fmt: skip


def counts(runtime: Runtime) -> dict[str, int]:
    """Rows by status."""
    with runtime.sessions() as session:
        return dict(session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all())


def retry(runtime: Runtime, event_ids: list[str] | None = None) -> int:
    """Queue parked rows again (all of them, or those named) with a fresh count of tries."""
    query = update(InboxEvent).where(InboxEvent.status == InboxStatus.PARKED)
    if event_ids is not None:
        query = query.where(InboxEvent.event_id.in_(event_ids))
    with runtime.sessions.begin() as session:
        return session.execute(
            query.values(status=InboxStatus.PENDING, attempts=0, not_before=None, claimed_by=None, claimed_at=None)
        ).rowcount  # fmt: skip


def forget_done(runtime: Runtime) -> int:
    """Delete rows done longer than `KEEP_DONE` ago (Slack's retries are long over by then)."""
    with runtime.sessions.begin() as session:
        return session.execute(
            delete(InboxEvent).where(InboxEvent.status == InboxStatus.DONE,
                                     InboxEvent.finished_at < runtime.clock() - KEEP_DONE)
        ).rowcount  # fmt: skip


def bursting(wakes: list[float], now: float) -> bool:
    """Whether the last events (their arrival times, oldest first) came as a `BURST`."""
    count, window = BURST
    return len(wakes) >= count and now - wakes[-count] <= window


class _Failed(Exception):
    """The listeners failed: the unit rolls back and the row is retried."""


Dispatch = Callable[[str], str | None]
"""Runs one stored event through the listeners; returns None, or why it failed."""


class InboxProcessor:
    """Processes the inbox: woken when an event is stored, and polling for the rest
    (retries that came due, rows left by a stopped process).

    `submit` runs a processing pass on some thread (the listener pool in tests, so
    `drain()` awaits it); only one pass runs at a time in a process, and a wake during
    a pass makes it look again before it ends.
    """

    def __init__(self, runtime: Runtime, dispatch: Dispatch, *, submit: Callable[[Callable[[], None]], object]):
        self.runtime = runtime
        self.dispatch = dispatch
        self.submit = submit
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None
        self.gather = GATHER_SECONDS
        self._wakes: deque[float] = deque(maxlen=BURST[0])
        self.monotonic = time.monotonic
        self._last_batch = GATHER_SECONDS  # seconds the last batch took, claim to commit

    # -- waking -------------------------------------------------------------------------------

    def wake(self) -> None:
        """An event was stored: process it soon."""
        self._wakes.append(self.monotonic())
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self.submit(self._pass)

    def _pass(self) -> None:
        try:
            while True:
                self._gather()
                self.run_pending()
                with self._lock:
                    if not self._again or self._stopping.is_set():
                        self._running = False
                        return
                    self._again = False
        except BaseException:
            # `submit`'s future is read by no one in production: without this line a pass
            # that fails would stop processing silently, its rows left claimed.
            log.exception("an inbox processing pass failed; its rows are taken again when their claim runs out")
            with self._lock:
                self._running = False
            raise

    def _gather(self) -> None:
        """Wait a moment before a pass, and longer during a burst.

        The events of the next few milliseconds join the batch: a batch costs about as much
        as one event to claim, commit and read settings for. During a burst (`BURST`),
        processing waits: each event is stored and safe, and the threads answering Slack,
        which must answer within 3 seconds, get the interpreter to themselves.
        """
        self._stopping.wait(self.gather)
        self._hold_back_for_burst()

    def _hold_back_for_burst(self) -> None:
        """While a burst lasts, wait `DEFER_SHARE` times as long as the last batch took, at
        most `MAX_DEFER_SECONDS`: processing keeps a quarter of the time (or more), so a
        long burst is processed as it goes rather than only once it ends."""
        started = self.monotonic()
        limit = min(MAX_DEFER_SECONDS, DEFER_SHARE * self._last_batch)
        while self.gather and not self._stopping.is_set() and self.monotonic() - started < limit:
            if not bursting(list(self._wakes), self.monotonic()):
                return
            self._stopping.wait(BURST[1] / BURST[0])

    # -- processing ----------------------------------------------------------------------------

    def run_pending(self) -> int:
        """Process every due row, batch by batch; returns how many were handled.

        Each row is a unit of work (`bot.db.unit`): its listeners' writes and the row
        marked done commit together, or neither does, and a row that fails rolls back
        alone. A batch commits every few rows (or milliseconds), reads each workspace's
        settings once, and runs what must wait for a commit (sending the outbox,
        refreshing cards) once per commit.

        Slack calls made meanwhile wait out a 429 only when it asks for `PATIENCE` or
        less; a longer one puts its event back (`_process`).
        """
        with waiting_at_most(PATIENCE):
            return self._run_pending()

    def _run_pending(self) -> int:
        handled = 0
        while not self._stopping.is_set():
            if handled:
                self._hold_back_for_burst()
            started = self.monotonic()
            rows = claim(self.runtime, self.worker, now=self.runtime.clock())
            if not rows:
                return handled
            last = len(rows) < BATCH  # all that was due; what came since woke the processor
            leased = self.runtime.clock()
            with unit.batch(self.runtime.sessions) as batch:
                for n, row in enumerate(rows):
                    rest = [r.event_id for r in rows[n:]]
                    if self._stopping.is_set():
                        self._commit(batch)
                        release(self.runtime, rest, self.worker)
                        return handled
                    now = self.runtime.clock()
                    if now - leased > STALE_CLAIM / 3:  # a slow batch keeps its rows
                        self._commit(batch)
                        renew(self.runtime, rest, self.worker, now=now)
                        leased = now
                    self._process(batch, row)
                    handled += 1
                    if batch.commit_due():
                        self._commit(batch)
                self._commit(batch)
            self._last_batch = self.monotonic() - started
            if last:
                return handled
        return handled

    def _process(self, batch: unit.Batch, row: Claimed, *, careful: bool = False) -> None:
        try:
            with batch.unit(row, careful=careful) as session:
                error = self.dispatch(row.body)
                if error is not None:
                    raise _Failed(error)
                if not careful:
                    finish_later(session, row.event_id, self.worker, now=self.runtime.clock())
                elif not finish(session, row.event_id, self.worker, now=self.runtime.clock()):
                    raise _Failed("the claim ran out while the event was processed")
            return
        except (_Failed, unit.UnitFailed) as failed:
            error, limited = str(failed), retry_after(failed)
        except Exception as exc:  # a listener raised: the row is retried, then parked
            limited = retry_after(exc)
            if limited is None:
                log.exception("inbox event %s failed", row.event_id)
            error = f"{type(exc).__name__}: {exc}"
        lost = batch.take_lost()
        self._run_again(batch, lost)
        if row in lost:  # not its own failure (the batch's deferred writes failed in its time)
            return
        if limited is not None:
            self._defer(batch, row, *limited)
        elif fail(batch.begin(), row, self.worker, error, now=self.runtime.clock()):
            log.error("inbox event %s parked after %d tries: %s", row.event_id, MAX_ATTEMPTS, error)
        else:
            log.warning("inbox event %s failed (try %d), retried later: %s", row.event_id, row.attempts + 1, error)
        # Committed now: the row put back (or its try counted) is no unit the batch runs
        # again, so the next unit's failure, rolling the transaction back, would undo it,
        # leaving the row claimed until its lease runs out, and the try uncounted.
        self._commit(batch)

    def _defer(self, batch: unit.Batch, row: Claimed, method: str, seconds: int) -> None:
        """Slack rate-limited `method` for `seconds`: the event waits that long, and so do
        the workspace's other calls of it that go through the rate limiter (the outbox's)."""
        if row.team_id:
            self.runtime.limiter.hold(row.team_id, method, seconds)
        until = self.runtime.clock() + timedelta(seconds=seconds)
        defer(batch.begin(), row, self.worker, f"{method}: ratelimited, Retry-After {seconds} s", until=until)
        log.info("inbox event %s put back for %d s: Slack rate-limited %s", row.event_id, seconds, method)

    def _run_again(self, batch: unit.Batch, rows: list[Claimed]) -> None:
        """Rows a rollback took along: run again, each alone."""
        for row in rows:
            self._process(batch, row, careful=True)

    def _commit(self, batch: unit.Batch) -> None:
        batch.commit()
        while lost := batch.take_lost():  # the deferred writes failed: nothing was committed
            self._run_again(batch, lost)
            batch.commit()

    # -- the poller ------------------------------------------------------------------------------

    def start(self, interval: float = POLL_SECONDS) -> None:
        """Poll in a daemon thread: rows from before a restart, retries that came due."""
        if self._poller is not None:
            return
        if self.runtime.engine.dialect.name == "sqlite":
            taken = recover(self.runtime)
            if taken:
                log.info("took back %d inbox event(s) a stopped process had claimed", taken)

        def poll() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.wake()
                except Exception:
                    log.exception("inbox poll failed")

        self._poller = threading.Thread(target=poll, name="heard-inbox", daemon=True)
        self._poller.start()
        self.wake()  # what the last process left

    def stop(self) -> None:
        """Finish the row in hand and take no more; what is left waits for the next start."""
        self._stopping.set()
