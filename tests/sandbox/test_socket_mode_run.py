"""`heard run` in Socket Mode, as deployed: real processes on the fake Slack's websocket,
killed, restarted, and two of them sharing one app token."""

import json
import os
import signal
import sys
import time
import urllib.request

import pytest
from sqlalchemy import func, select

from bot.db import create_db_engine, session_factory
from bot.db.models import InboxEvent
from bot.features.feedback.models import FeedbackItem
from bot.sandbox.fake_socket import FakeSocketMode
from tests.people import ACME, FEEDBACK, HEARD, LENA, PRIYA, SAM, TOMAS
from tests.sandbox.test_heard_run import Process, free_port

APP_TOKEN = "xapp-1-A0HEARD-1-run"


@pytest.fixture
def socket_mode(fake_slack):
    with FakeSocketMode(fake_slack, app_token=APP_TOKEN) as fake:
        yield fake


@pytest.fixture
def heard_socket_run(tmp_path, db_url, fake_slack, socket_mode, acme, workspace):
    """Starts `heard run --no-scheduler` in Socket Mode on the test database, with
    #customer-feedback tracked; each call is one more process."""
    workspace(feedback_channels=[FEEDBACK])
    processes = []

    def start(**env_overrides) -> Process:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "HEARD_", "DATABASE", "PORT"))
        }
        env |= {
            "SLACK_BOT_TOKEN": acme.bot_token,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": fake_slack.url,
            "DATABASE_URL": db_url,
        } | env_overrides
        process = Process([sys.executable, "-m", "bot", "run", "--no-scheduler"], env, tmp_path)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait(timeout=30)


def message(event_id: str, ts: str, text: str, user: str = SAM) -> dict:
    """An events_api payload: a message posted in #customer-feedback."""
    return {
        "type": "event_callback", "team_id": ACME, "api_app_id": "A0HEARD", "event_id": event_id,
        "event_time": int(float(ts)), "authorizations": [{"team_id": ACME, "user_id": HEARD, "is_bot": True}],
        "event": {"type": "message", "channel": FEEDBACK, "user": user, "text": text, "ts": ts,
                  "channel_type": "channel", "team": ACME, "event_ts": ts},
    }  # fmt: skip


def await_true(check, timeout: float = 20.0) -> None:
    """Await a condition another process brings about (its rows in the database)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {timeout}s: {check}")
        time.sleep(0.05)


# SQLite: the restarted processor takes back the killed one's claim when it starts. On
# PostgreSQL, where several share the work, a dead processor's claim is taken over when its
# lease runs out (30 s; `bot.slack.inbox`), which tests/slack cover with an injected clock.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_killed_after_storing_before_acknowledging_then_restarted_processes_the_event_once(
    heard_socket_run, db_url, fake_slack, socket_mode
):
    port = free_port()
    first = heard_socket_run(PORT=str(port))
    first.await_line("Socket Mode connected")
    [link] = socket_mode.wait_for_connections(1)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        assert json.load(answer) | {"since": ""} == {
            "ok": True,
            "database": "ok",
            "socket": "connected",
            "since": "",
        }

    posted = fake_slack.post_as(
        SAM, FEEDBACK, "Brightline says the CSV export drops the time zone."
    )
    # Heard stores the event and acknowledges it; the acknowledgement is lost on the way,
    # so for Slack it is as if Heard died between the two. And then it does die.
    delivery = socket_mode.deliver(
        "events_api", message("Ev0KILLED01", posted["ts"], posted["text"]), lose_acks=1
    )
    engine = create_db_engine(db_url)
    sessions = session_factory(engine)

    def count(query):
        with sessions() as session:
            return session.scalar(query)

    stored = (
        select(func.count()).select_from(InboxEvent).where(InboxEvent.event_id == "Ev0KILLED01")
    )
    await_true(lambda: count(stored) == 1)
    first.popen.send_signal(signal.SIGKILL)
    assert first.popen.wait(timeout=30) == -signal.SIGKILL
    assert not delivery.acked and delivery.lost == 1

    second = heard_socket_run()
    second.await_line("Socket Mode connected")
    assert delivery.wait(
        20
    )  # sent again (retry_attempt 1) once the 3 s were up, to the new process
    assert [attempt for _, attempt in delivery.sends][-1] >= 1 and delivery.sends[-1][0] != link
    done = select(func.count()).select_from(InboxEvent).where(InboxEvent.event_id == "Ev0KILLED01",
                                                               InboxEvent.status == "done")  # fmt: skip
    await_true(lambda: count(done) == 1)
    assert count(stored) == 1
    assert count(select(func.count()).select_from(FeedbackItem)) == 1
    assert second.stop() == 0  # SIGTERM: closes the socket and exits
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_processes_on_one_app_token_handle_each_event_once(
    heard_socket_run, db_url, fake_slack, socket_mode
):
    processes = [heard_socket_run(), heard_socket_run()]
    for process in processes:
        process.await_line("Socket Mode connected")
    links = socket_mode.wait_for_connections(2)
    deliveries = []
    for number, user in enumerate((SAM, PRIYA, TOMAS, LENA)):
        posted = fake_slack.post_as(user, FEEDBACK, f"Customer {number} wants an offline mode.")
        event = message(f"Ev0TWICE{number:03d}", posted["ts"], posted["text"], user=user)
        # Slack sends an event to one connection; a retry may reach the other one.
        deliveries += [socket_mode.deliver("events_api", event),
                       socket_mode.deliver("events_api", event, retry_attempt=1, retry_reason="timeout")]  # fmt: skip
    assert all(delivery.wait(20) for delivery in deliveries)
    assert {delivery.sends[0][0] for delivery in deliveries} == set(
        links
    )  # both processes got envelopes
    engine = create_db_engine(db_url)
    with session_factory(engine)() as session:
        await_true(lambda: session.scalar(select(func.count()).select_from(InboxEvent)
                                          .where(InboxEvent.status == "done", InboxEvent.body != "")) == 4)  # fmt: skip
        items = session.scalars(select(FeedbackItem.message_ts)).all()
    assert sorted(items) == sorted({delivery.payload["event"]["ts"] for delivery in deliveries})
    for process in processes:
        assert process.stop() == 0
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refused_app_token_stops_run_with_one_line_and_exit_1(heard_socket_run):
    process = heard_socket_run(SLACK_APP_TOKEN="xapp-1-A0HEARD-1-revoked")
    lines = process.output()
    assert lines[-1] == "heard: Slack refused SLACK_APP_TOKEN: invalid_auth"
    assert not any("Traceback" in line for line in lines)
    assert process.popen.returncode == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigterm_while_the_first_connection_is_still_being_tried_stops_at_once(heard_socket_run, fake_slack):
    fake_slack.inject_fault("apps.connections.open", status=500, times=1000)  # Slack unreachable for now
    process = heard_socket_run()
    process.await_line("cannot connect to Slack in Socket Mode yet")
    process.popen.send_signal(signal.SIGTERM)
    assert process.popen.wait(timeout=8) == 0  # not after start's 30 s of tries, nor as a failure
    assert not any("Traceback" in line for line in process.output())
