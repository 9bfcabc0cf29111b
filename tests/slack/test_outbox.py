"""The outbox against the fake Slack: once per key, retries, permanent failures, races."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import OutboxMessage, Workspace
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import outbox
from bot.slack.ratelimit import RateLimiter
from tests.people import ARCHIVED, GENERAL, SAM

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def slack_runtime(engine, fake_slack, acme):
    now = {"value": NOW}
    settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False), slack_bot_token=acme.bot_token,
                        slack_signing_secret="s", slack_api_url=fake_slack.url)  # fmt: skip
    runtime = Runtime(settings=settings, engine=engine, clock=lambda: now["value"])
    runtime.now = now
    return runtime


@pytest.fixture
def workspace(make_workspace, acme):
    return make_workspace(acme.team_id)


def post(runtime, workspace, key, channel=GENERAL, text="hello"):
    with runtime.sessions.begin() as session:
        return outbox.enqueue(session, workspace_id=workspace.id, key=key, method="chat.postMessage",
                              payload={"channel": channel, "text": text}, now=runtime.clock())  # fmt: skip


def rows(runtime):
    with runtime.sessions() as session:
        return {m.idempotency_key: m for m in session.scalars(select(OutboxMessage))}


def test_same_key_is_queued_and_sent_once(slack_runtime, workspace, fake_slack):
    _, created = post(slack_runtime, workspace, "greeting:T:U1")
    _, again = post(slack_runtime, workspace, "greeting:T:U1", text="hello again")
    assert (created, again) == (True, False)
    assert outbox.deliver_due(slack_runtime).sent == ["greeting:T:U1"]
    assert outbox.deliver_due(slack_runtime).sent == []
    [call] = fake_slack.calls_to("chat.postMessage", ok=True)
    assert call.args["text"] == "hello"
    message = rows(slack_runtime)["greeting:T:U1"]
    assert message.status == "sent" and message.result["ts"] == call.response["ts"]
    with slack_runtime.sessions() as session:
        assert outbox.sent_result(session, "greeting:T:U1")["channel"] == GENERAL


def test_not_yet_due_messages_wait(slack_runtime, workspace):
    with slack_runtime.sessions.begin() as session:
        outbox.enqueue(session, workspace_id=workspace.id, key="later", method="chat.postMessage",
                       payload={"channel": GENERAL, "text": "x"}, now=NOW,
                       not_before=NOW + timedelta(hours=1))  # fmt: skip
    assert outbox.deliver_due(slack_runtime).sent == []
    slack_runtime.now["value"] = NOW + timedelta(hours=1)
    assert outbox.deliver_due(slack_runtime).sent == ["later"]


def test_a_brief_429_is_retried_in_place(slack_runtime, workspace, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=429, retry_after=0, times=1)
    post(slack_runtime, workspace, "k")
    # Retry-After 0 is read as a second (bot.slack.client.MIN_RETRY_AFTER), which the
    # periodic sender waits out in place; a post an event queued waits less (HOT_PATH_WAIT).
    assert outbox.deliver_due(slack_runtime, sweep=True).sent == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage", ok=True)) == 1


def test_lasting_rate_limit_reschedules_after_retry_after(slack_runtime, workspace, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=429, retry_after=42, times=10)
    post(slack_runtime, workspace, "k")
    report = outbox.deliver_due(slack_runtime)
    assert report.retrying == ["k"]
    message = rows(slack_runtime)["k"]
    assert (message.status, message.last_error) == ("pending", "ratelimited")
    assert message.not_before == NOW + timedelta(seconds=42)
    assert message.attempts == 0  # a 429 is not one of the row's tries


def test_a_server_error_is_settled_from_history_not_resent_blindly(slack_runtime, workspace, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=503, times=1)  # refused: nothing posted
    post(slack_runtime, workspace, "k")
    assert outbox.deliver_due(slack_runtime).uncertain == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 0  # the client did not retry it
    assert outbox.deliver_due(slack_runtime).sent == []  # not before SETTLE_AFTER
    slack_runtime.now["value"] = NOW + outbox.SETTLE_AFTER
    assert outbox.deliver_due(slack_runtime).sent == ["k"]
    [history] = fake_slack.calls_to("conversations.history")
    assert history.args["include_all_metadata"] in ("1", "true", True)
    assert [m["text"] for m in fake_slack.messages(GENERAL) if m.get("text") == "hello"] == ["hello"]


@pytest.mark.parametrize("drop", [True, False], ids=["dropped-connection", "500"])
def test_a_post_slack_took_before_failing_is_found_in_history_and_not_resent(slack_runtime, workspace, fake_slack, drop):
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True, drop=drop)
    post(slack_runtime, workspace, "k")
    assert outbox.deliver_due(slack_runtime).uncertain == ["k"]
    [posted] = fake_slack.calls_to("chat.postMessage", ok=True)
    assert posted.args["metadata"] == {"event_type": "heard_outbox", "event_payload": {"key": "k"}}
    slack_runtime.now["value"] = NOW + outbox.SETTLE_AFTER
    assert outbox.deliver_due(slack_runtime).sent == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    message = rows(slack_runtime)["k"]
    assert message.result == {"channel": GENERAL, "ts": posted.response["ts"]}


def test_an_uncertain_dm_is_looked_for_in_the_opened_im(slack_runtime, workspace, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True, drop=True)
    post(slack_runtime, workspace, "dm", channel=SAM)
    outbox.deliver_due(slack_runtime)
    slack_runtime.now["value"] = NOW + outbox.SETTLE_AFTER
    assert outbox.deliver_due(slack_runtime).sent == ["dm"]
    assert [c.args["users"] for c in fake_slack.calls_to("conversations.open")] == [SAM]
    assert len(fake_slack.messages(SAM)) == 1


def test_a_reply_is_looked_for_in_its_thread(slack_runtime, workspace, fake_slack):
    parent = fake_slack.post_as(SAM, GENERAL, "a thread", team_id=workspace.team_id)
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True, drop=True)
    with slack_runtime.sessions.begin() as session:
        outbox.enqueue(session, workspace_id=workspace.id, key="reply", method="chat.postMessage",
                       payload={"channel": GENERAL, "text": "in thread", "thread_ts": parent["ts"]},
                       now=NOW)  # fmt: skip
    outbox.deliver_due(slack_runtime)
    slack_runtime.now["value"] = NOW + outbox.SETTLE_AFTER
    assert outbox.deliver_due(slack_runtime).sent == ["reply"]
    assert [c.args["ts"] for c in fake_slack.calls_to("conversations.replies")] == [parent["ts"]]
    assert len(fake_slack.thread(GENERAL, parent["ts"])) == 2


def test_history_heard_cannot_read_parks_the_post_after_its_tries(slack_runtime, workspace, fake_slack):
    slack_runtime.limiter = RateLimiter(speed=100)  # seven reads of history at once: not about pacing
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True, drop=True)
    fake_slack.inject_fault("conversations.history", status=403)
    post(slack_runtime, workspace, "k")
    outbox.deliver_due(slack_runtime)
    slack_runtime.now["value"] = NOW + outbox.SETTLE_AFTER
    outbox.deliver_due(slack_runtime)
    message = rows(slack_runtime)["k"]
    assert message.status == "uncertain"  # a 403 may pass: tried again later
    for _ in range(outbox.MAX_ATTEMPTS):
        fake_slack.inject_fault("conversations.history", status=403)
        slack_runtime.now["value"] += timedelta(hours=1)
        outbox.deliver_due(slack_runtime)
    assert rows(slack_runtime)["k"].status == "parked"
    assert len(fake_slack.calls_to("chat.postMessage", ok=True)) == 1  # never resent


def test_permanent_errors_park_at_once_and_tell_the_admins_once(slack_runtime, workspace, fake_slack, acme):
    with slack_runtime.sessions.begin() as session:
        session.get(Workspace, workspace.id).installer_user_id = SAM
    post(slack_runtime, workspace, "archived", channel=ARCHIVED)
    post(slack_runtime, workspace, "archived-2", channel=ARCHIVED)
    post(slack_runtime, workspace, "nowhere", channel="C0NOWHERE9")
    report = outbox.deliver_due(slack_runtime)
    assert sorted(report.parked) == ["archived", "archived-2", "nowhere"]
    outbox.deliver_due(slack_runtime)  # the admins' notes
    notes = [m["text"] for m in fake_slack.messages(SAM)]
    assert len(notes) == 2  # one per kind of error and day, not per post
    assert any("is_archived" in note and "heard outbox retry" in note for note in notes)
    assert any("channel_not_found" in note for note in notes)
    found = rows(slack_runtime)
    assert found["archived"].last_error == "is_archived"
    assert found["nowhere"].last_error == "channel_not_found"


def test_two_deliverers_send_each_message_once(slack_runtime, workspace, fake_slack):
    slack_runtime.limiter = RateLimiter(speed=100)  # six posts in one channel, at once
    for number in range(6):
        post(slack_runtime, workspace, f"k{number}", text=f"m{number}")
    barrier = threading.Barrier(3)

    def deliver():
        barrier.wait()
        outbox.deliver_due(slack_runtime)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    texts = sorted(call.args["text"] for call in fake_slack.calls_to("chat.postMessage", ok=True))
    assert texts == [f"m{number}" for number in range(6)]


def _interrupted(runtime, workspace, key):
    """A row a killed process left `sending`."""
    message, _ = post(runtime, workspace, key)
    with runtime.sessions.begin() as session:
        session.get(OutboxMessage, message.id).status = "sending"
        session.get(OutboxMessage, message.id).claimed_at = NOW
        session.get(OutboxMessage, message.id).claim_token = "dead"
    runtime.now["value"] = NOW + outbox.STALE_CLAIM + timedelta(seconds=1)


def test_an_interrupted_send_that_never_reached_slack_is_sent_once_settled(slack_runtime, workspace, fake_slack):
    _interrupted(slack_runtime, workspace, "k")
    assert outbox.deliver_due(slack_runtime).sent == []  # an event's delivery leaves the claim alone
    assert rows(slack_runtime)["k"].status == "sending"
    assert outbox.deliver_due(slack_runtime, sweep=True).sent == ["k"]  # the periodic sender settles it
    assert len(fake_slack.calls_to("conversations.history")) == 1
    assert len(fake_slack.calls_to("chat.postMessage", ok=True)) == 1


def test_an_interrupted_send_that_reached_slack_is_not_repeated(slack_runtime, workspace, fake_slack):
    _interrupted(slack_runtime, workspace, "k")
    client = slack_runtime.client_for(workspace.team_id)  # the killed process's post, made before it died
    posted = client.chat_postMessage(channel=GENERAL, text="hello",
                                     metadata={"event_type": "heard_outbox", "event_payload": {"key": "k"}})  # fmt: skip
    assert outbox.deliver_due(slack_runtime, sweep=True).sent == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert rows(slack_runtime)["k"].result["ts"] == posted["ts"]


def test_parked_rows_are_listed_and_queued_again(slack_runtime, workspace, fake_slack):
    post(slack_runtime, workspace, "nowhere", channel="C0NOWHERE9")
    post(slack_runtime, workspace, "fine")
    outbox.deliver_due(slack_runtime)
    [row] = outbox.parked(slack_runtime)
    assert (row.key, row.team_id, row.channel, row.last_error) == ("nowhere", workspace.team_id, "C0NOWHERE9",
                                                                   "channel_not_found")  # fmt: skip
    assert outbox.counts(slack_runtime) == {"sent": 1, "parked": 1}
    with slack_runtime.sessions.begin() as session:  # the channel was fixed: point the row at one that works
        outbox.rewrite_payloads(session, ["nowhere"], lambda key, payload: {**payload, "channel": GENERAL})
    assert outbox.retry(slack_runtime, ["nowhere"]) == 1
    assert outbox.retry(slack_runtime) == 0
    assert outbox.deliver_due(slack_runtime).sent == ["nowhere"]


def test_uninstalled_workspace_messages_fail_without_a_call(engine, fake_slack, workspace):
    settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False), slack_client_id="1.2",
                        slack_client_secret="c", slack_signing_secret="s",
                        slack_api_url=fake_slack.url)  # fmt: skip
    runtime = Runtime(settings=settings, engine=engine, clock=lambda: NOW)
    post(runtime, workspace, "k")
    assert outbox.deliver_due(runtime).parked == ["k"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


class _SlackCall:
    """Stands in for the client for one call: `during()` runs while Slack "answers"."""

    def __init__(self, runtime, during):
        self.real = runtime.client_for
        self.during = during

    def __call__(self, team_id, enterprise_id=None, *, posting=False):
        client = self.real(team_id, enterprise_id, posting=posting)
        during = self.during

        class Client:
            def api_call(self, method, json):
                during()
                return client.api_call(method, json=json)

        return Client()


def test_no_transaction_is_open_while_slack_answers(slack_runtime, workspace, fake_slack, monkeypatch):
    message, _ = post(slack_runtime, workspace, "k")
    seen = []

    def lock_the_row_elsewhere():  # fails at once if the sender's claim still held a lock
        with slack_runtime.engine.connect() as other:
            if other.dialect.name == "sqlite":
                other.exec_driver_sql("PRAGMA busy_timeout = 0")
                other.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                other.execute(select(OutboxMessage.id).where(OutboxMessage.id == message.id)
                              .with_for_update(nowait=True))  # fmt: skip
            seen.append("locked")
            other.rollback()

    monkeypatch.setattr(slack_runtime, "client_for", _SlackCall(slack_runtime, lock_the_row_elsewhere))
    assert outbox.deliver_due(slack_runtime).sent == ["k"]
    assert seen == ["locked"]


def test_an_answer_after_the_claim_was_settled_is_not_recorded(slack_runtime, workspace, fake_slack, monkeypatch):
    post(slack_runtime, workspace, "k")

    def settled_meanwhile():  # another process's sweep takes the claim for a dead one's
        later = NOW + outbox.STALE_CLAIM + timedelta(seconds=1)
        with slack_runtime.sessions.begin() as session:
            outbox._expire_stale_claims(session, later)

    monkeypatch.setattr(slack_runtime, "client_for", _SlackCall(slack_runtime, settled_meanwhile))
    outbox.deliver_due(slack_runtime)
    assert len(fake_slack.calls_to("chat.postMessage", ok=True)) == 1
    message = rows(slack_runtime)["k"]
    assert (message.status, message.last_error) == ("uncertain", "interrupted while sending; to be settled from history")


def test_heard_outbox_list_and_retry(slack_runtime, workspace, fake_slack, monkeypatch, capsys):
    from bot.cli import main

    post(slack_runtime, workspace, "nowhere", channel="C0NOWHERE9")
    outbox.deliver_due(slack_runtime)
    monkeypatch.setenv("DATABASE_URL", slack_runtime.engine.url.render_as_string(hide_password=False))
    assert _run(main, ["outbox", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "0 pending, 0 sending, 0 uncertain, 0 sent, 1 parked"
    assert lines[1].startswith(f"parked nowhere {workspace.team_id} chat.postMessage to C0NOWHERE9 queued ")
    assert lines[1].endswith("after 1 tries: channel_not_found")
    assert _run(main, ["outbox", "retry", "nowhere", "no-such-key"]) == 0
    out = capsys.readouterr().out
    assert "Queued 1 parked post(s) again" in out
    assert "1 of the posts named is not parked; heard outbox list shows those that are." in out
    assert outbox.counts(slack_runtime) == {"pending": 1}


def _run(main, args) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_a_claim_takes_at_most_its_batch(slack_runtime, workspace):
    for number in range(25):
        post(slack_runtime, workspace, f"k{number}")
    with slack_runtime.sessions.begin() as session:
        claimed = session.connection().execute(outbox._CLAIM, {"now": NOW, "n": 10, "token": "t"}).all()
    assert len(claimed) == 10  # on PostgreSQL `id IN (… LIMIT 10 FOR UPDATE SKIP LOCKED)` took all 25
    assert outbox.counts(slack_runtime) == {"sending": 10, "pending": 15}


def test_a_sweep_stops_at_its_budget_and_says_more_is_due(slack_runtime, workspace, monkeypatch):
    slack_runtime.limiter = RateLimiter(speed=100)
    monkeypatch.setattr(outbox, "SWEEP_BUDGET", 0.0)  # a SIGTERM'd worker waits for one batch, no more
    for number in range(outbox.BATCH + 3):
        post(slack_runtime, workspace, f"k{number}", channel=SAM if number % 2 else GENERAL)
    report = outbox.deliver_due(slack_runtime, sweep=True)
    assert (len(report.sent), report.more) == (outbox.BATCH, True)
    report = outbox.deliver_due(slack_runtime, sweep=True)
    assert (len(report.sent), report.more) == (3, False)


def test_a_rate_limit_on_history_is_waited_out_not_counted_as_a_try(slack_runtime, workspace, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True, drop=True)
    post(slack_runtime, workspace, "k")
    outbox.deliver_due(slack_runtime)
    for _ in range(outbox.MAX_ATTEMPTS + 2):  # Slack's strictest history limit: one read a minute
        fake_slack.inject_fault("conversations.history", status=429, retry_after=60)
        slack_runtime.now["value"] += timedelta(minutes=1, seconds=1)
        slack_runtime.limiter = RateLimiter()  # a minute on: the 429's hold has passed
        outbox.deliver_due(slack_runtime)
    message = rows(slack_runtime)["k"]
    assert (message.status, message.attempts) == ("uncertain", 1)
    slack_runtime.now["value"] += timedelta(minutes=1, seconds=1)
    slack_runtime.limiter = RateLimiter()
    assert outbox.deliver_due(slack_runtime).sent == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def _fake_time_limiter():
    """A limiter whose sleeps advance its own clock: waits cost no real time."""
    clock = {"t": 0.0}
    return RateLimiter(clock=lambda: clock["t"], sleep=lambda s: clock.__setitem__("t", clock["t"] + s))


def test_a_storm_of_brief_429s_is_not_retried_in_place_without_end(slack_runtime, workspace, fake_slack):
    slack_runtime.limiter = _fake_time_limiter()
    fake_slack.inject_fault("chat.postMessage", status=429, retry_after=1, times=100)
    post(slack_runtime, workspace, "k")
    report = outbox.deliver_due(slack_runtime, sweep=True)
    assert report.retrying == ["k"]  # the sweep moved on instead of asking 100 times
    message = rows(slack_runtime)["k"]
    assert (message.status, message.last_error, message.attempts) == ("pending", "ratelimited", 0)
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_storm_of_brief_429s_on_history_is_not_retried_in_place_without_end(slack_runtime, workspace, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True, drop=True)
    post(slack_runtime, workspace, "k")
    outbox.deliver_due(slack_runtime)
    slack_runtime.limiter = _fake_time_limiter()
    fake_slack.inject_fault("conversations.history", status=429, retry_after=1, times=100)
    slack_runtime.now["value"] = NOW + outbox.SETTLE_AFTER
    report = outbox.deliver_due(slack_runtime, sweep=True)
    assert report.uncertain == ["k"]
    assert rows(slack_runtime)["k"].status == "uncertain"
    assert fake_slack.calls_to("conversations.history") == []


def test_an_uncertain_post_parked_for_want_of_a_token_is_settled_from_history_when_retried(
    slack_runtime, engine, fake_slack, workspace
):
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True, drop=True)
    post(slack_runtime, workspace, "k")
    assert outbox.deliver_due(slack_runtime).uncertain == ["k"]  # Slack took it; Heard does not know
    settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False), slack_client_id="1.2",
                        slack_client_secret="c", slack_signing_secret="s",
                        slack_api_url=fake_slack.url)  # fmt: skip
    tokenless = Runtime(settings=settings, engine=engine, clock=lambda: NOW + outbox.SETTLE_AFTER)
    assert outbox.deliver_due(tokenless).parked == ["k"]  # the workspace's token was gone meanwhile
    slack_runtime.now["value"] = NOW + outbox.SETTLE_AFTER
    assert outbox.retry(slack_runtime, ["k"]) == 1  # reinstalled: an operator queues it again
    assert outbox.deliver_due(slack_runtime).sent == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # found in history, not posted twice


def test_the_workers_sender_outlives_a_sweep_that_fails(tmp_path, caplog):
    """`heard worker`'s loop: a sweep that raises (the database restarting, say) is logged,
    and the next one comes after the usual wait; the worker does not die of it."""
    from bot.cli import _send_queued

    unreachable = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/no/such/dir/heard.db",
                           slack_bot_token="xoxb-1", slack_signing_secret="s")  # fmt: skip
    runtime = Runtime.from_settings(unreachable)

    class TwoWaits(threading.Event):
        waits = 0

        def wait(self, timeout=None):
            self.waits += 1
            if self.waits == 2:
                self.set()
            return self.is_set()

    stop = TwoWaits()
    _send_queued(runtime, stop)
    assert stop.waits == 2  # two sweeps, both failed, neither ended the loop
    assert len([r for r in caplog.records if "sweep failed" in r.getMessage()]) == 2


def test_rows_a_slow_batch_reaches_after_its_claim_could_go_stale_are_given_back_not_sent(
    slack_runtime, workspace, fake_slack, monkeypatch
):
    """Slack answering slowly: by the time one claim's batch reaches its later rows, another
    process's sweep may have taken them as a dead sender's and settled (sent) them."""
    for number in range(3):
        post(slack_runtime, workspace, f"k{number}", text=f"m{number}")
    real, slow = slack_runtime.client_for, []

    def client_for(team_id, enterprise_id=None, *, posting=False):
        client = real(team_id, enterprise_id, posting=posting)

        class Client:
            def api_call(self, method, json):
                answer = client.api_call(method, json=json)
                if not slow:  # the first post took long: past the claim's lease, another sweep ran
                    slow.append(method)
                    slack_runtime.now["value"] += outbox.STALE_CLAIM + timedelta(seconds=1)
                    outbox.deliver_due(slack_runtime, sweep=True)
                return answer

            def __getattr__(self, name):
                return getattr(client, name)

        return Client()

    monkeypatch.setattr(slack_runtime, "client_for", client_for)
    outbox.deliver_due(slack_runtime)
    texts = sorted(call.args["text"] for call in fake_slack.calls_to("chat.postMessage", ok=True))
    assert texts == ["m0", "m1", "m2"]  # each once
    assert outbox.counts(slack_runtime) == {"sent": 3}


def test_a_post_slack_keeps_failing_with_5xx_is_parked_after_its_tries_not_retried_forever(
    slack_runtime, workspace, fake_slack
):
    slack_runtime.limiter = RateLimiter(speed=100)  # many history reads: not about pacing
    post(slack_runtime, workspace, "k")
    fake_slack.inject_fault("chat.postMessage", status=500, times=outbox.MAX_ATTEMPTS)  # refused: nothing posted
    for _ in range(3 * outbox.MAX_ATTEMPTS):
        if rows(slack_runtime)["k"].status == "parked":
            break
        outbox.deliver_due(slack_runtime)
        slack_runtime.now["value"] += outbox.SETTLE_AFTER
    message = rows(slack_runtime)["k"]
    assert message.status == "parked"
    assert message.attempts == outbox.MAX_ATTEMPTS + 1  # five posts tried, then one look in history
    assert fake_slack.calls_to("chat.postMessage") == []
    assert outbox.retry(slack_runtime, ["k"]) == 1  # not posted: queued as a plain post
    assert outbox.deliver_due(slack_runtime).sent == ["k"]


def share(runtime, workspace, key="chart", channel=GENERAL):
    """Upload a file and queue its share in `channel` (`files.completeUploadExternal`, as
    the digest's chart is); returns (row, file id)."""
    import urllib.request

    client = runtime.client_for(workspace.team_id)
    upload = client.files_getUploadURLExternal(filename="chart.png", length=3)
    urllib.request.urlopen(urllib.request.Request(upload["upload_url"], data=b"png", method="POST")).close()
    with runtime.sessions.begin() as session:
        message, _ = outbox.enqueue(session, workspace_id=workspace.id, key=key, now=runtime.clock(),
                                    method="files.completeUploadExternal",
                                    payload={"files": [{"id": upload["file_id"], "title": "Chart"}],
                                             "channel_id": channel})  # fmt: skip
    return message, upload["file_id"]


def test_an_interrupted_file_share_is_completed_not_parked_as_unsettleable(slack_runtime, workspace, fake_slack):
    """A dead sender's claim on a file share (the digest's chart; its payload names
    `channel_id`) is settled from that channel's history like a post: not there, it is made."""
    message, _ = share(slack_runtime, workspace)
    with slack_runtime.sessions.begin() as session:  # a killed process's claim, before its call
        row = session.get(OutboxMessage, message.id)
        row.status, row.claimed_at, row.claim_token = "sending", NOW, "dead"
    slack_runtime.now["value"] = NOW + outbox.STALE_CLAIM + timedelta(seconds=1)
    assert outbox.deliver_due(slack_runtime, sweep=True).sent == ["chart"]
    assert len(fake_slack.calls_to("files.completeUploadExternal", ok=True)) == 1


def test_a_file_share_slack_made_but_answered_500_is_found_in_history_not_parked(
    slack_runtime, workspace, fake_slack
):
    """Slack shared the file and answered 500: made again, the share would be refused
    (`file_not_found`: the file is no longer waiting) and, after its tries, reported to the
    admins as undelivered. It is looked for in the channel's history instead: found, sent."""
    with slack_runtime.sessions.begin() as session:
        session.get(Workspace, workspace.id).installer_user_id = SAM
    _, file_id = share(slack_runtime, workspace)
    fake_slack.inject_fault("files.completeUploadExternal", status=500, times=1, after_accepting=True)
    assert outbox.deliver_due(slack_runtime).uncertain == ["chart"]
    for _ in range(outbox.MAX_ATTEMPTS + 1):
        slack_runtime.now["value"] += timedelta(hours=1)
        outbox.deliver_due(slack_runtime)
    [shared] = [m for m in fake_slack.messages(GENERAL) if m.get("files")]
    assert [f["id"] for f in shared["files"]] == [file_id]
    message = rows(slack_runtime)["chart"]
    assert (message.status, message.result) == ("sent", {"channel": GENERAL, "ts": shared["ts"]})
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1  # never made again
    assert fake_slack.messages(SAM) == []  # no false alarm


def test_the_admins_note_on_a_file_share_names_its_channel(slack_runtime, workspace, fake_slack):
    with slack_runtime.sessions.begin() as session:
        session.get(Workspace, workspace.id).installer_user_id = SAM
    share(slack_runtime, workspace, channel=ARCHIVED)
    assert outbox.deliver_due(slack_runtime).parked == ["chart"]
    outbox.deliver_due(slack_runtime)  # the admins' note
    [note] = [m["text"] for m in fake_slack.messages(SAM)]
    assert f"a message to <#{ARCHIVED}>: `is_archived`" in note
    [row] = outbox.parked(slack_runtime)
    assert row.channel == ARCHIVED


def test_a_post_heard_could_not_confirm_is_not_called_undelivered(slack_runtime, workspace, fake_slack):
    """Slack took the post but answered 500, and its history could not be read for long: the
    row is parked unconfirmed. The admins hear that Heard could not confirm it, where to look
    and that `heard outbox retry` looks again before sending; a room reads it as unconfirmed."""
    slack_runtime.limiter = RateLimiter(speed=100)  # many history reads: not about pacing
    with slack_runtime.sessions.begin() as session:
        session.get(Workspace, workspace.id).installer_user_id = SAM
    post(slack_runtime, workspace, "k")
    fake_slack.inject_fault("chat.postMessage", status=500, times=1, after_accepting=True)
    fake_slack.inject_fault("conversations.history", status=500, times=10**6)
    for _ in range(3 * outbox.MAX_ATTEMPTS):
        if rows(slack_runtime)["k"].status == "parked":
            break
        outbox.deliver_due(slack_runtime)
        slack_runtime.now["value"] += timedelta(hours=1)
    with slack_runtime.sessions() as session:
        outcome = outbox.outcomes(session, ["k"])["k"]
    assert outcome.parked and outcome.unconfirmed
    outbox.deliver_due(slack_runtime)  # the admins' note
    [note] = [m["text"] for m in fake_slack.messages(SAM)]
    assert note.startswith(f"Heard could not confirm that a message to <#{GENERAL}> was delivered")
    assert "conversations.history: internal_error" in note and "could not deliver" not in note
    fake_slack.reset_calls()
    with slack_runtime.sessions.begin() as session:
        assert outbox.recheck(session, ["k"], now=slack_runtime.clock()) == 1
    assert outbox.deliver_due(slack_runtime).sent == ["k"]  # found in history
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_retired_row_is_never_sent_nor_queued_again_by_retry(slack_runtime, workspace, fake_slack):
    # A room that replaced a call with another (a story posted again under a new key) retires
    # the first: parked or waiting, it never goes out, `heard outbox retry` included; a sent
    # one is not the room's to retire.
    post(slack_runtime, workspace, "parked", channel="C0NOWHERE9")
    post(slack_runtime, workspace, "sent")
    outbox.deliver_due(slack_runtime)
    post(slack_runtime, workspace, "waiting")
    with slack_runtime.sessions.begin() as session:
        retired = [outbox.retire(session, key) for key in ("parked", "waiting", "sent", "no such key")]
    assert retired == [True, True, False, False]
    assert outbox.retry(slack_runtime) == 0
    assert outbox.deliver_due(slack_runtime).sent == []
    assert {key: (row.status, row.last_error) for key, row in rows(slack_runtime).items()} == {
        "parked": ("parked", outbox.RETIRED), "waiting": ("parked", outbox.RETIRED), "sent": ("sent", None)}
    assert len(fake_slack.calls_to("chat.postMessage", ok=True)) == 1
