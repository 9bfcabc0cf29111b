"""The inbox: every inbound Slack event is stored before Slack gets its 200, then processed.

Slack expects an answer within three seconds and retries what it thinks was missed. Heard
answers an event only once it is stored (`store`: one insert, a duplicate inserts
nothing), so a stop, a crash or a deploy after the answer loses nothing: the row waits.
A processor (`InboxProcessor`) takes due rows in batches and runs each through the rooms'
listeners (`dispatch`); a row is marked done once its listeners ran, or retried with
back-off when one failed, and parked after `MAX_ATTEMPTS` for an operator
(`heard inbox list`, `heard inbox retry`).

Delivery is at least once: a process that dies after a listener's effects and before
marking the row done processes it again on the next run. The rooms' effects are
idempotent by their own keys (one item per channel and ts, one acknowledgement per item,
actor and ref, outbox keys), so a second run changes nothing.

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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.db import unit
from bot.db.models import InboxEvent

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 50
MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(seconds=30)  # a claim's lease; a live processor renews it as it works
KEEP_DONE = timedelta(days=1)  # Slack retries a delivery for about an hour
POLL_SECONDS = 2.0  # how often a processor looks for rows it was not woken for
MAX_EVENT_ID = 64


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    PARKED = "parked"


def backoff(attempts: int) -> timedelta:
    """How long a failed row waits before its next try: 10 s, 40 s, 2.5 min, 10 min."""
    return timedelta(seconds=10 * 4 ** max(attempts - 1, 0))


def store(runtime: Runtime, *, event_id: str, team_id: str, body: str, now: datetime) -> bool:
    """Insert the event unless its id is already stored; True when this call stored it.

    One Core statement (`INSERT … ON CONFLICT DO NOTHING`): no ORM, no read first, so two
    processes or a Slack retry racing each other store one row.
    """
    values = {
        "event_id": event_id, "team_id": team_id[:32], "body": body, "received_at": now,
        "status": InboxStatus.PENDING, "attempts": 0,
    }  # fmt: skip
    dialect = runtime.engine.dialect.name
    if dialect == "postgresql":
        statement = pg_insert(InboxEvent).values(values).on_conflict_do_nothing(index_elements=["event_id"])
    elif dialect == "sqlite":
        statement = sqlite_insert(InboxEvent).values(values).on_conflict_do_nothing(index_elements=["event_id"])
    else:  # pragma: no cover - Heard runs on SQLite and PostgreSQL
        statement = insert(InboxEvent).values(values)
    # RETURNING says whether a row went in (psycopg reports no rowcount for this statement).
    with runtime.engine.begin() as connection:
        return connection.execute(statement.returning(InboxEvent.event_id)).first() is not None


@dataclass(frozen=True)
class Claimed:
    event_id: str
    body: str
    attempts: int


def claim(runtime: Runtime, worker: str, *, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Take up to `limit` due rows, oldest first, for `worker`; rows another live processor
    holds are skipped, and rows of a processor that died (`STALE_CLAIM`) are taken over."""
    due = or_(
        (InboxEvent.status == InboxStatus.PENDING)
        & (InboxEvent.not_before.is_(None) | (InboxEvent.not_before <= now)),
        (InboxEvent.status == InboxStatus.PROCESSING) & (InboxEvent.claimed_at < now - STALE_CLAIM),
    )
    with runtime.sessions.begin() as session:
        ids = list(session.scalars(
            select(InboxEvent.event_id).where(due)
            .order_by(InboxEvent.received_at, InboxEvent.event_id).limit(limit)
            .with_for_update(skip_locked=True)
        ))  # fmt: skip
        if not ids:
            return []
        session.execute(
            update(InboxEvent).where(InboxEvent.event_id.in_(ids), due)
            .values(status=InboxStatus.PROCESSING, claimed_by=worker, claimed_at=now)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        rows = session.execute(
            select(InboxEvent.event_id, InboxEvent.body, InboxEvent.attempts)
            .where(InboxEvent.event_id.in_(ids), InboxEvent.claimed_by == worker,
                   InboxEvent.status == InboxStatus.PROCESSING)
            .order_by(InboxEvent.received_at, InboxEvent.event_id)
        ).all()  # fmt: skip
    return [Claimed(*row) for row in rows]


def finish(session: Session, event_id: str, worker: str, *, now: datetime) -> bool:
    """Mark a row done in `session` (the transaction of its effects), if this worker still
    holds it; False when it does not (its lease ran out and another processor took it)."""
    return session.connection().execute(
        update(InboxEvent).where(InboxEvent.event_id == event_id, InboxEvent.claimed_by == worker,
                                 InboxEvent.status == InboxStatus.PROCESSING)
        .values(status=InboxStatus.DONE, finished_at=now, last_error=None)
    ).rowcount == 1  # fmt: skip


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


def fail(runtime: Runtime, row: Claimed, worker: str, error: str, *, now: datetime) -> bool:
    """Record a failed try: retried after `backoff`, parked after `MAX_ATTEMPTS`. True when parked."""
    attempts = row.attempts + 1
    parked = attempts >= MAX_ATTEMPTS
    with runtime.sessions.begin() as session:
        session.execute(
            update(InboxEvent).where(InboxEvent.event_id == row.event_id, InboxEvent.claimed_by == worker)
            .values(status=InboxStatus.PARKED if parked else InboxStatus.PENDING, attempts=attempts,
                    not_before=None if parked else now + backoff(attempts), last_error=error[:2000],
                    claimed_by=None, claimed_at=None)
        )  # fmt: skip
    return parked


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

    # -- waking -------------------------------------------------------------------------------

    def wake(self) -> None:
        """An event was stored: process it soon."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self.submit(self._pass)

    def _pass(self) -> None:
        try:
            while True:
                self.run_pending()
                with self._lock:
                    if not self._again or self._stopping.is_set():
                        self._running = False
                        return
                    self._again = False
        except BaseException:
            with self._lock:
                self._running = False
            raise

    # -- processing ----------------------------------------------------------------------------

    def run_pending(self) -> int:
        """Process every due row, batch by batch; returns how many were handled.

        Each row is one unit of work (`bot.db.unit`): the listeners' writes and the row
        marked done commit together, so a crash leaves either both or neither. Within a
        batch, settings are read once per workspace, and what must wait for the commit
        (sending the outbox, refreshing cards) runs once at the batch's end.
        """
        handled = 0
        while not self._stopping.is_set():
            rows = claim(self.runtime, self.worker, now=self.runtime.clock())
            if not rows:
                return handled
            leased = self.runtime.clock()
            with unit.batch():
                for n, row in enumerate(rows):
                    if self._stopping.is_set():
                        release(self.runtime, [r.event_id for r in rows[n:]], self.worker)
                        return handled
                    now = self.runtime.clock()
                    if now - leased > STALE_CLAIM / 3:  # a slow batch keeps its rows
                        renew(self.runtime, [r.event_id for r in rows[n:]], self.worker, now=now)
                        leased = now
                    self._process(row)
                    handled += 1
        return handled

    def _process(self, row: Claimed) -> None:
        error = None
        try:
            with unit.unit_of_work(self.runtime.sessions) as session:
                error = self.dispatch(row.body)
                if error is not None:
                    raise _Failed(error)
                if not finish(session, row.event_id, self.worker, now=self.runtime.clock()):
                    raise _Failed("the claim ran out while the event was processed")
        except _Failed as failed:
            error = str(failed)
        except Exception as exc:  # a bug in dispatching itself: the row is retried, then parked
            log.exception("inbox event %s could not be dispatched", row.event_id)
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            return
        if fail(self.runtime, row, self.worker, error, now=self.runtime.clock()):
            log.error("inbox event %s parked after %d tries: %s", row.event_id, MAX_ATTEMPTS, error)
        else:
            log.warning("inbox event %s failed (try %d), retried later: %s", row.event_id, row.attempts + 1, error)

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
