"""R8: two `web`, one `worker` and two `clock` processes on one PostgreSQL database for a
simulated month: each job runs once per workspace and period; one clock killed with
SIGKILL mid-month misses nothing; a schedule changed through one web process is followed
by both clocks.

A faithful fast form (see tests/faults/r8_roles.py): real OS processes, Heard's real
scheduler, ledger, outbox and fake Slack, and one fast clock they all read (a month in
about 25 seconds). What is not the real `heard clock` loop is its 30 s tick: each clock
ticks as fast as it can instead, and two test jobs (a daily and a weekly one, recording
every run) stand in for the rooms' jobs. The web processes change a schedule through the
same setting `/heard schedule` writes; they do not serve HTTP here.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.scheduler.cadence import parse_cadence
from tests.people import ACME, GENERAL

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 30, tzinfo=UTC)
SPEED = 100_000.0  # 29 days in 25 seconds
STARTUP = 60.0  # real seconds the processes may take to start (imports, connections)
NEW_YORK = "T0R8NYC01"
KILL_DAY = 15

pytestmark = [pytest.mark.parametrize("db_url", ["postgresql"], indirect=True), pytest.mark.timeout(120)]


@pytest.fixture
def tables(engine):
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE r8_runs (job TEXT, team_id TEXT, period TEXT, fired_at TIMESTAMPTZ, clock TEXT)"))
        connection.execute(text("CREATE TABLE r8_plans (clock TEXT, job_id TEXT, cadence TEXT, seen_at TIMESTAMPTZ)"))
    yield
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE r8_runs"))
        connection.execute(text("DROP TABLE r8_plans"))


def start(role: str, name: str, env: dict, log: Path, **extra: str) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, "-m", "tests.faults.r8_roles", role, name], env={**env, **extra},
                                stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])  # fmt: skip


def test_a_month_of_jobs_with_two_clocks_one_killed_and_a_schedule_change(engine, db_url, tables, fake_slack, acme,
                                                                          make_workspace, tmp_path):  # fmt: skip
    make_workspace(ACME, time_zone="Europe/Berlin", installed_at=START)
    make_workspace(NEW_YORK, time_zone="America/New_York", installed_at=START)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
    env |= {"DATABASE_URL": db_url, "SLACK_BOT_TOKEN": acme.bot_token, "SLACK_API_URL": fake_slack.url,
            "R8_DIR": str(tmp_path), "R8_SPEED": str(SPEED), "R8_START": START.isoformat(), "R8_END": END.isoformat()}  # fmt: skip
    log = tmp_path / "r8.log"
    processes = {
        "clock-a": start("clock", "clock-a", env, log),
        "clock-b": start("clock", "clock-b", env, log),
        "worker": start("worker", "worker", env, log),
        "web-1": start("web", "web-1", env, log, R8_CHANGE=f"8,{ACME},daily-post,daily 17:00"),
        "web-2": start("web", "web-2", env, log, R8_CHANGE=f"20,{NEW_YORK},weekly-post,fri 15:00"),
    }
    try:
        deadline = time.time() + STARTUP
        while len(list(tmp_path.glob("*.ready"))) < len(processes):  # each process is ready...
            assert time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        t0 = time.time() + 0.2
        (tmp_path / "t0.part").write_text(str(t0))
        (tmp_path / "t0.part").rename(tmp_path / "t0")  # ...and the month starts for all at once
        kill_at = t0 + KILL_DAY * 86400 / SPEED
        while time.time() < kill_at:  # the month runs on the shared clock; the test waits for its middle
            assert processes["clock-b"].poll() is None, log.read_text()[-3000:]
            time.sleep(0.05)
        processes["clock-b"].send_signal(signal.SIGKILL)
        for name, process in processes.items():
            code = process.wait(timeout=90)
            assert name == "clock-b" or code == 0, f"{name} exited {code}:\n{log.read_text()[-3000:]}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()

    with engine.connect() as connection:
        runs = connection.execute(text("SELECT job, team_id, period, fired_at, clock FROM r8_runs")).all()
        plans = connection.execute(text("SELECT clock, job_id, cadence, seen_at FROM r8_plans")).all()

    # Each job once per workspace and period, and none missed, clock-b's death included.
    counted = Counter((job, team, period) for job, team, period, _, _ in runs)
    assert [key for key, count in counted.items() if count > 1] == []
    days = [f"2026-11-{day:02d}" for day in range(1, 30)]
    weeks = ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    expected = {(job, team, period) for team in (ACME, NEW_YORK)
                for job, periods in (("daily-post", days), ("weekly-post", weeks)) for period in periods}  # fmt: skip
    assert set(counted) == expected, f"missed {sorted(expected - set(counted))}, extra {sorted(set(counted) - expected)}"
    assert {clock for *_, clock in runs} == {"clock-a", "clock-b"}  # both clocks did part of the work

    # The schedule changed through web-1 on day 8 is what both clocks planned afterwards,
    # and the runs follow it; web-2's change on day 20 reached the surviving clock.
    new_daily, new_weekly = str(parse_cadence("daily 17:00")), str(parse_cadence("fri 15:00"))
    for clock in ("clock-a", "clock-b"):
        assert any(c == clock and j == f"daily-post:{ACME}" and w == new_daily for c, j, w, _ in plans), clock
    assert any(c == "clock-a" and j == f"weekly-post:{NEW_YORK}" and w == new_weekly for c, j, w, _ in plans)
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    for job, team, period, fired_at, _ in runs:
        if job == "daily-post" and team == ACME:
            hour = fired_at.astimezone(berlin).hour
            assert (hour >= 17) if period >= "2026-11-09" else (9 <= hour < 17), (period, fired_at)  # changed 01:00 on the 9th
    [friday] = [fired for job, team, period, fired, _ in runs if (job, team, period) == ("weekly-post", NEW_YORK, "2026-W48")]
    assert friday.astimezone(new_york).weekday() == 4 and friday.astimezone(new_york).hour >= 15

    # The worker sent each run's post once.
    posted = Counter(m["text"] for m in fake_slack.messages(GENERAL) if m.get("bot_id"))
    assert posted == Counter(f"{job} {team} {period}" for job, team, period in expected)
