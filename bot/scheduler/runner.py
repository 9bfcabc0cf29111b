"""APScheduler wiring: one cron job per (job, workspace) in the workspace's time zone.

Jobs live in APScheduler's SQLAlchemy job store in Heard's own database, so a
`web` process and a `clock` process see the same schedule; the run ledger makes
sure a period runs once even if both fire. A local `sync` job re-reads the
desired schedule every minute, so a new install, an uninstall, a pause or a
`/heard schedule` change takes effect in every running process without a restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.runtime import NoTokenForWorkspace, Runtime
from bot.scheduler import ledger
from bot.scheduler.cadence import Cadence, CadenceError, parse_cadence
from bot.scheduler.ledger import RunStatus
from bot.scheduler.registry import JobContext, JobRegistry, JobSpec, period_key
from bot.scheduler.schedules import DefaultSchedule
from bot.slack.inbox import forget_done
from bot.slack.outbox import deliver_due
from bot.workspace_settings import SCHEDULE
from bot.workspaces import active_workspaces, find, get_setting

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
SYNC_INTERVAL_SECONDS = 60
OUTBOX_INTERVAL_SECONDS = 15
SCHEDULE_SETTING = SCHEDULE  # a workspace's override, e.g. "mon 10:00" or "off"


@dataclass(frozen=True)
class RunOutcome:
    job: str
    team_id: str
    period: str | None
    status: RunStatus  # succeeded, failed or skipped
    detail: str


@dataclass(frozen=True)
class PlannedJob:
    """One job of one workspace: the cadence in force and its trigger."""

    spec: JobSpec
    team_id: str
    time_zone: str
    cadence: Cadence
    overridden: bool

    @property
    def job_id(self) -> str:
        return f"{self.spec.name}:{self.team_id}"

    def trigger(self) -> CronTrigger | None:
        return self.cadence.trigger(self.time_zone)


def effective_cadence(session, workspace, job: str, default: Cadence | None) -> tuple[Cadence | None, bool]:
    """The workspace's override for `job` if it has a valid one, else the default."""
    override = get_setting(session, workspace.id, SCHEDULE_SETTING.format(job=job))
    if isinstance(override, str):
        try:
            return parse_cadence(override), True
        except CadenceError:
            log.warning("ignoring invalid schedule %r for %s in %s", override, job, workspace.team_id)
    return default, False


def plan(runtime: Runtime, registry: JobRegistry, defaults: dict[str, DefaultSchedule]) -> list[PlannedJob]:
    """Every registered job for every active workspace, with the cadence in force."""
    planned = []
    with runtime.sessions() as session:
        for workspace in active_workspaces(session):
            for spec in registry:
                default = defaults[spec.name].cadence if spec.name in defaults else None
                cadence, overridden = effective_cadence(session, workspace, spec.name, default)
                if cadence is None:
                    log.warning("job %s has no schedule in schedules/; not scheduled", spec.name)
                    continue
                planned.append(
                    PlannedJob(spec, workspace.team_id, workspace.time_zone, cadence, overridden)
                )
    return planned


@dataclass(frozen=True)
class JobStatus:
    """One row of `heard jobs list`."""

    job: str
    team_id: str
    workspace_name: str
    schedule: str
    time_zone: str
    last_run: str
    next_run: datetime | None


def job_statuses(
    runtime: Runtime, registry: JobRegistry, defaults: dict[str, DefaultSchedule], *, team_id: str | None = None
) -> list[JobStatus]:
    """Each registered job per installed workspace: cadence in force, last and next run."""
    now = runtime.clock()
    rows = []
    with runtime.sessions() as session:
        for planned in plan(runtime, registry, defaults):
            if team_id and planned.team_id != team_id:
                continue
            workspace = find(session, planned.team_id)
            last = ledger.last_run(session, job=planned.spec.name, workspace_id=workspace.id)
            trigger = planned.trigger()
            schedule = str(planned.cadence) + (" (custom)" if planned.overridden else "")
            if workspace.paused:
                schedule += ", paused"
            rows.append(
                JobStatus(
                    job=planned.spec.name,
                    team_id=workspace.team_id,
                    workspace_name=workspace.name,
                    schedule=schedule,
                    time_zone=planned.time_zone,
                    last_run=f"{last.period} {last.status}" if last else "never",
                    next_run=trigger.get_next_fire_time(None, now) if trigger else None,
                )
            )
    return rows


def run_job(runtime: Runtime, registry: JobRegistry, job: str, team_id: str, *, trigger: str = "schedule") -> RunOutcome:
    """Run `job` for one workspace unless this period already ran; never raises for job errors."""
    spec = registry.get(job)
    if spec is None:
        return RunOutcome(job, team_id, None, RunStatus.SKIPPED, f"unknown job {job!r}")
    now = runtime.clock()
    with runtime.sessions() as session:
        workspace = find(session, team_id)
        if workspace is None or not workspace.active:
            return RunOutcome(job, team_id, None, RunStatus.SKIPPED, "workspace is not installed")
        period = period_key(spec.period, now, workspace.time_zone)
        if workspace.paused:
            return RunOutcome(job, team_id, period, RunStatus.SKIPPED, "workspace is paused (/heard resume)")
        run = ledger.claim_run(
            session, job=job, workspace_id=workspace.id, period=period, trigger=trigger, now=now
        )
        if run is None:
            return RunOutcome(job, team_id, period, RunStatus.SKIPPED, f"already ran for {period}")
        try:
            context = JobContext(
                job=job, team_id=team_id, workspace_id=workspace.id,
                time_zone=workspace.time_zone, period=period, now=now, session=session,
                client=runtime.client_for(team_id, workspace.enterprise_id),
                settings=runtime.settings,
            )  # fmt: skip
            detail = spec.run(context) or "done"
            session.commit()
        except NoTokenForWorkspace as exc:
            session.rollback()
            ledger.finish_run(session, run, ok=False, detail=str(exc), now=runtime.clock())
            return RunOutcome(job, team_id, period, RunStatus.FAILED, str(exc))
        except Exception as exc:  # a job's bug must not stop the scheduler or other workspaces
            log.exception("job %s failed for %s (%s)", job, team_id, period)
            session.rollback()
            detail = f"{type(exc).__name__}: {exc}"
            ledger.finish_run(session, run, ok=False, detail=detail, now=runtime.clock())
            return RunOutcome(job, team_id, period, RunStatus.FAILED, detail)
        ledger.finish_run(session, run, ok=True, detail=detail, now=runtime.clock())
        return RunOutcome(job, team_id, period, RunStatus.SUCCEEDED, detail)


# APScheduler stores jobs as a textual reference plus arguments, so the function it
# calls must be importable; it finds the live scheduler of this process here.
_active: HeardScheduler | None = None


def scheduled_run(job: str, team_id: str) -> None:
    if _active is None:  # the job fired in a process that is shutting down
        log.warning("scheduled %s for %s fired with no active scheduler", job, team_id)
        return
    outcome = run_job(_active.runtime, _active.registry, job, team_id)
    log.info("job %s for %s: %s (%s)", job, team_id, outcome.status, outcome.detail)


class HeardScheduler:
    def __init__(
        self, runtime: Runtime, registry: JobRegistry, defaults: dict[str, DefaultSchedule]
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.defaults = defaults
        self._sync_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=runtime.engine, tablename=JOBSTORE_TABLE),
                "local": MemoryJobStore(),
            },
            executors={"default": ThreadPoolExecutor(4)},
            # A job missed while no process was up still runs once when one starts,
            # within the hour; the ledger stops any second run in the same period.
            job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1},
            timezone=UTC,
        )

    def start(self, *, paused: bool = False) -> None:
        global _active
        _active = self
        self.scheduler.start(paused=paused)
        self.sync()
        self.scheduler.add_job(
            self.sync, "interval", seconds=SYNC_INTERVAL_SECONDS, id="heard:sync",
            jobstore="local", replace_existing=True,
        )  # fmt: skip
        # Retries of queued Slack posts (429s, outages); every process may run it,
        # the outbox's atomic claims keep each post single.
        self.scheduler.add_job(
            self.deliver_outbox, "interval", seconds=OUTBOX_INTERVAL_SECONDS,
            id="heard:outbox", jobstore="local", replace_existing=True,
        )  # fmt: skip
        self.scheduler.add_job(
            forget_done, "interval", args=[self.runtime], hours=1,
            id="heard:forget-events", jobstore="local", replace_existing=True,
        )  # fmt: skip
        log.info("scheduler started with %d registered job(s)", len(self.registry))

    def deliver_outbox(self) -> None:
        report = deliver_due(self.runtime, sweep=True)
        if report.sent or report.retrying or report.failed:
            log.info("outbox: %d sent, %d retrying, %d failed",
                     len(report.sent), len(report.retrying), len(report.failed))  # fmt: skip

    def shutdown(self) -> None:
        global _active
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if _active is self:
            _active = None

    def sync(self) -> dict[str, int]:
        """Make the job store match the plan: add, reschedule and remove jobs."""
        with self._sync_lock:
            wanted = {p.job_id: p for p in plan(self.runtime, self.registry, self.defaults)}
            counts = {"added": 0, "changed": 0, "removed": 0}
            existing = {job.id: job for job in self.scheduler.get_jobs(jobstore="default")}
            for job_id, job in existing.items():
                planned = wanted.get(job_id)
                trigger = planned.trigger() if planned else None
                if trigger is None:
                    job.remove()
                    counts["removed"] += 1
                elif repr(job.trigger) != repr(trigger):
                    job.reschedule(trigger)
                    counts["changed"] += 1
            for job_id, planned in wanted.items():
                trigger = planned.trigger()
                if job_id in existing or trigger is None:
                    continue
                self.scheduler.add_job(
                    "bot.scheduler.runner:scheduled_run", trigger, id=job_id,
                    args=[planned.spec.name, planned.team_id], jobstore="default",
                    name=job_id, replace_existing=True,
                )  # fmt: skip
                counts["added"] += 1
            if any(counts.values()):
                log.info("schedule synced: %s", counts)
            return counts

    def scheduled_job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs(jobstore="default"))

    def next_run(self, job_id: str) -> datetime | None:
        job = self.scheduler.get_job(job_id, jobstore="default")
        return job.next_run_time if job else None
