"""SlackRequestSender signs like Slack: slack_sdk's verifier accepts its good requests and
refuses its forged and stale ones. The endpoint here is a stand-in that verifies exactly
as Bolt does, so these tests do not depend on Heard's own endpoint."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.signing import EVENTS_PATH, SlackRequestSender
from tests.people import ACME, FEEDBACK, HEARD, PRIYA

SECRET = "test-signing-secret"
SHARED_SPECS = Path(__file__).parents[2].parent / "shared" / "slack-specs"
# The event wrapper schema's required keys, in case the shared specs are not checked out.
WRAPPER_REQUIRED = [
    "token",
    "team_id",
    "api_app_id",
    "event",
    "type",
    "event_id",
    "event_time",
    "authed_users",
]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class VerifyingEndpoint:
    """Answers 200 to requests slack_sdk's SignatureVerifier accepts, 401 otherwise."""

    url: str
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def endpoint() -> Iterator[VerifyingEndpoint]:
    verifier = SignatureVerifier(SECRET)
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            valid = verifier.is_valid(
                body=body.decode(),
                timestamp=self.headers.get("X-Slack-Request-Timestamp"),
                signature=self.headers.get("X-Slack-Signature"),
            )
            self._answer(200 if valid else 401, b'{"ok": true}' if valid else b"invalid signature")

        def do_GET(self) -> None:
            if self.path == "/slack/install":
                self.send_response(302)
                self.send_header("Location", "https://slack.com/oauth/v2/authorize?client_id=1")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._answer(200, b"healthy")

        def _answer(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield VerifyingEndpoint(f"http://127.0.0.1:{server.server_address[1]}", received)
    server.shutdown()
    server.server_close()


@pytest.fixture
def sender(endpoint: VerifyingEndpoint) -> SlackRequestSender:
    return SlackRequestSender(endpoint.url, SECRET)


def test_signed_event_is_accepted(sender, endpoint):
    response = sender.event(
        {"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.000001"}, team_id="T1"
    )

    assert response.status == 200 and response.json() == {"ok": True}
    assert endpoint.received[0].path == EVENTS_PATH


@pytest.mark.parametrize(
    "forgery",
    [
        {"signature": "v0=" + "0" * 64},
        {"sign_with": "someone-elses-secret"},
        {"age": 600},  # ten minutes old: a replay
        {"age": -600},  # from the future
    ],
    ids=["bad-signature", "other-secret", "stale", "future"],
)
def test_forged_or_stale_requests_are_refused(sender, forgery):
    if "age" in forgery:  # computed now: a value made at collection goes stale with the suite
        forgery = {"timestamp": int(time.time()) - forgery["age"]}
    assert sender.event({"type": "app_mention"}, team_id="T1", **forgery).status == 401
    assert sender.command("help", team_id="T1", user_id="U1", **forgery).status == 401
    assert sender.interaction({"type": "block_actions"}, **forgery).status == 401


def test_a_stale_timestamp_signed_correctly_is_still_refused(sender):
    # The signature covers the timestamp, so only the age check can catch a replay.
    stale = int(time.time()) - 301
    body = b'{"type": "event_callback"}'

    response = sender.post(EVENTS_PATH, body, "application/json", timestamp=stale)

    assert response.status == 401


def test_signature_matches_slack_sdks_own_computation(sender):
    body = b"token=x&text=%2Fheard+help"
    expected = SignatureVerifier(SECRET).generate_signature(
        timestamp="1700000000", body=body.decode()
    )

    assert sender.signature_for(1700000000, body) == expected
    assert expected.startswith("v0=") and len(expected) == 67


def test_sender_clock_sets_the_timestamp(endpoint):
    frozen = SlackRequestSender(endpoint.url, SECRET, now=lambda: 1_700_000_000.0)

    response = frozen.event({"type": "app_mention"}, team_id="T1")

    assert endpoint.received[0].headers["x-slack-request-timestamp"] == "1700000000"
    assert response.status == 401  # the verifier's real clock sees it as years old


def test_event_envelope_follows_slacks_wrapper_schema(sender, endpoint):
    schema_file = SHARED_SPECS / "slack_common_event_wrapper_schema.json"
    required = (
        json.loads(schema_file.read_text())["required"]
        if schema_file.exists()
        else WRAPPER_REQUIRED
    )

    sender.event({"type": "reaction_added", "reaction": "eyes", "user": "U1"}, team_id=ACME)

    envelope = json.loads(endpoint.received[0].body)
    assert set(required) <= set(envelope)
    assert envelope["type"] == "event_callback"
    assert re.fullmatch(r"Ev[0-9A-Z]+", envelope["event_id"])
    assert isinstance(envelope["event_time"], int)
    assert envelope["event"]["event_ts"]  # Slack always sets it
    assert envelope["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": ACME,
        "user_id": HEARD,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    assert endpoint.received[0].headers["content-type"] == "application/json"


def test_event_ids_are_unique_and_a_retry_repeats_one_with_retry_headers(sender, endpoint):
    sender.event({"type": "app_mention"}, team_id="T1")
    sender.event({"type": "app_mention"}, team_id="T1")
    first_id = json.loads(endpoint.received[0].body)["event_id"]

    sender.event({"type": "app_mention"}, team_id="T1", event_id=first_id, retry_num=1)

    ids = [json.loads(r.body)["event_id"] for r in endpoint.received]
    assert ids[0] != ids[1] and ids[2] == ids[0]
    assert endpoint.received[2].headers["x-slack-retry-num"] == "1"
    assert endpoint.received[2].headers["x-slack-retry-reason"] == "http_timeout"
    assert "x-slack-retry-num" not in endpoint.received[0].headers


def test_command_is_form_encoded_like_slack(endpoint):
    sender = SlackRequestSender(
        endpoint.url, SECRET, response_url_factory=lambda team: f"http://hooks.test/{team}"
    )

    sender.command(
        "feedback <@U0SAM00006|sam> says hi",
        team_id=ACME,
        user_id=PRIYA,
        channel_id=FEEDBACK,
    )

    received = endpoint.received[0]
    fields = {k: v[0] for k, v in parse_qs(received.body.decode()).items()}
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert fields["command"] == "/heard"
    assert fields["text"] == "feedback <@U0SAM00006|sam> says hi"
    assert (fields["team_id"], fields["user_id"], fields["channel_id"]) == (
        ACME,
        PRIYA,
        FEEDBACK,
    )
    assert fields["response_url"] == "http://hooks.test/T0ACME001"
    assert fields["trigger_id"] and fields["api_app_id"] == "A0HEARD"


def test_interaction_payload_is_json_in_a_form_field(sender, endpoint):
    payload = sender.block_actions_payload(
        team_id="T1",
        user_id="U1",
        channel_id="C1",
        message={"ts": "1.000001", "text": "feedback"},
        action={"action_id": "acknowledge", "block_id": "b", "type": "button", "value": "42"},
    )

    assert sender.interaction(payload).status == 200

    decoded = json.loads(parse_qs(endpoint.received[0].body.decode())["payload"][0])
    assert decoded == payload
    assert decoded["actions"][0]["action_id"] == "acknowledge"
    assert decoded["container"]["message_ts"] == "1.000001"


def test_url_verification_carries_the_challenge(sender, endpoint):
    sender.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")

    body = json.loads(endpoint.received[0].body)
    assert body == {
        "token": body["token"],
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }


def test_get_returns_redirects_and_errors_instead_of_raising(sender):
    redirect = sender.get("/slack/install")
    health = sender.get("/health")

    assert redirect.status == 302
    assert redirect.headers["location"].startswith("https://slack.com/oauth/v2/authorize")
    assert health.status == 200 and health.text == "healthy"


def test_trigger_ids_are_accepted_by_the_fake_slack(fake_slack, acme):
    sender = SlackRequestSender("http://127.0.0.1:9", SECRET)
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Hi"},
        "blocks": [{"type": "divider"}],
    }

    opened = WebClient(token=acme.bot_token, base_url=fake_slack.url).views_open(
        trigger_id=sender.next_trigger_id(), view=modal
    )

    assert opened["ok"]


def test_sender_factory_routes_response_urls_to_the_fake(sender_factory, fake_slack, endpoint):
    sender = sender_factory(endpoint.url, SECRET)

    sender.command("help", team_id=ACME, user_id=PRIYA)

    response_url = parse_qs(endpoint.received[0].body.decode())["response_url"][0]
    assert response_url.startswith(fake_slack.root_url + "commands/T0ACME001/")
