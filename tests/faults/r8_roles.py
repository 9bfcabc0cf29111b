"""The processes of the R8 fault test (tests/faults/test_processes.py), each run as
`python -m tests.faults.r8_roles ROLE NAME` on one PostgreSQL database.

Every process reads the same fast clock: simulated time is `R8_START` plus the real
seconds since `R8_T0` times `R8_SPEED`, so a month passes in seconds for all of them
alike. Roles:

- `clock`: Heard's scheduler (`HeardScheduler.tick`, the real planning, ledger and
  catch-up) ticking as fast as it can instead of every 30 s; two test jobs, a daily and
  a weekly one, each recording its run in `r8_runs` and queueing a post in the outbox.
  After each tick it records the cadence it planned for each job (`r8_plans`).
- `worker`: the outbox's periodic sender (`deliver_due(sweep=True)`), as `heard worker`.
- `web`: changes one workspace's schedule of one job when the simulated time comes
  (`R8_CHANGE`: "day,team,job,cadence"), through the same setting `/heard schedule` writes.

Each says it is ready (`R8_DIR/NAME.ready`) and waits for the real time the month
starts at (`R8_DIR/t0`), so that no process starts late into the month; each stops once
the simulated time passes `R8_END` (the worker once it has also sent what is queued).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot.runtime import Runtime
from bot.scheduler import ledger
from bot.scheduler.cadence import parse_cadence
from bot.scheduler.registry import JobContext, JobRegistry, JobSpec
from bot.scheduler.runner import HeardScheduler
from bot.scheduler.schedules import DefaultSchedule
from bot.settings import Settings
from bot.slack.outbox import deliver_due, enqueue
from bot.slack.ratelimit import RateLimiter
from bot.workspace_settings import SCHEDULE, change_setting
from bot.workspaces import find

START = datetime.fromisoformat(os.environ.get("R8_START", "2026-11-01T00:00:00+00:00"))
END = datetime.fromisoformat(os.environ.get("R8_END", "2026-11-30T00:00:00+00:00"))
FOLDER = Path(os.environ["R8_DIR"]) if "R8_DIR" in os.environ else None  # the test's own folder
T0 = 0.0  # set once every process is ready (`ready`)
SPEED = float(os.environ.get("R8_SPEED", "100000"))
DEFAULTS = {"daily-post": "daily 09:00", "weekly-post": "mon 10:00"}
CHANNEL = "C0GENERAL1"


def ready(name: str) -> None:
    global T0
    (FOLDER / f"{name}.ready").touch()
    while not (FOLDER / "t0").exists():
        time.sleep(0.01)
    T0 = float((FOLDER / "t0").read_text())


def simulated_now() -> datetime:
    if not T0:  # the month has not begun: the day before it (the workspaces are not installed yet)
        return START - timedelta(days=1)
    return START + timedelta(seconds=(time.time() - T0) * SPEED)


def record_run(name: str):
    def run(context: JobContext) -> str:
        context.session.execute(
            text("INSERT INTO r8_runs (job, team_id, period, fired_at, clock) VALUES (:j, :t, :p, :f, :c)"),
            {"j": context.job, "t": context.team_id, "p": context.period, "f": context.now, "c": name},
        )
        enqueue(context.session, workspace_id=context.workspace_id, key=f"r8:{context.job}:{context.team_id}:{context.period}",
                method="chat.postMessage", payload={"channel": CHANNEL, "text": f"{context.job} {context.team_id} {context.period}"},
                now=context.now)  # fmt: skip
        return "recorded"

    return run


def runtime() -> Runtime:
    settings = Settings(_env_file=None, database_url=os.environ["DATABASE_URL"], slack_bot_token=os.environ["SLACK_BOT_TOKEN"],
                        slack_signing_secret="s", slack_api_url=os.environ["SLACK_API_URL"])  # fmt: skip
    made = Runtime.from_settings(settings, clock=simulated_now)
    made.limiter = RateLimiter(speed=SPEED)  # Slack's minutes pass as fast as the month does
    return made


def clock(name: str) -> None:
    # A run's ledger claim is taken back from a dead clock after an hour: of simulated time
    # here, while a job still takes its real milliseconds (at 100,000x an hour is 36 ms).
    # Six simulated hours (216 ms) keeps a live run's claim, and still lets a run killed
    # with clock-b be taken over the same day.
    ledger.STALE_AFTER = timedelta(hours=6)
    registry = JobRegistry.of([
        JobSpec("daily-post", record_run(name), "day", "a daily post"),
        JobSpec("weekly-post", record_run(name), "week", "a weekly post"),
    ])  # fmt: skip
    defaults = {job: DefaultSchedule(job, parse_cadence(when), "", None) for job, when in DEFAULTS.items()}
    heard = runtime()
    scheduler = HeardScheduler(heard, registry, defaults)
    seen: dict[str, str] = {}
    ready(name)
    while simulated_now() < END:
        scheduler.tick()
        for job_id in scheduler.scheduled_job_ids():
            cadence = str(scheduler._planned[job_id].cadence)
            if seen.get(job_id) != cadence:
                seen[job_id] = cadence
                with heard.engine.begin() as connection:
                    connection.execute(text("INSERT INTO r8_plans (clock, job_id, cadence, seen_at) VALUES (:c, :j, :w, :s)"),
                                       {"c": name, "j": job_id, "w": cadence, "s": simulated_now()})  # fmt: skip
        time.sleep(0.01)


def worker() -> None:
    heard = runtime()
    deliver_due(heard)  # the first connection and the first claim statement, before the month
    ready("worker")
    while simulated_now() < END + timedelta(days=1):
        deliver_due(heard, sweep=True)
        time.sleep(0.01)
    # A real worker goes on running after the month: it sends what is left. Under load
    # the last sweeps can leave posts behind here that they would not in real time: at
    # this speed a claim's span (`outbox.CLAIM_SPAN`, minutes) lasts a real millisecond,
    # and a sweep gives back what it claimed once that has passed.
    deadline = time.time() + 60
    while time.time() < deadline and _unsent(heard):
        deliver_due(heard, sweep=True)


def _unsent(heard: Runtime) -> int:
    with heard.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM outbox WHERE status NOT IN ('sent', 'parked')")).scalar_one()


def web() -> None:
    day, team_id, job, cadence = os.environ["R8_CHANGE"].split(",")
    heard = runtime()
    ready(f"web-{team_id}")
    when = START + timedelta(days=float(day))
    while simulated_now() < when:
        time.sleep(0.005)
    with heard.sessions.begin() as session:
        workspace = find(session, team_id)
        change_setting(session, workspace.id, SCHEDULE.format(job=job), cadence, by="U0MAYA0001",
                       now=simulated_now(), action="schedule")  # fmt: skip
    print(f"changed {job} for {team_id} to {cadence} at {simulated_now().isoformat()}", flush=True)


if __name__ == "__main__":
    role, name = sys.argv[1], sys.argv[2]
    {"clock": lambda: clock(name), "worker": worker, "web": web}[role]()
