"""The run ledger: a unique (job, workspace, period) row makes each run happen once.

Two processes (a `web` with its scheduler and a `clock`), a retried trigger or an
operator's `heard jobs run` can all try the same run; the database's unique
constraint decides who gets it. A failed run may be claimed again; a run left
"running" by a crashed process is reclaimable after STALE_AFTER.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import JobRun

STALE_AFTER = timedelta(hours=1)
RETRY_FAILED_AFTER = timedelta(minutes=15)  # how long a clock waits before trying a failed run again


class RunStatus(StrEnum):
    """A run's state in the ledger (`job_runs.status`), and how a run attempt ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # an outcome only: a skipped run is never written to the ledger


def claim_run(
    session: Session, *, job: str, workspace_id: int, period: str, trigger: str, now: datetime,
    failed_wait: timedelta = timedelta(0),
) -> JobRun | None:  # fmt: skip
    """Claim the run of `job` for this workspace and period, or None if it ran or is running.

    A failed run may be claimed again once `failed_wait` has passed since it ended (the
    clock waits `RETRY_FAILED_AFTER` between tries, an operator's `heard jobs run` not at all).
    """
    try:
        with session.begin_nested():
            run = JobRun(
                job=job, workspace_id=workspace_id, period=period, trigger=trigger,
                status=RunStatus.RUNNING, started_at=now,
            )  # fmt: skip
            session.add(run)
        session.commit()
        return run
    except IntegrityError:
        session.rollback()
    # The row exists: take it over only if it failed or went stale, atomically.
    reclaimed = session.execute(
        update(JobRun)
        .where(
            JobRun.job == job,
            JobRun.workspace_id == workspace_id,
            JobRun.period == period,
            ((JobRun.status == RunStatus.FAILED) & (JobRun.finished_at <= now - failed_wait))
            | ((JobRun.status == RunStatus.RUNNING) & (JobRun.started_at < now - STALE_AFTER)),
        )
        .values(
            status=RunStatus.RUNNING, trigger=trigger, started_at=now, finished_at=None, detail=None
        )
    )
    session.commit()
    if reclaimed.rowcount != 1:
        return None
    return session.scalar(
        select(JobRun).where(
            JobRun.job == job, JobRun.workspace_id == workspace_id, JobRun.period == period
        )
    )


def existing_run(session: Session, *, job: str, workspace_id: int, period: str) -> JobRun | None:
    return session.scalar(
        select(JobRun).where(
            JobRun.job == job, JobRun.workspace_id == workspace_id, JobRun.period == period
        )
    )


def mark_finished(run: JobRun, *, ok: bool, detail: str | None, now: datetime) -> None:
    """Record how the run ended; it is saved with whatever the session commits next (a
    successful job's own work)."""
    run.status = RunStatus.SUCCEEDED if ok else RunStatus.FAILED
    run.finished_at = now
    run.detail = (detail or "")[:2000] or None


def finish_run(session: Session, run: JobRun, *, ok: bool, detail: str | None, now: datetime):
    """Record how the run ended, on its own (a failed job's work was rolled back)."""
    mark_finished(run, ok=ok, detail=detail, now=now)
    session.commit()


def last_run(session: Session, *, job: str, workspace_id: int) -> JobRun | None:
    return session.scalar(
        select(JobRun)
        .where(JobRun.job == job, JobRun.workspace_id == workspace_id)
        .order_by(JobRun.started_at.desc())
        .limit(1)
    )
