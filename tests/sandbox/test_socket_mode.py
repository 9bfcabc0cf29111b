"""Socket Mode over the fake Slack's real websocket: Heard connects with the app-level token,
answers envelopes as the HTTP path answers requests, and survives a lost connection."""

import json
import logging
import urllib.request
from dataclasses import dataclass
from urllib.error import HTTPError
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest
from sqlalchemy import func, select

from bot.app import build_app
from bot.db.models import InboxEvent
from bot.features.feedback import views
from bot.features.feedback.views import LOG_SHORTCUT
from bot.runtime import Runtime
from bot.sandbox.fake_socket import FakeSocketMode, SocketModeSender
from bot.sandbox.local_server import DrainableExecutor
from bot.settings import Settings, SlackMode
from bot.slack.socket_mode import SocketMode, SocketModeRefused
from bot.web import HealthServer
from tests.features.feedback.helpers import texts
from tests.features.feedback.room import Feedback
from tests.people import ACME, FEEDBACK, GENERAL, JONAS, MAYA, PRIYA, SAM, TOMAS

APP_TOKEN = "xapp-1-A0HEARD-1-sandbox"


def settings_for(db_url, fake_slack, acme, **overrides) -> Settings:
    return Settings(
        _env_file=None, database_url=db_url, slack_api_url=fake_slack.url,
        slack_bot_token=acme.bot_token, slack_app_token=APP_TOKEN, **overrides,
    )  # fmt: skip


@dataclass
class SocketHeard:
    """Heard in Socket Mode, in this process; shaped like `tests.fixtures.heard.HeardServer`
    so the feedback room's helpers drive it unchanged."""

    runtime: Runtime
    app: object
    connection: SocketMode
    sender: SocketModeSender
    listeners: DrainableExecutor


@pytest.fixture
def socket_mode(fake_slack):
    with FakeSocketMode(fake_slack, app_token=APP_TOKEN) as fake:
        yield fake


@pytest.fixture
def heard_socket(db_url, fake_slack, socket_mode, acme):
    started = []

    def start(**options) -> SocketHeard:
        runtime = Runtime.from_settings(settings_for(db_url, fake_slack, acme))
        listeners = DrainableExecutor()
        app = build_app(runtime, listener_executor=listeners)
        connection = SocketMode(runtime, app, check_interval=0.05, **options)
        started.append((connection, listeners, runtime))
        connection.start(timeout=5)
        socket_mode.wait_for_connections(
            len(started)
        )  # Heard saw the handshake end; now the fake has too
        sender = SocketModeSender(
            socket_mode, bot_user_id=acme.bot_user_id, response_url_factory=fake_slack.response_url
        )
        return SocketHeard(runtime, app, connection, sender, listeners)

    yield start
    for connection, listeners, runtime in started:
        connection.stop()
        listeners.shutdown(wait=True)
        runtime.engine.dispose()


# The transport's tests: the database is not what they are about, so SQLite alone.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def stored(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.body != "")
        )


def home_opened(user=MAYA):
    return {"type": "app_home_opened", "user": user, "channel": "D0MAYAHOME", "tab": "home"}


def test_socket_mode_app_answers_unsigned_socket_requests(db_url, fake_slack, acme):
    settings = settings_for(db_url, fake_slack, acme)
    assert settings.require_slack() is SlackMode.SOCKET
    runtime = Runtime.from_settings(settings)
    listeners = DrainableExecutor()
    app = build_app(runtime, listener_executor=listeners)
    url = fake_slack.response_url(acme.team_id)
    body = urlencode({"team_id": acme.team_id, "user_id": MAYA, "command": "/heard", "text": "help",
                      "channel_id": GENERAL, "response_url": url})  # fmt: skip
    response = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    assert response.status == 200
    listeners.drain()
    assert "/heard help" in fake_slack.responses(url)[-1]["text"]
    unknown = app.dispatch(
        BoltRequest(body=body.replace("text=help", "text=frob"), mode="socket_mode")
    )
    assert "Unknown command" in json.loads(unknown.body)["text"]  # answered in the ack itself
    listeners.shutdown(wait=True)
    assert "team.info" in [call.method for call in fake_slack.calls]  # the workspace was recorded
    runtime.engine.dispose()


def test_the_feedback_story_over_the_websocket(workspace, heard_socket, fake_slack, socket_mode):
    workspace(feedback_channels=[FEEDBACK])
    feedback = Feedback(heard_socket(), fake_slack)
    [link] = socket_mode.connections
    assert fake_slack.calls_to("apps.connections.open")[0].token == APP_TOKEN

    posted = feedback.post(SAM, "Brightline says the CSV export drops the time zone.")
    feedback.react(JONAS, posted["ts"], "eyes")
    item = feedback.item(posted["ts"])
    assert (item.status, item.acknowledged_by) == ("acknowledged", JONAS)

    reply = feedback.command("feedback Globex wants the report in Spanish source:phone", user=PRIYA)
    assert reply["response_type"] == "ephemeral" and "Logged" in reply["text"]

    message = fake_slack.post_as(
        SAM, GENERAL, "Fabrikam needs e-invoices or they leave at renewal."
    )
    sender = feedback.heard.sender
    feedback.interact(sender.message_shortcut_payload(team_id=ACME, user_id=TOMAS, callback_id=LOG_SHORTCUT,
                                                      channel_id=GENERAL, message=message))  # fmt: skip
    modal = fake_slack.opened_views()[-1]
    assert modal["callback_id"] == views.LOG_MODAL
    values = {
        views.CUSTOMER_INPUT: {
            views.CUSTOMER_INPUT: {"type": "plain_text_input", "value": "Fabrikam"}
        }
    }
    answer = feedback.interact(
        sender.view_submission_payload(team_id=ACME, user_id=TOMAS, view=modal, values=values)
    )
    assert answer.json()["response_action"] == "update" and "Logged" in texts(
        answer.json()["view"]
    )  # in the ack

    command_item = feedback.items()[1].id  # two people open its Resolve modal at once
    feedback.press(views.RESOLVE_ACTION, command_item, user=JONAS)
    feedback.press(views.RESOLVE_ACTION, command_item, user=PRIYA)
    first, second = fake_slack.opened_views()[-2:]
    note = {
        views.RESOLUTION_INPUT: {
            views.RESOLUTION_INPUT: {"type": "plain_text_input", "value": "Shipped"}
        }
    }
    closed = feedback.interact(
        sender.view_submission_payload(team_id=ACME, user_id=JONAS, view=first, values=note)
    )
    refused = feedback.interact(
        sender.view_submission_payload(team_id=ACME, user_id=PRIYA, view=second, values=note)
    )
    assert closed.body == b""  # the modal closes
    assert refused.json()["response_action"] == "errors"  # the modal's error, in the ack
    assert "already resolved by <@U0JONAS002>" in refused.json()["errors"][views.RESOLUTION_INPUT]

    assert [(i.source, i.customer) for i in feedback.items()] == [
        ("channel", None), ("command", None), ("shortcut", "Fabrikam")]  # fmt: skip
    assert {delivery.sends[0][0] for delivery in socket_mode.deliveries()} == {link}
    assert all(len(delivery.acks) == 1 for delivery in socket_mode.deliveries())


def test_an_envelope_whose_ack_was_lost_is_sent_again_and_stored_once(
    heard_socket, fake_slack, socket_mode
):
    heard = heard_socket()
    event = {"type": "event_callback", "team_id": ACME, "api_app_id": "A0HEARD", "event_id": "Ev0LOSTACK1",
             "event": home_opened(), "event_time": 1}  # fmt: skip
    delivery = socket_mode.deliver("events_api", event, ack_within=1.0, lose_acks=1)
    assert delivery.wait(10)
    heard.listeners.drain()
    assert [attempt for _, attempt in delivery.sends][:2] == [0, 1] and delivery.lost == 1
    assert stored(heard.runtime) == 1
    assert len(fake_slack.calls_to("views.publish")) == 1


@sqlite_only
@pytest.mark.parametrize("reason", ["refresh_requested", "link_disabled"])
def test_disconnect_reconnects_with_one_log_line_and_the_next_event_is_handled(
    heard_socket, fake_slack, socket_mode, caplog, reason
):
    heard = heard_socket()
    [first] = socket_mode.connections
    with caplog.at_level(logging.INFO, logger="bot.slack.socket_mode"):
        socket_mode.disconnect(reason, close_after=2.0)
        socket_mode.wait_until(lambda: socket_mode.connections not in ([], [first]))
        socket_mode.wait_until(
            lambda: socket_mode.connections[-1] != first and heard.connection.connected and reconnected(caplog)
        )
    [line] = [r.getMessage() for r in caplog.records if r.name.startswith("bot.slack.socket_mode")]
    assert line.startswith("Socket Mode reconnected after Slack") and f"({reason})" in line
    assert heard.sender.event(home_opened(), team_id=ACME).status == 200
    assert socket_mode.deliveries()[-1].sends[-1][0] != first
    heard.listeners.drain()
    assert len(fake_slack.calls_to("views.publish")) == 1


def reconnected(caplog) -> bool:
    """The reconnection's log line is written (just after the state says connected)."""
    return any(r.getMessage().startswith("Socket Mode reconnected") for r in caplog.records)


@sqlite_only
def test_a_closed_socket_is_reopened_and_the_next_event_handled(
    heard_socket, fake_slack, socket_mode, caplog
):
    heard = heard_socket()
    with caplog.at_level(logging.INFO, logger="bot.slack.socket_mode"):
        socket_mode.drop()
        socket_mode.wait_for_connections(1, opened=2)
        socket_mode.wait_until(lambda: heard.connection.connected and reconnected(caplog))
    [line] = [r.getMessage() for r in caplog.records if r.name.startswith("bot.slack.socket_mode")]
    assert line.startswith(
        "Socket Mode reconnected after ConnectionResetError: Slack closed the connection"
    )
    assert heard.sender.event(home_opened(), team_id=ACME).status == 200
    heard.listeners.drain()
    assert len(fake_slack.calls_to("views.publish")) == 1


@sqlite_only
def test_a_failed_first_try_is_not_the_reason_given_for_a_later_outage(
    heard_socket, socket_mode, caplog, monkeypatch
):
    real_open = socket_mode.open_connection
    tries = []

    def first_url_refuses(token):  # the first URL Slack hands out leads nowhere
        tries.append(token)
        return {"ok": True, "url": "ws://127.0.0.1:9/link/?ticket=gone"} if len(tries) == 1 else real_open(token)

    monkeypatch.setattr(socket_mode, "open_connection", first_url_refuses)
    heard = heard_socket()
    assert len(tries) == 2
    with caplog.at_level(logging.INFO, logger="bot.slack.socket_mode"):
        socket_mode.drop()
        socket_mode.wait_for_connections(1, opened=2)
        socket_mode.wait_until(lambda: heard.connection.connected and reconnected(caplog))
    [line] = [r.getMessage() for r in caplog.records if "reconnected" in r.getMessage()]
    assert line.startswith("Socket Mode reconnected after ConnectionResetError: Slack closed the connection"), line


@sqlite_only
def test_unanswered_pings_end_the_connection_and_heard_reconnects(heard_socket, socket_mode):
    heard = heard_socket(ping_interval=0.2)
    socket_mode.stop_answering_pings()
    socket_mode.wait_for_connections(1, opened=2)
    assert heard.sender.event(home_opened(), team_id=ACME).status == 200


@sqlite_only
def test_a_connection_closed_as_soon_as_it_opens_is_reopened_with_back_off(heard_socket, socket_mode):
    """A proxy (or Slack) that accepts the websocket and drops it at once: each reopening is a
    failed try, so the waits grow (0, 1, 2 s …) instead of one reconnection per check."""
    heard = heard_socket()
    dropped: set[int] = set()

    def drop_each_new_connection() -> bool:
        for link in socket_mode.connections:
            if link not in dropped:
                dropped.add(link)
                socket_mode.drop(link)
        return False

    # Opened at the start, then at once, after 1 s and after 2 s more (about 3 s in); the
    # next would be 4 s later. 5.5 s leaves the third reopening 2.5 s under a loaded machine
    # and ends 1.5 s before the fourth (without back-off: one every check, dozens).
    with pytest.raises(TimeoutError):
        socket_mode.wait_until(drop_each_new_connection, timeout=5.5)
    assert 3 <= socket_mode.opened <= 5
    drop_each_new_connection()
    socket_mode.wait_until(lambda: not heard.connection.connected)  # each drop noticed


@sqlite_only
def test_reconnecting_backs_off_while_slack_refuses_and_says_so_once(
    heard_socket, fake_slack, socket_mode, caplog
):
    heard = heard_socket()
    fake_slack.inject_fault(
        "apps.connections.open", status=500, times=3
    )  # one try: a call and its 2 retries
    with caplog.at_level(logging.INFO, logger="bot.slack.socket_mode"):
        socket_mode.drop()
        socket_mode.wait_for_connections(1, opened=2, timeout=20)
        socket_mode.wait_until(lambda: heard.connection.connected and reconnected(caplog))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.slack.socket_mode")]
    assert len(lines) == 2
    assert (
        lines[0].startswith("Socket Mode connection lost (ConnectionResetError")
        and "internal_error" in lines[0]
    )
    assert lines[1].startswith("Socket Mode reconnected after") and "failed tries" in lines[1]


@sqlite_only
def test_a_refused_app_token_fails_start_in_one_line(db_url, fake_slack, socket_mode, acme):
    runtime = Runtime.from_settings(settings_for(db_url, fake_slack, acme))
    app = build_app(runtime, listener_executor=DrainableExecutor())
    connection = SocketMode(runtime, app, app_token="xapp-1-A0HEARD-1-revoked")
    with pytest.raises(SocketModeRefused, match="Slack refused SLACK_APP_TOKEN: invalid_auth"):
        connection.start(timeout=2)
    connection.stop()
    runtime.engine.dispose()


@sqlite_only
def test_a_malformed_envelope_is_acknowledged_and_skipped(heard_socket, fake_slack, socket_mode):
    heard = heard_socket()
    broken = {
        "type": "event_callback",
        "team_id": ACME,
        "event_id": "Ev0BROKEN01",
        "event": "not an object",
    }
    delivery = socket_mode.deliver("events_api", broken)
    assert delivery.wait(5) and delivery.response is None
    action = socket_mode.deliver(
        "interactive", {"type": "block_actions", "user": "U0NOTANOBJ", "actions": []}
    )
    assert action.wait(5)
    assert stored(heard.runtime) == 0


@sqlite_only
def test_healthz_reports_the_socket(heard_socket, socket_mode):
    heard = heard_socket()
    server = HealthServer(heard.runtime, heard.connection.state, port=0, host="127.0.0.1").start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as answer:
            body = json.load(answer)
        assert (answer.status, body["ok"], body["database"], body["socket"]) == (
            200,
            True,
            "ok",
            "connected",
        )
        heard.connection.stop()
        with pytest.raises(HTTPError) as down:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert down.value.code == 503 and json.load(down.value)["socket"] == "closed"
    finally:
        server.stop()


def test_socket_mode_imports_with_a_bolt_that_has_no_build_headers():
    """pyproject allows slack-bolt>=1.21; `adapter.socket_mode.internals.build_headers` is a
    private helper of recent Bolts only (bolt-python #1498). Heard's Socket Mode must not
    need it: imported in a fresh interpreter with it gone, as on an older Bolt."""
    import subprocess
    import sys

    code = ("import slack_bolt.adapter.socket_mode.internals as internals\n"
            "del internals.build_headers\n"
            "import bot.slack.socket_mode\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
