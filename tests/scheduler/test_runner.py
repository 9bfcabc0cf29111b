import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db.models import JobRun, Workspace
from bot.scheduler import ledger
from bot.scheduler.cadence import parse_cadence
from bot.scheduler.registry import JobRegistry, JobSpec, period_key
from bot.scheduler.runner import HeardScheduler, job_statuses, run_job
from bot.scheduler.schedules import DefaultSchedule
from bot.workspaces import get_setting, mark_uninstalled, set_setting

WEDNESDAY = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Recorder:
    """A job that records each run and can be told to fail."""

    def __init__(self):
        self.runs: list[tuple[str, str]] = []
        self.fail_with: Exception | None = None
        self.ran = threading.Event()

    def __call__(self, context):
        if self.fail_with:
            raise self.fail_with
        self.runs.append((context.team_id, context.period))
        self.ran.set()
        return f"posted for {context.period}"


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def registry(recorder):
    return JobRegistry.of([JobSpec("weekly-test", recorder, "week", "a test job")])


@pytest.fixture
def clock(runtime):
    now = {"value": WEDNESDAY}
    runtime.clock = lambda: now["value"]
    return now


def defaults(when="mon 10:00"):
    return {"weekly-test": DefaultSchedule("weekly-test", parse_cadence(when), "", None)}


def test_second_run_in_the_same_period_is_skipped(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1")
    first = run_job(runtime, registry, "weekly-test", "T1", trigger="manual")
    second = run_job(runtime, registry, "weekly-test", "T1")
    assert (first.status, first.period) == ("succeeded", "2026-W48")
    assert second.status == "skipped" and "already ran for 2026-W48" in second.detail
    assert recorder.runs == [("T1", "2026-W48")]


def test_next_period_runs_again(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1")
    run_job(runtime, registry, "weekly-test", "T1")
    clock["value"] = WEDNESDAY + timedelta(days=7)
    assert run_job(runtime, registry, "weekly-test", "T1").status == "succeeded"
    assert [period for _, period in recorder.runs] == ["2026-W48", "2026-W49"]


def test_period_is_read_in_the_workspace_time_zone():
    sunday_night_utc = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert period_key("week", sunday_night_utc, "UTC") == "2026-W48"
    assert period_key("week", sunday_night_utc, "Asia/Tokyo") == "2026-W49"  # Monday 05:00
    assert period_key("day", sunday_night_utc, "Asia/Tokyo") == "2026-11-30"
    assert period_key("hour", sunday_night_utc, "Asia/Tokyo") == "2026-11-30T05"


def test_workspaces_have_separate_ledgers(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1")
    make_workspace("T2")
    assert run_job(runtime, registry, "weekly-test", "T1").status == "succeeded"
    assert run_job(runtime, registry, "weekly-test", "T2").status == "succeeded"
    assert sorted(recorder.runs) == [("T1", "2026-W48"), ("T2", "2026-W48")]


def test_failed_run_is_recorded_and_may_be_retried(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1")
    recorder.fail_with = RuntimeError("slack was down")
    failed = run_job(runtime, registry, "weekly-test", "T1")
    assert failed.status == "failed" and "slack was down" in failed.detail
    with runtime.sessions() as session:
        assert session.scalar(select(JobRun.status)) == "failed"
    recorder.fail_with = None
    assert run_job(runtime, registry, "weekly-test", "T1", trigger="manual").status == "succeeded"
    with runtime.sessions() as session:
        assert session.scalars(select(JobRun.status)).all() == ["succeeded"]


def test_paused_and_uninstalled_workspaces_do_not_run(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1", paused=True)
    make_workspace("T2")
    with runtime.sessions.begin() as session:
        mark_uninstalled(session, "T2", WEDNESDAY)
    assert "paused" in run_job(runtime, registry, "weekly-test", "T1").detail
    assert "not installed" in run_job(runtime, registry, "weekly-test", "T2").detail
    assert "not installed" in run_job(runtime, registry, "weekly-test", "T404").detail
    assert recorder.runs == []


def test_unknown_job_is_skipped(runtime, registry, clock, make_workspace):
    make_workspace("T1")
    assert run_job(runtime, registry, "nope", "T1").status == "skipped"


def test_running_claim_is_reclaimed_only_when_stale(runtime, make_workspace):
    workspace = make_workspace("T1")
    claim = dict(job="j", workspace_id=workspace.id, period="2026-W48", trigger="schedule")
    with runtime.sessions() as session:
        assert ledger.claim_run(session, **claim, now=WEDNESDAY) is not None
        later = WEDNESDAY + timedelta(minutes=30)
        assert ledger.claim_run(session, **claim, now=later) is None
        much_later = WEDNESDAY + ledger.STALE_AFTER + timedelta(minutes=1)
        assert ledger.claim_run(session, **claim, now=much_later) is not None


def test_concurrent_claims_let_exactly_one_through(runtime, make_workspace):
    workspace = make_workspace("T1")
    barrier = threading.Barrier(4)
    winners = []

    def claim():
        with runtime.sessions() as session:
            barrier.wait()
            run = ledger.claim_run(session, job="j", workspace_id=workspace.id,
                                   period="p", trigger="schedule", now=WEDNESDAY)  # fmt: skip
            if run is not None:
                winners.append(run.id)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(winners) == 1


@pytest.fixture
def scheduler(runtime, registry):
    heard = HeardScheduler(runtime, registry, defaults())
    yield heard
    heard.shutdown()


def test_sync_plans_each_workspace_in_its_time_zone(scheduler, make_workspace):
    make_workspace("T1", time_zone="Europe/Berlin")
    make_workspace("T2", time_zone="America/New_York")
    scheduler.start(paused=True)
    assert scheduler.scheduled_job_ids() == ["weekly-test:T1", "weekly-test:T2"]
    t1 = scheduler.trigger_of("weekly-test:T1")
    after = WEDNESDAY
    assert t1.get_next_fire_time(None, after) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    t2 = scheduler.trigger_of("weekly-test:T2")
    assert t2.get_next_fire_time(None, after) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def test_override_off_and_uninstall_change_the_running_schedule(runtime, scheduler, make_workspace):
    one, two = make_workspace("T1"), make_workspace("T2")
    scheduler.start(paused=True)
    with runtime.sessions.begin() as session:
        set_setting(session, one.id, "schedule.weekly-test", "fri 16:30", by="U1", now=WEDNESDAY)
    assert scheduler.sync() == {"added": 0, "changed": 1, "removed": 0}
    assert "fri" in repr(scheduler.trigger_of("weekly-test:T1"))
    with runtime.sessions.begin() as session:
        set_setting(session, two.id, "schedule.weekly-test", "off", by="U1", now=WEDNESDAY)
    assert scheduler.sync()["removed"] == 1
    with runtime.sessions.begin() as session:
        mark_uninstalled(session, "T1", WEDNESDAY)
    scheduler.sync()
    assert scheduler.scheduled_job_ids() == []
    assert scheduler.sync() == {"added": 0, "changed": 0, "removed": 0}


def test_every_clock_plans_from_the_database(runtime, registry, make_workspace):
    one = make_workspace("T1")
    clocks = [HeardScheduler(runtime, registry, defaults()) for _ in range(2)]
    try:
        for clock_process in clocks:
            clock_process.start(paused=True)
            assert clock_process.scheduled_job_ids() == ["weekly-test:T1"]
        with runtime.sessions.begin() as session:  # a change made through any process…
            set_setting(session, one.id, "schedule.weekly-test", "fri 16:30", by="U1", now=WEDNESDAY)
        for clock_process in clocks:  # …is followed by every clock at its next look
            assert clock_process.sync() == {"added": 0, "changed": 1, "removed": 0}
            assert "fri" in repr(clock_process.trigger_of("weekly-test:T1"))
    finally:
        for clock_process in clocks:
            clock_process.shutdown()


def test_a_due_job_fires_once_whichever_clock_ticks(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1", time_zone="Europe/Berlin")  # mon 10:00 Berlin is 09:00 UTC
    clocks = [HeardScheduler(runtime, registry, defaults()) for _ in range(2)]
    clock["value"] = datetime(2026, 11, 30, 8, 59, tzinfo=UTC)
    assert [c.tick() for c in clocks] == [[], []]  # not due yet
    clock["value"] = datetime(2026, 11, 30, 9, 0, 20, tzinfo=UTC)
    outcomes = [o.status for c in clocks for o in c.tick()]
    assert sorted(outcomes) == ["skipped", "succeeded"] and recorder.runs == [("T1", "2026-W49")]
    clock["value"] = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # later that week: nothing more
    assert [o.status for c in clocks for o in c.tick()] == ["skipped", "skipped"]
    with runtime.sessions() as session:
        run = session.scalar(select(JobRun))
        assert (run.job, run.period, run.trigger, run.status) == ("weekly-test", "2026-W49", "schedule", "succeeded")
        assert session.scalar(select(Workspace.team_id).where(Workspace.id == run.workspace_id)) == "T1"


def test_concurrent_ticks_of_several_clocks_run_a_job_once(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1", time_zone="Europe/Berlin")
    clock["value"] = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    clocks = [HeardScheduler(runtime, registry, defaults()) for _ in range(4)]
    threads = [threading.Thread(target=c.tick) for c in clocks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert recorder.runs == [("T1", "2026-W49")]


def test_a_job_missed_while_no_clock_ran_runs_once_if_its_period_is_current(runtime, registry, recorder, clock,
                                                                           make_workspace):  # fmt: skip
    make_workspace("T1")
    scheduler = HeardScheduler(runtime, registry, defaults())
    clock["value"] = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # Wednesday: Monday's fire was missed
    assert [o.status for o in scheduler.tick()] == ["succeeded"]
    assert recorder.runs == [("T1", "2026-W49")]
    clock["value"] = datetime(2026, 12, 2, 14, 0, 30, tzinfo=UTC)
    assert [o.status for o in scheduler.tick()] == ["skipped"]
    assert recorder.runs == [("T1", "2026-W49")]


def test_a_job_never_fires_for_a_time_before_the_install(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1", time_zone="Europe/Berlin", installed_at=datetime(2026, 12, 1, 12, tzinfo=UTC))  # a Tuesday
    scheduler = HeardScheduler(runtime, registry, defaults())
    clock["value"] = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert scheduler.tick() == [] and recorder.runs == []
    clock["value"] = datetime(2026, 12, 7, 9, 0, 10, tzinfo=UTC)  # the next Monday
    assert [o.status for o in scheduler.tick()] == ["succeeded"]


def test_a_failed_jobs_work_is_rolled_back_with_its_ledger_row_failed(runtime, registry, clock, make_workspace):
    workspace = make_workspace("T1")

    def half_done(context):
        set_setting(context.session, workspace.id, "half", True, by=None, now=context.now)
        raise RuntimeError("slack said no")

    registry = JobRegistry.of([JobSpec("weekly-test", half_done, "week", "a test job")])
    outcome = run_job(runtime, registry, "weekly-test", "T1")
    assert outcome.status == "failed"
    with runtime.sessions() as session:
        assert session.scalar(select(JobRun.status)) == "failed"
        assert get_setting(session, workspace.id, "half") is None


def test_a_succeeded_jobs_work_and_ledger_row_commit_together(runtime, clock, make_workspace):
    workspace = make_workspace("T1")
    seen = []

    def work(context):
        set_setting(context.session, workspace.id, "done", True, by=None, now=context.now)
        # Until the job returns, nobody sees the run finished or its work.
        with runtime.engine.connect() as other:
            seen.append(other.execute(select(JobRun.status)).scalar())
        return "ok"

    registry = JobRegistry.of([JobSpec("weekly-test", work, "week", "a test job")])
    assert run_job(runtime, registry, "weekly-test", "T1").status == "succeeded"
    assert seen == ["running"]
    with runtime.sessions() as session:
        assert session.scalar(select(JobRun.status)) == "succeeded"
        assert get_setting(session, workspace.id, "done") is True


def test_job_statuses_show_schedule_last_and_next_run(runtime, registry, clock, make_workspace):
    make_workspace("T1", time_zone="Europe/Berlin")
    two = make_workspace("T2", time_zone="Asia/Tokyo", paused=True)
    with runtime.sessions.begin() as session:
        set_setting(session, two.id, "schedule.weekly-test", "fri 16:30", by="U1", now=WEDNESDAY)
    run_job(runtime, registry, "weekly-test", "T1")
    rows = {row.team_id: row for row in job_statuses(runtime, registry, defaults())}
    assert rows["T1"].schedule == "mon 10:00"
    assert rows["T1"].last_run == "2026-W48 succeeded"
    assert rows["T1"].next_run == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert rows["T2"].schedule == "fri 16:30 (custom), paused"
    assert rows["T2"].last_run == "never"
    assert rows["T2"].next_run == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    only = job_statuses(runtime, registry, defaults(), team_id="T2")
    assert [row.team_id for row in only] == ["T2"]


def test_a_clock_tries_a_failed_run_again_only_after_a_wait(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1", time_zone="Europe/Berlin")
    scheduler = HeardScheduler(runtime, registry, defaults())
    recorder.fail_with = RuntimeError("slack is down")
    clock["value"] = datetime(2026, 11, 30, 9, 0, 10, tzinfo=UTC)
    assert [o.status for o in scheduler.tick()] == ["failed"]
    recorder.fail_with = None
    clock["value"] += timedelta(seconds=30)  # the next tick: too soon
    assert [o.status for o in scheduler.tick()] == ["skipped"] and recorder.runs == []
    assert run_job(runtime, registry, "weekly-test", "T1", trigger="manual").status == "succeeded"  # by hand: at once
    assert recorder.runs == [("T1", "2026-W49")]


def test_a_failed_scheduled_run_is_tried_again_after_the_wait(runtime, registry, recorder, clock, make_workspace):
    make_workspace("T1", time_zone="Europe/Berlin")
    scheduler = HeardScheduler(runtime, registry, defaults())
    recorder.fail_with = RuntimeError("slack is down")
    clock["value"] = datetime(2026, 11, 30, 9, 0, 10, tzinfo=UTC)
    scheduler.tick()
    recorder.fail_with = None
    clock["value"] += ledger.RETRY_FAILED_AFTER
    assert [o.status for o in scheduler.tick()] == ["succeeded"]


def test_a_clock_does_not_ask_the_ledger_again_for_a_period_it_knows_ran(runtime, registry, recorder, clock,
                                                                        make_workspace, monkeypatch):  # fmt: skip
    from bot.scheduler import runner

    make_workspace("T1", time_zone="Europe/Berlin")
    scheduler = HeardScheduler(runtime, registry, defaults())
    clock["value"] = datetime(2026, 11, 30, 9, 0, 10, tzinfo=UTC)
    assert [o.status for o in scheduler.tick()] == ["succeeded"]

    def no_more_claims(*args, **kwargs):
        raise AssertionError("the ledger was asked again")

    monkeypatch.setattr(runner, "run_job", no_more_claims)
    clock["value"] += timedelta(hours=1)
    assert [(o.status, o.detail) for o in scheduler.tick()] == [("skipped", "already ran for 2026-W49")]
