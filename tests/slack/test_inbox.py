"""The inbox: an event stored once, processed in batches, retried with back-off, parked."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, text

from bot.db import unit
from bot.db.models import InboxEvent, WorkspaceSetting
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import client, inbox
from bot.slack.client import make_client
from bot.slack.inbox import InboxProcessor, InboxStatus
from bot.workspace_settings import setting_values
from bot.workspaces import WorkspaceInfo, record_install, set_setting
from tests.people import FEEDBACK

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def runtime(db_url):
    clock = Clock()
    runtime = Runtime.from_settings(Settings(_env_file=None, database_url=db_url), clock=clock)
    yield runtime
    runtime.engine.dispose()


def store(runtime, event_id: str, body: str = "{}") -> bool:
    return inbox.store(runtime, event_id=event_id, team_id="T1", body=body, now=runtime.clock())


def rows(runtime) -> dict[str, tuple]:
    with runtime.sessions() as session:
        return {r.event_id: (r.status, r.attempts) for r in session.scalars(select(InboxEvent))}


def test_an_event_is_stored_once_whoever_delivers_it(runtime):
    assert store(runtime, "Ev1", '{"a": 1}')
    assert not store(runtime, "Ev1", '{"a": 2}')  # Slack's retry, or a second process
    with runtime.sessions() as session:
        assert session.get(InboxEvent, "Ev1").body == '{"a": 1}'


def test_a_connection_the_server_dropped_costs_no_event(runtime):
    # No pre-ping: the pooled connections die with a server restart, and the first insert
    # after it meets one. The event must still be stored before Slack gets its answer.
    assert store(runtime, "Ev1")
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    with runtime.engine.connect() as one, runtime.engine.connect() as two:  # the pool holds two: both die
        pids = [one.execute(text("SELECT pg_backend_pid()")).scalar_one(),
                two.execute(text("SELECT pg_backend_pid()")).scalar_one()]  # fmt: skip
    with create_engine(runtime.engine.url, isolation_level="AUTOCOMMIT").connect() as admin:
        killed = admin.execute(text("SELECT count(pg_terminate_backend(pid)) FROM unnest(:pids) AS pid"),
                               {"pids": pids}).scalar_one()  # fmt: skip
    assert killed == 2
    assert store(runtime, "Ev2") and store(runtime, "Ev3")
    assert not store(runtime, "Ev2")
    assert set(rows(runtime)) == {"Ev1", "Ev2", "Ev3"}


def test_processing_takes_batches_oldest_first_and_marks_them_done(runtime):
    seen = []
    processor = InboxProcessor(runtime, lambda body: seen.append(body), submit=lambda fn: fn())
    for n in range(inbox.BATCH + 5):
        runtime.clock.now = NOW + timedelta(seconds=n)
        store(runtime, f"Ev{n:03}", str(n))
    assert processor.run_pending() == inbox.BATCH + 5
    assert seen == [str(n) for n in range(inbox.BATCH + 5)]
    assert set(rows(runtime).values()) == {(InboxStatus.DONE, 0)}
    assert processor.run_pending() == 0


def test_a_failing_event_is_retried_with_back_off_then_parked_and_others_go_on(runtime):
    def dispatch(body):
        return "boom" if body == "bad" else None

    processor = InboxProcessor(runtime, dispatch, submit=lambda fn: fn())
    store(runtime, "EvBad", "bad")
    store(runtime, "EvGood", "good")
    processor.run_pending()
    assert rows(runtime) == {"EvBad": (InboxStatus.PENDING, 1), "EvGood": (InboxStatus.DONE, 0)}
    assert processor.run_pending() == 0  # not due before its back-off
    for attempt in range(2, inbox.MAX_ATTEMPTS + 1):
        runtime.clock.now += inbox.backoff(attempt - 1)
        assert processor.run_pending() == 1
    assert rows(runtime)["EvBad"] == (InboxStatus.PARKED, inbox.MAX_ATTEMPTS)
    [parked] = inbox.parked(runtime)
    assert (parked.event_id, parked.last_error) == ("EvBad", "boom")
    runtime.clock.now += timedelta(days=1)
    assert processor.run_pending() == 0  # parked stays parked
    assert inbox.retry(runtime, ["EvBad"]) == 1
    assert rows(runtime)["EvBad"] == (InboxStatus.PENDING, 0)


@pytest.mark.timeout(20)  # slack_sdk's own handler would sleep 60 s or more here
def test_a_read_slack_rate_limits_puts_its_event_back_for_retry_after_and_the_rest_go_on(runtime, fake_slack, acme):
    # Slack allows some methods one call a minute (apps outside the Marketplace): a read in
    # an event's listener meets a 429 asking for 60 s. Slept out (up to three times), it held
    # every event behind it for minutes and let the batch's leases run out. The event waits
    # instead, in the inbox, as long as Slack asked, without counting a try toward parking.
    client = make_client(acme.bot_token, fake_slack.url)

    def dispatch(body):
        if body == "read":
            client.conversations_history(channel=FEEDBACK, limit=1)

    processor = InboxProcessor(runtime, dispatch, submit=lambda fn: fn())
    fake_slack.inject_fault("conversations.history", status=429, retry_after=60, times=inbox.MAX_ATTEMPTS + 1)
    store(runtime, "EvRead", "read")
    for n in range(3):
        store(runtime, f"Ev{n}", "other")
    for _ in range(inbox.MAX_ATTEMPTS + 1):  # Slack keeps saying "not now": still no parking
        assert processor.run_pending() >= 1
        assert processor.run_pending() == 0  # not before Slack's Retry-After
        runtime.clock.now += timedelta(seconds=60)
    with runtime.sessions() as session:
        row = session.get(InboxEvent, "EvRead")
        assert (row.status, row.attempts) == (InboxStatus.PENDING, 0)
        assert row.last_error == "conversations.history: ratelimited, Retry-After 60 s"
    asked = [call.status for call in fake_slack.calls if call.method == "conversations.history"]
    assert asked == [429] * (inbox.MAX_ATTEMPTS + 1)  # one call a try, none slept out and repeated
    assert runtime.limiter.acquire("T1", "conversations.history", max_wait=0) > 59  # the outbox waits too
    assert processor.run_pending() == 1
    assert set(rows(runtime).values()) == {(InboxStatus.DONE, 0)}


@pytest.mark.parametrize(("asked", "held"), [(0, client.MIN_RETRY_AFTER), (315360000, client.MAX_RETRY_AFTER),
                                             (10**15, client.MAX_RETRY_AFTER)])  # fmt: skip
def test_a_retry_after_out_of_bounds_is_held_to_them(runtime, fake_slack, acme, asked, held):
    # Retry-After 0 had the event retried at once, pass after pass, for as long as Slack said
    # no; ten years held the event (and the method, for the whole workspace) ten years; and
    # 10**15 seconds overflowed the date it was added to, which stopped processing silently.
    reader = make_client(acme.bot_token, fake_slack.url)

    def dispatch(body):
        reader.conversations_history(channel=FEEDBACK, limit=1)

    processor = InboxProcessor(runtime, dispatch, submit=lambda fn: fn())
    fake_slack.inject_fault("conversations.history", status=429, retry_after=asked, times=2)
    store(runtime, "EvRead")
    assert processor.run_pending() == 1
    assert processor.run_pending() == 0
    with runtime.sessions() as session:
        row = session.get(InboxEvent, "EvRead")
        assert (row.status, row.attempts) == (InboxStatus.PENDING, 0)
        assert row.not_before.replace(tzinfo=UTC) == NOW + timedelta(seconds=held)
    assert runtime.limiter.acquire("T1", "conversations.history", max_wait=0) < held + 5  # not ten years


def test_a_put_back_or_a_counted_try_stays_whatever_the_next_event_in_its_batch_does(runtime, fake_slack, acme):
    # The put-back (and a failure's counted try) was written after its unit had rolled back,
    # in the batch's transaction but as no unit of it: the next event's failure rolled it
    # back too and ran nothing again, so the row stayed claimed until its lease ran out,
    # then went back to Slack before Retry-After, and a failing event's tries went uncounted.
    reader = make_client(acme.bot_token, fake_slack.url)

    def dispatch(body):
        if body == "read":
            reader.conversations_history(channel=FEEDBACK, limit=1)
        return "boom" if body == "bad" else None

    processor = InboxProcessor(runtime, dispatch, submit=lambda fn: fn())
    fake_slack.inject_fault("conversations.history", status=429, retry_after=60, times=3)
    for n, body in enumerate(["read", "bad", "read", "good", "bad", "bad", "read"]):
        store(runtime, f"Ev{n}", body)
    assert processor.run_pending() == 7
    assert rows(runtime) == {"Ev0": (InboxStatus.PENDING, 0), "Ev1": (InboxStatus.PENDING, 1),
                             "Ev2": (InboxStatus.PENDING, 0), "Ev3": (InboxStatus.DONE, 0),
                             "Ev4": (InboxStatus.PENDING, 1), "Ev5": (InboxStatus.PENDING, 1),
                             "Ev6": (InboxStatus.PENDING, 0)}  # fmt: skip


def test_a_processing_pass_that_fails_says_so(runtime, monkeypatch, caplog):
    # The pass runs in an executor whose future nobody reads: its exception was lost, and
    # processing stopped without a line in the log.
    def broken(_clock):
        raise OverflowError("date value out of range")

    processor = InboxProcessor(runtime, lambda body: None, submit=lambda fn: fn())
    processor.gather = 0
    store(runtime, "Ev1")
    monkeypatch.setattr(Clock, "__call__", broken)
    with pytest.raises(OverflowError):
        processor.wake()
    assert "an inbox processing pass failed" in caplog.text
    assert "OverflowError: date value out of range" in caplog.text


def test_a_dispatcher_that_raises_counts_as_a_failure(runtime):
    def dispatch(body):
        raise RuntimeError("bug")

    store(runtime, "Ev1")
    InboxProcessor(runtime, dispatch, submit=lambda fn: fn()).run_pending()
    with runtime.sessions() as session:
        row = session.get(InboxEvent, "Ev1")
    assert (row.status, row.attempts, row.last_error) == (InboxStatus.PENDING, 1, "RuntimeError: bug")


def test_a_claim_held_by_a_live_processor_is_left_and_a_dead_ones_is_taken_over(runtime):
    store(runtime, "Ev1")
    assert [c.event_id for c in inbox.claim(runtime, "dead-process", now=NOW)] == ["Ev1"]
    assert inbox.claim(runtime, "other", now=NOW + inbox.STALE_CLAIM / 2) == []  # its lease holds
    taken = inbox.claim(runtime, "other", now=NOW + inbox.STALE_CLAIM + timedelta(seconds=1))
    assert [c.event_id for c in taken] == ["Ev1"]
    with runtime.sessions.begin() as session:  # the old claim can no longer finish it
        assert not inbox.finish(session, "Ev1", "dead-process", now=NOW)
    assert rows(runtime)["Ev1"] == (InboxStatus.PROCESSING, 0)
    with runtime.sessions.begin() as session:
        assert inbox.finish(session, "Ev1", "other", now=NOW)
    assert rows(runtime)["Ev1"] == (InboxStatus.DONE, 0)


def test_a_claim_on_postgresql_does_not_wait_for_the_disk_and_leaves_the_connection_waiting(runtime):
    # A claim is a lease: its commit need not wait for the disk. The event's own insert
    # (and the batch's commit) must still wait, on the same pooled connections.
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no synchronous_commit")
    store(runtime, "Ev1")
    values = {"now": NOW, "stale_before": NOW - inbox.STALE_CLAIM, "n": 5, "claimer": "w", "claimed": NOW}
    with runtime.engine.connect() as connection:
        with connection.begin():
            claimed = connection.execute(inbox._CLAIM_WITHOUT_WAITING, values).all()
            assert [row.event_id for row in claimed] == ["Ev1"]
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "off"
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
    store(runtime, "Ev2")
    assert [c.event_id for c in inbox.claim(runtime, "w", now=NOW)] == ["Ev2"]
    for _ in range(3):  # every connection the pool holds
        with runtime.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"


def test_a_wake_during_a_pass_is_not_lost(runtime):
    runs = []
    pending = []

    def dispatch(body):
        runs.append(body)
        if body == "first":  # another arrives while the first pass is busy (from a request
            # thread: on SQLite it waits for the unit of work to commit)
            arriving = threading.Thread(target=store, args=(runtime, "Ev2", "second"))
            arriving.start()
            unit.on_commit(arriving.join)
            processor.wake()  # running: remembered, not started twice

    processor = InboxProcessor(runtime, dispatch, submit=pending.append)
    store(runtime, "Ev1", "first")
    processor.wake()
    processor.wake()  # a second wake before the pass starts adds nothing
    assert len(pending) == 1
    pending.pop()()
    assert runs == ["first", "second"] and pending == []


def test_a_busy_processor_renews_its_lease_on_the_rest_of_its_batch(runtime):
    def dispatch(body):
        runtime.clock.now += inbox.STALE_CLAIM / 2  # each event takes half a lease
        if body == "2":  # by now a lease taken at the start would have run out; it was renewed
            with runtime.engine.connect() as other:  # what another processor would see
                leases = other.execute(select(InboxEvent.claimed_at).where(InboxEvent.event_id.in_(["Ev2", "Ev3"])))
                assert all(at > runtime.clock.now - inbox.STALE_CLAIM for (at,) in leases)

    for n in range(4):
        store(runtime, f"Ev{n}", str(n))
    assert InboxProcessor(runtime, dispatch, submit=lambda fn: fn()).run_pending() == 4


def test_sqlites_processor_takes_back_a_killed_ones_claims_when_it_starts(runtime):
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's processors wait for the lease to run out")
    store(runtime, "Ev1")
    inbox.claim(runtime, "killed", now=NOW)
    processor = InboxProcessor(runtime, lambda body: None, submit=lambda fn: fn())
    processor.start(interval=3600)
    processor.stop()
    assert rows(runtime)["Ev1"] == (InboxStatus.DONE, 0)


def test_stopping_leaves_the_rest_for_the_next_start(runtime):
    handled = []

    def dispatch(body):
        handled.append(body)
        processor.stop()  # SIGTERM arrives during the first event

    processor = InboxProcessor(runtime, dispatch, submit=lambda fn: fn())
    store(runtime, "Ev1", "1")
    store(runtime, "Ev2", "2")
    processor.run_pending()
    assert handled == ["1"]
    assert rows(runtime)["Ev2"] == (InboxStatus.PENDING, 0)
    later = InboxProcessor(runtime, lambda body: handled.append(body), submit=lambda fn: fn())
    assert later.run_pending() == 1 and handled == ["1", "2"]


def test_done_rows_are_forgotten_a_day_later(runtime):
    store(runtime, "Ev1")
    InboxProcessor(runtime, lambda body: None, submit=lambda fn: fn()).run_pending()
    assert inbox.forget_done(runtime) == 0
    runtime.clock.now += inbox.KEEP_DONE + timedelta(minutes=1)
    assert inbox.forget_done(runtime) == 1


def test_an_events_writes_and_its_row_marked_done_commit_together(runtime):
    with runtime.sessions.begin() as session:
        workspace_id = record_install(session, WorkspaceInfo(team_id="T1", name="Acme"), NOW).id

    def dispatch(body):  # what a listener does: write, then maybe fail
        with runtime.sessions.begin() as session:
            set_setting(session, workspace_id, body, True, by=None, now=NOW)
        return "a listener failed" if body == "fails" else None

    for n, body in enumerate(["works", "fails", "works too"]):
        store(runtime, f"Ev{n}", body)
    InboxProcessor(runtime, dispatch, submit=lambda fn: fn()).run_pending()

    with runtime.sessions() as session:
        assert {key for key, _ in setting_values(session, workspace_id).items()} == {"works", "works too"}
    assert rows(runtime) == {"Ev0": (InboxStatus.DONE, 0), "Ev1": (InboxStatus.PENDING, 1), "Ev2": (InboxStatus.DONE, 0)}


def test_a_write_left_for_the_batch_that_fails_blames_only_its_own_event(runtime):
    # The writes kept for the batch (`unit.write_later`) fail at the commit, when no single
    # event can be told at fault: every event of the batch runs again, alone, and only the
    # one whose write breaks a constraint is retried later.
    with runtime.sessions.begin() as session:
        workspace_id = record_install(session, WorkspaceInfo(team_id="T1", name="Acme"), NOW).id
        set_setting(session, workspace_id, "taken", 0, by=None, now=NOW)
    insert = WorkspaceSetting.__table__.insert()

    def dispatch(body):
        with runtime.sessions.begin() as session:
            unit.write_later(session, insert, {"workspace_id": workspace_id, "key": body, "value": 1, "updated_at": NOW})

    for n, body in enumerate(["first", "taken", "third"]):
        store(runtime, f"Ev{n}", body)
    InboxProcessor(runtime, dispatch, submit=lambda fn: fn()).run_pending()

    with runtime.sessions() as session:
        assert setting_values(session, workspace_id) == {"taken": 0, "first": 1, "third": 1}
    assert rows(runtime) == {"Ev0": (InboxStatus.DONE, 0), "Ev1": (InboxStatus.PENDING, 1), "Ev2": (InboxStatus.DONE, 0)}


@pytest.mark.parametrize(("gaps_ms", "expected"), [
    ([2] * 10, True),  # 500 events/s
    ([5] * 7, True),  # 200/s: 8 events within 35 ms
    ([10] * 10, False),  # 100/s, the steady rate Slack sends a busy workspace
    ([1] * 6, False),  # 7 events are not yet a burst
])  # fmt: skip
def test_a_burst_is_eight_events_within_forty_milliseconds(gaps_ms, expected):
    wakes = [0.0]
    for gap in gaps_ms:
        wakes.append(wakes[-1] + gap / 1000)
    assert inbox.bursting(wakes, now=wakes[-1]) is expected
    assert not inbox.bursting(wakes, now=wakes[-1] + 0.05)  # and it is over once they stop


def test_a_burst_that_goes_on_holds_processing_back_for_a_share_of_the_time_only(runtime, monkeypatch):
    # A burst of hours must not hold the backlog back for hours: between batches the
    # processor waits DEFER_SHARE times its last batch's time, never more than a second.
    now, waits = [100.0], []

    def dispatch(body: str) -> None:
        now[0] += 0.01  # each event takes 10 ms

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        now[0] += seconds
        return False

    processor = InboxProcessor(runtime, dispatch, submit=lambda fn: fn())
    processor.monotonic = lambda: now[0]
    monkeypatch.setattr(processor._stopping, "wait", wait)
    monkeypatch.setattr(inbox, "bursting", lambda wakes, at: True)  # it never eases
    monkeypatch.setattr(inbox, "BATCH", 3)  # a full batch: the processor looks for more
    for n in range(3):
        store(runtime, f"Ev{n}")
    assert processor.run_pending() == 3
    assert processor._last_batch == pytest.approx(0.03)
    tick = inbox.BURST[1] / inbox.BURST[0]
    assert inbox.DEFER_SHARE * 0.03 <= sum(waits) <= inbox.DEFER_SHARE * 0.03 + tick + 1e-9  # then it looked again

    waits.clear()
    processor._last_batch = 60.0  # however slow the last batch was
    processor._hold_back_for_burst()
    assert inbox.MAX_DEFER_SECONDS <= sum(waits) <= inbox.MAX_DEFER_SECONDS + tick + 1e-9


def test_a_claim_takes_at_most_its_batch(runtime):
    for number in range(inbox.BATCH * 2 + 5):
        store(runtime, f"Ev{number:03d}")
    taken = inbox.claim(runtime, "one", now=NOW)
    assert len(taken) == inbox.BATCH  # on PostgreSQL `event_id IN (… LIMIT n FOR UPDATE SKIP LOCKED)` took nearly all
    assert len(inbox.claim(runtime, "two", now=NOW)) == inbox.BATCH
