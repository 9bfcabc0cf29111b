"""Heard's clock: each (job, workspace) fires on its cadence in the workspace's time zone.

There is no shared job store. Every `TICK_SECONDS`, each scheduling process (`heard run`,
`heard clock`) reads the plan from the database (installed workspaces, their time zones,
pauses and `/heard schedule` overrides), works out each job's last fire time that is due
in the current period, and claims that period in the run ledger; the ledger's unique
row lets one process through. So any number of clocks is safe, a clock that dies hands
nothing over (the others fire at their next tick), a schedule changed through any
process is followed by every clock at its next tick, and a job that fell due while no
clock ran (a deploy, an outage) runs once when one returns, if its period is still
current. A workspace's jobs never fire for a time before it was installed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
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

TICK_SECONDS = 30  # how often a clock looks for due jobs (a job fires at most this late)
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
    installed_at: datetime | None = None

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
                planned.append(PlannedJob(spec, workspace.team_id, workspace.time_zone, cadence,
                                          overridden, workspace.installed_at))  # fmt: skip
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


def run_job(runtime: Runtime, registry: JobRegistry, job: str, team_id: str, *, trigger: str = "schedule",
            scheduled_for: datetime | None = None) -> RunOutcome:  # fmt: skip
    """Run `job` for one workspace unless its period already ran; never raises for job errors.

    The period is the one `scheduled_for` (a fire time) falls in, or now's for a run by
    hand. The ledger row is claimed first (so no other process runs it meanwhile) and
    marked finished in the job's own transaction: its work and "done" commit together.
    """
    spec = registry.get(job)
    if spec is None:
        return RunOutcome(job, team_id, None, RunStatus.SKIPPED, f"unknown job {job!r}")
    now = runtime.clock()
    with runtime.sessions() as session:
        workspace = find(session, team_id)
        if workspace is None or not workspace.active:
            return RunOutcome(job, team_id, None, RunStatus.SKIPPED, "workspace is not installed")
        period = period_key(spec.period, scheduled_for or now, workspace.time_zone)
        if workspace.paused:
            return RunOutcome(job, team_id, period, RunStatus.SKIPPED, "workspace is paused (/heard resume)")
        failed_wait = ledger.RETRY_FAILED_AFTER if trigger == "schedule" else timedelta(0)
        run = ledger.claim_run(session, job=job, workspace_id=workspace.id, period=period, trigger=trigger,
                               now=now, failed_wait=failed_wait)  # fmt: skip
        if run is None:
            existing = ledger.existing_run(session, job=job, workspace_id=workspace.id, period=period)
            why = f"already ran for {period}"
            if existing is not None and existing.status == RunStatus.FAILED:
                why = f"failed for {period} less than {failed_wait.seconds // 60} minutes ago; tried again later"
            elif existing is not None and existing.status == RunStatus.RUNNING:
                why = f"running elsewhere for {period}"
            return RunOutcome(job, team_id, period, RunStatus.SKIPPED, why)
        try:
            context = JobContext(
                job=job, team_id=team_id, workspace_id=workspace.id,
                time_zone=workspace.time_zone, period=period, now=now, session=session,
                client=runtime.client_for(team_id, workspace.enterprise_id),
                settings=runtime.settings,
            )  # fmt: skip
            detail = spec.run(context) or "done"
            ledger.mark_finished(run, ok=True, detail=detail, now=runtime.clock())
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
        return RunOutcome(job, team_id, period, RunStatus.SUCCEEDED, detail)


def last_due(planned: PlannedJob, now: datetime) -> datetime | None:
    """The job's latest fire time at or before `now` in the period `now` is in (in the
    workspace's zone), and not before the workspace was installed; None when there is none."""
    trigger = planned.trigger()
    if trigger is None:
        return None
    current = period_key(planned.spec.period, now, planned.time_zone)
    start = max(_period_start(planned.spec.period, now, planned.time_zone), planned.installed_at or now)
    due, fire = None, trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= now and period_key(planned.spec.period, fire, planned.time_zone) == current:
        due, fire = fire, trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return due


def _period_start(period: str, now: datetime, time_zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(time_zone))
    if period == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if period == "week":
            local -= timedelta(days=local.weekday())
    return local.astimezone(UTC)


class HeardScheduler:
    """The clock of one process: a tick every `TICK_SECONDS` (see the module docstring),
    plus the outbox's retries and the inbox's cleanup, on APScheduler in memory."""

    def __init__(
        self, runtime: Runtime, registry: JobRegistry, defaults: dict[str, DefaultSchedule]
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.defaults = defaults
        self._lock = threading.Lock()
        self._planned: dict[str, PlannedJob] = {}
        self._finished: set[tuple[str, str, str]] = set()  # (job, team, period) known to have succeeded
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    def start(self, *, paused: bool = False) -> None:
        self.scheduler.start(paused=paused)
        self.sync()
        self.scheduler.add_job(self.tick, "interval", seconds=TICK_SECONDS, id="heard:tick",
                               next_run_time=datetime.now(UTC), replace_existing=True)  # fmt: skip
        # Retries of queued Slack posts (429s, outages); every process may run it,
        # the outbox's atomic claims keep each post single.
        self.scheduler.add_job(
            self.deliver_outbox, "interval", seconds=OUTBOX_INTERVAL_SECONDS,
            id="heard:outbox", replace_existing=True,
        )  # fmt: skip
        self.scheduler.add_job(
            forget_done, "interval", args=[self.runtime], hours=1,
            id="heard:forget-events", replace_existing=True,
        )  # fmt: skip
        log.info("scheduler started with %d registered job(s)", len(self.registry))

    def deliver_outbox(self) -> None:
        report = deliver_due(self.runtime, sweep=True)
        if report:
            log.info("outbox: %d sent, %d retrying, %d uncertain, %d parked",
                     len(report.sent), len(report.retrying), len(report.uncertain), len(report.parked))  # fmt: skip

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def sync(self) -> dict[str, int]:
        """Read the plan from the database again; returns what changed since the last read
        (jobs added, rescheduled, removed)."""
        with self._lock:
            wanted = {p.job_id: p for p in plan(self.runtime, self.registry, self.defaults) if p.trigger()}
            counts = {
                "added": len(wanted.keys() - self._planned.keys()),
                "changed": sum(1 for job_id in wanted.keys() & self._planned.keys()
                               if repr(wanted[job_id].trigger()) != repr(self._planned[job_id].trigger())),
                "removed": len(self._planned.keys() - wanted.keys()),
            }  # fmt: skip
            self._planned = wanted
        if any(counts.values()):
            log.info("schedule synced: %s", counts)
        return counts

    def tick(self) -> list[RunOutcome]:
        """Run every job whose fire time is due in its current period and has not run."""
        self.sync()
        now = self.runtime.clock()
        outcomes, finished = [], set()
        for planned in list(self._planned.values()):
            fire = last_due(planned, now)
            if fire is None:
                continue
            period = period_key(planned.spec.period, fire, planned.time_zone)
            key = (planned.spec.name, planned.team_id, period)
            if key in self._finished:  # known done: no query, and no write on SQLite, each tick
                finished.add(key)
                outcomes.append(RunOutcome(key[0], key[1], period, RunStatus.SKIPPED, f"already ran for {period}"))
                continue
            outcome = run_job(self.runtime, self.registry, planned.spec.name, planned.team_id, scheduled_for=fire)
            if outcome.status is not RunStatus.SKIPPED:  # a skip repeats every tick of the period
                log.info("job %s for %s: %s (%s)", outcome.job, outcome.team_id, outcome.status, outcome.detail)
            if outcome.status is RunStatus.SUCCEEDED or outcome.detail == f"already ran for {period}":
                finished.add(key)
            outcomes.append(outcome)
        self._finished = finished  # what is no longer due is forgotten
        return outcomes

    def scheduled_job_ids(self) -> list[str]:
        return sorted(self._planned)

    def trigger_of(self, job_id: str):
        """The cron trigger `job_id` fires on, or None when it is not planned."""
        planned = self._planned.get(job_id)
        return planned.trigger() if planned else None

    def next_run(self, job_id: str) -> datetime | None:
        trigger = self.trigger_of(job_id)
        return trigger.get_next_fire_time(None, self.runtime.clock()) if trigger else None
