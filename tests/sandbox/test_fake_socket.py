"""The fake Slack's Socket Mode, driven by slack_sdk's own SocketModeClient, unmodified."""

import queue

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.sandbox.fake_socket import FakeSocketMode, SocketModeSender
from tests.people import ACME, GENERAL, MAYA

APP_TOKEN = "xapp-1-A0HEARD-1-fake"


@pytest.fixture
def socket_mode(fake_slack):
    with FakeSocketMode(fake_slack, app_token=APP_TOKEN, ack_seconds=0.5) as fake:
        yield fake


@pytest.fixture
def client(fake_slack, socket_mode):
    """slack_sdk's built-in client; it acknowledges what `answers` says, and records the rest."""
    received = queue.Queue()
    answers = {}  # envelope type -> ack payload, or False for no ack at all

    def listener(client, request):
        received.put(request)
        answer = answers.get(request.type)
        if answer is not False:
            client.send_socket_mode_response(
                SocketModeResponse(request.envelope_id, payload=answer)
            )

    client = SocketModeClient(
        APP_TOKEN, web_client=WebClient(base_url=fake_slack.url), ping_interval=60
    )
    client.socket_mode_request_listeners.append(listener)
    client.received, client.answers = received, answers
    client.connect()
    yield client
    close_quickly(client, socket_mode)


def close_quickly(client, socket_mode):
    """close(), without waiting out the SDK's read timeout (3 s) and queue poll (1 s)."""
    for link in socket_mode.connections:
        socket_mode.drop(link)
    client.closed = True  # what close() sets first; the None below then ends the queue's wait
    client.message_queue.put(None)
    client.close()


def test_apps_connections_open_wants_an_app_level_token(fake_slack, socket_mode, acme):
    with pytest.raises(SlackApiError) as refused:
        WebClient(base_url=fake_slack.url, token=acme.bot_token).apps_connections_open(
            app_token=acme.bot_token
        )
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as unknown:
        WebClient(base_url=fake_slack.url).apps_connections_open(app_token="xapp-1-A0OTHER-1-nope")
    assert unknown.value.response["error"] == "invalid_auth"
    url = WebClient(base_url=fake_slack.url).apps_connections_open(app_token=APP_TOKEN)["url"]
    assert url.startswith(f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=")


def test_hello_then_each_envelope_kind_with_its_ack_payload(socket_mode, client):
    [link] = socket_mode.wait_for_connections(1)
    assert socket_mode.sent[0] == (link, {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0HEARD"},
                                          "debug_info": socket_mode.sent[0][1]["debug_info"]})  # fmt: skip
    client.answers["slash_commands"] = {"text": "Commands: …"}
    sender = SocketModeSender(socket_mode)
    event = sender.event({"type": "app_home_opened", "user": MAYA, "tab": "home"}, team_id=ACME)
    command = sender.command("help", team_id=ACME, user_id=MAYA, channel_id=GENERAL)
    action = sender.interaction(sender.block_actions_payload(
        team_id=ACME, user_id=MAYA, action={"action_id": "x", "block_id": "b", "type": "button"}, view={"id": "V1"},
    ))  # fmt: skip
    assert (event.status, event.body) == (200, b"")
    assert command.json() == {"text": "Commands: …"}
    assert action.status == 200
    kinds = [client.received.get(timeout=5) for _ in range(3)]
    assert [(r.type, r.accepts_response_payload) for r in kinds] == [
        ("events_api", False),
        ("slash_commands", True),
        ("interactive", True),
    ]
    assert kinds[0].payload["event"]["type"] == "app_home_opened" and kinds[0].retry_attempt == 0
    assert kinds[1].payload["command"] == "/heard" and kinds[1].payload["text"] == "help"
    assert kinds[2].payload["type"] == "block_actions"


def test_an_unacknowledged_event_is_sent_again_with_a_higher_retry_attempt(socket_mode, client):
    socket_mode.wait_for_connections(1)
    delivery = socket_mode.deliver(
        "events_api", {"type": "event_callback", "event_id": "Ev1"}, lose_acks=1
    )
    assert delivery.wait(5)
    assert [attempt for _, attempt in delivery.sends] == [0, 1] and delivery.lost == 1
    assert [client.received.get(timeout=5).retry_attempt for _ in range(2)] == [0, 1]
    assert client.received.empty()


def test_an_unacknowledged_command_is_not_sent_again(socket_mode, client):
    socket_mode.wait_for_connections(1)
    client.answers["slash_commands"] = False
    response = SocketModeSender(socket_mode).command("help", team_id=ACME, user_id=MAYA)
    assert response.status == 504
    assert len(socket_mode.deliveries()[0].sends) == 1 and socket_mode.deliveries()[0].gave_up


def test_disconnect_then_the_client_reconnects_and_gets_the_next_envelope(socket_mode, client):
    [first] = socket_mode.wait_for_connections(1)
    socket_mode.disconnect("refresh_requested", close_after=0.2)
    second = socket_mode.wait_for_connections(1, opened=2)[-1]  # the SDK reconnects by itself
    socket_mode.wait_until(lambda: socket_mode.connections == [second])  # and closes the old one
    assert {
        "type": "disconnect",
        "reason": "refresh_requested",
        "debug_info": {"host": "applink-fake"},
    } in [message for link, message in socket_mode.sent if link == first]
    assert (
        SocketModeSender(socket_mode).event({"type": "app_home_opened"}, team_id=ACME).status == 200
    )
    assert socket_mode.deliveries()[-1].sends[-1][0] == second


def test_envelopes_are_spread_across_open_connections(fake_slack, socket_mode, client):
    other = SocketModeClient(
        APP_TOKEN, web_client=WebClient(base_url=fake_slack.url), ping_interval=60
    )
    other.socket_mode_request_listeners.append(
        lambda c, r: c.send_socket_mode_response(SocketModeResponse(r.envelope_id))
    )
    other.connect()
    try:
        links = socket_mode.wait_for_connections(2)
        sender = SocketModeSender(socket_mode)
        for _ in range(4):
            assert sender.event({"type": "app_home_opened"}, team_id=ACME).status == 200
        used = [delivery.sends[0][0] for delivery in socket_mode.deliveries()]
        assert sorted(set(used)) == links and used.count(links[0]) == 2
    finally:
        close_quickly(other, socket_mode)
