"""The outbox against the fake Slack: once per key, retries, permanent failures, races."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import OutboxMessage
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import outbox
from tests.people import ARCHIVED, GENERAL

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


def test_a_brief_429_is_retried_by_the_client(slack_runtime, workspace, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=429, retry_after=0, times=1)
    post(slack_runtime, workspace, "k")
    assert outbox.deliver_due(slack_runtime).sent == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage", ok=True)) == 1


def test_lasting_rate_limit_reschedules_after_retry_after(slack_runtime, workspace, fake_slack, monkeypatch):
    import slack_sdk.http_retry.builtin_handlers as handlers

    monkeypatch.setattr(handlers.time, "sleep", lambda seconds: None)  # the client's back-off clock
    fake_slack.inject_fault("chat.postMessage", status=429, retry_after=42, times=10)
    post(slack_runtime, workspace, "k")
    report = outbox.deliver_due(slack_runtime)
    assert report.retrying == ["k"]
    message = rows(slack_runtime)["k"]
    assert (message.status, message.last_error) == ("pending", "ratelimited")
    assert message.not_before == NOW + timedelta(seconds=42)


def test_server_errors_back_off_then_succeed(slack_runtime, workspace, fake_slack, monkeypatch):
    import slack_sdk.http_retry.builtin_handlers as handlers

    monkeypatch.setattr(handlers.time, "sleep", lambda seconds: None)
    fake_slack.inject_fault("chat.postMessage", status=503, times=3)  # the client retries twice
    post(slack_runtime, workspace, "k")
    assert outbox.deliver_due(slack_runtime).retrying == ["k"]
    slack_runtime.now["value"] = NOW + timedelta(minutes=5)
    assert outbox.deliver_due(slack_runtime).sent == ["k"]
    assert len(fake_slack.calls_to("chat.postMessage", ok=True)) == 1


def test_permanent_errors_fail_at_once(slack_runtime, workspace, fake_slack):
    post(slack_runtime, workspace, "archived", channel=ARCHIVED)
    post(slack_runtime, workspace, "nowhere", channel="C0NOWHERE9")
    report = outbox.deliver_due(slack_runtime)
    assert sorted(report.failed) == ["archived", "nowhere"]
    found = rows(slack_runtime)
    assert found["archived"].last_error == "is_archived"
    assert found["nowhere"].last_error == "channel_not_found"


def test_two_deliverers_send_each_message_once(slack_runtime, workspace, fake_slack):
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


def test_an_interrupted_send_is_not_repeated(slack_runtime, workspace, fake_slack):
    message, _ = post(slack_runtime, workspace, "k")
    with slack_runtime.sessions.begin() as session:
        session.get(OutboxMessage, message.id).status = "sending"
        session.get(OutboxMessage, message.id).claimed_at = NOW
    slack_runtime.now["value"] = NOW + outbox.STALE_CLAIM + timedelta(seconds=1)
    assert outbox.deliver_due(slack_runtime).sent == []  # an event's delivery leaves the claim alone
    assert rows(slack_runtime)["k"].status == "sending"
    assert outbox.deliver_due(slack_runtime, sweep=True).sent == []  # the periodic sender settles it
    assert rows(slack_runtime)["k"].status == "failed"
    assert fake_slack.calls_to("chat.postMessage") == []


def test_uninstalled_workspace_messages_fail_without_a_call(engine, fake_slack, workspace):
    settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False), slack_client_id="1.2",
                        slack_client_secret="c", slack_signing_secret="s",
                        slack_api_url=fake_slack.url)  # fmt: skip
    runtime = Runtime(settings=settings, engine=engine, clock=lambda: NOW)
    post(runtime, workspace, "k")
    assert outbox.deliver_due(runtime).failed == ["k"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


class _SlackCall:
    """Stands in for the client for one call: `during()` runs while Slack "answers"."""

    def __init__(self, runtime, during):
        self.real = runtime.client_for
        self.during = during

    def __call__(self, team_id, enterprise_id=None):
        client = self.real(team_id, enterprise_id)
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
    assert (message.status, message.last_error) == ("failed", "interrupted while sending; not resent to avoid a duplicate")
