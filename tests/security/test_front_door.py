"""The front door: POST /slack/events answers anyone on the internet, so garbage gets a 4xx
and one log line, never a 500 and a traceback, and the server keeps answering after it.

Unsigned garbage is 401 whatever its shape, because the signature is checked before the
body is parsed; a body over the limit is 413 before it is read; signed garbage is 400, or
200 and a logged skip for an event (Slack would retry a 4xx event for an hour).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import http.client
import json
import logging
import time
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db.models import InboxEvent
from bot.features.feedback.models import FeedbackItem
from bot.sandbox.signing import EVENTS_PATH
from bot.slack.front import MAX_BODY_BYTES
from tests.features.feedback.room import feedback  # noqa: F401  (the fixture)
from tests.fixtures.heard import SIGNING_SECRET
from tests.people import ACME, FEEDBACK, MAYA, PRIYA

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
LONE = "\ud800"  # a lone UTF-16 surrogate: what json.loads makes of the escape "\ud800"


def envelope(event, **fields) -> bytes:
    """An event_callback as Slack sends it, around any `event`, even a malformed one."""
    body = {"token": "t", "team_id": ACME, "api_app_id": "A0HEARD", "event": event,
            "type": "event_callback", "event_id": f"Ev0{time.time_ns()}", "event_time": 1,
            "authed_users": ["U0HEARDBOT"]} | fields  # fmt: skip
    return json.dumps(body).encode()


def message(**fields) -> dict:
    return {"type": "message", "channel": FEEDBACK, "user": MAYA, "text": "the export is slow",
            "ts": "1764000000.000100", "channel_type": "channel"} | fields  # fmt: skip


def form_payload(text: str) -> bytes:
    return b"payload=" + quote(text).encode()


COMMAND = {"token": "t", "team_id": ACME, "channel_id": FEEDBACK, "user_id": MAYA, "command": "/heard",
           "text": "feedback Globex says the export is slow", "api_app_id": "A0HEARD",
           "response_url": "https://hooks.slack.com/commands/T0ACME001/1/x", "trigger_id": "1.2.3"}  # fmt: skip

# Bodies no request from Slack ever has: each made Bolt raise (500) before this front.
GARBAGE = [
    pytest.param(b'\xff\xfe{\x00"type\x00"', JSON, id="not-utf8"),
    pytest.param(gzip.compress(envelope(message())), JSON, id="gzip"),
    pytest.param(b"payload=%7Bnot+json", FORM, id="payload-not-json"),
    pytest.param(form_payload("[1, 2]"), FORM, id="payload-a-list"),
    pytest.param(form_payload('"block_actions"'), FORM, id="payload-a-string"),
    pytest.param(b"[]", JSON, id="json-list"),
    pytest.param(b'"event_callback"', JSON, id="json-string"),
    pytest.param(b"42", JSON, id="json-number"),
    pytest.param(b"null", JSON, id="json-null"),
    pytest.param(b'{"type": "event_callback", ', JSON, id="truncated-json"),
    pytest.param(b"{not json}", FORM, id="brace-in-a-form"),
    pytest.param(b"", JSON, id="empty"),
    # Slack sends a slash command only as a form; as JSON, Bolt ran it.
    pytest.param(json.dumps(COMMAND).encode(), JSON, id="command-as-json"),
    pytest.param(json.dumps(COMMAND).encode(), FORM, id="command-json-as-a-form"),
    pytest.param(b"command=%2Fheard&text=help", "text/plain", id="command-as-text"),
]

# Well-formed JSON with the wrong types where Bolt reads its context (team, user, channel).
MALFORMED_EVENTS = [
    pytest.param(envelope(message(channel=5)), id="channel-a-number"),
    pytest.param(envelope(message(user=["U1"])), id="user-a-list"),
    pytest.param(envelope([message()]), id="event-a-list"),
    pytest.param(envelope("message"), id="event-a-string"),
    pytest.param(
        envelope({"type": "reaction_added", "item": {"channel": 7}}), id="item-channel-a-number"
    ),
    pytest.param(envelope(message(), authorizations=5), id="authorizations-a-number"),
    pytest.param(envelope(message(), authorizations=["T1"]), id="authorization-a-string"),
    pytest.param(envelope(message(), team=12), id="team-a-number"),
    pytest.param(envelope(message(), enterprise=True), id="enterprise-a-bool"),
    pytest.param(envelope(message(team=[1]), is_ext_shared_channel=True), id="shared-team-a-list"),
    # JSON writes a lone surrogate as "\ud800"; stored, logged or sent, it raised.
    pytest.param(envelope(message(), team_id=ACME + LONE), id="team-id-lone-surrogate"),
    pytest.param(envelope(message(), event_id="Ev1" + LONE), id="event-id-lone-surrogate"),
    pytest.param(envelope(message(user=MAYA + LONE)), id="user-lone-surrogate"),
    pytest.param(envelope(message(channel=FEEDBACK + LONE)), id="channel-lone-surrogate"),
]

MALFORMED_INTERACTIONS = [
    pytest.param({"type": "block_actions", "team": {"id": ACME}, "channel": 5}, id="channel-a-number"),
    pytest.param({"type": "block_actions", "team": 3, "user": {"id": MAYA}}, id="team-a-number"),
    pytest.param({"type": "view_submission", "team": {"id": ACME}, "user": 9}, id="user-a-number"),
    pytest.param({"type": "view_submission", "team": {"id": ACME}, "response_urls": 1}, id="response-urls-a-number"),
    pytest.param({"type": "view_submission", "team": {"id": ACME}, "response_urls": ["x"]}, id="response-url-a-string"),
    pytest.param({"type": "view_submission", "team": {"id": ACME}, "user": {"id": MAYA}, "view": {"callback_id": "x"},
                  "response_urls": [{}, {}]}, id="two-response-urls"),
    pytest.param({"type": "block_actions", "team": {"id": ACME}, "user": {"id": MAYA}, "actions": [{}]},
                 id="action-without-action-id"),
    pytest.param({"type": "block_actions", "team": {"id": ACME + LONE}, "user": {"id": MAYA},
                  "actions": [{"action_id": "feedback_acknowledge", "value": "1"}]}, id="team-id-lone-surrogate"),
    pytest.param({"type": "block_actions", "team": {"id": ACME}, "user": {"id": MAYA + LONE},
                  "actions": [{"action_id": "feedback_acknowledge", "value": "1"}]}, id="user-id-lone-surrogate"),
]  # fmt: skip


def slack_signature(timestamp: str, body: bytes, secret: str = SIGNING_SECRET) -> str:
    """Slack's signature over the raw bytes: the SDK's helper can only sign UTF-8 text."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post(heard, body: bytes, content_type: str, *, signed: bool, timestamp: str | None = None):
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    secret = SIGNING_SECRET if signed else "someone-elses-secret"
    signature = slack_signature(stamp, body, secret)
    return heard.sender.post(EVENTS_PATH, body, content_type, signature=signature,
                             headers={"X-Slack-Request-Timestamp": stamp})  # fmt: skip


def raw_request(url: str, headers: dict[str, str], body: bytes = b"", *, timeout: float = 5.0):
    """POST with exactly these headers (even a lying Content-Length, or UTF-8 in a value)
    and this much body."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
    try:
        connection.putrequest("POST", EVENTS_PATH, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value.encode())
        connection.endheaders(body)
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


@pytest.fixture
def heard(heard_server, caplog):
    caplog.set_level(logging.INFO)
    return heard_server()


@pytest.fixture
def dispatched(heard, monkeypatch):
    """What got past the front: the requests that reached Bolt's `App.dispatch`, then the
    events stored in the inbox (an event goes there instead of to Bolt)."""
    seen = []
    dispatch = heard.app.dispatch

    def spy(request):
        seen.append(request.body)
        return dispatch(request)

    monkeypatch.setattr(heard.app, "dispatch", spy)

    def passed() -> list[dict]:
        with heard.runtime.sessions() as session:
            stored = session.scalars(select(InboxEvent.body).order_by(InboxEvent.received_at)).all()
        return seen + [json.loads(body) for body in stored]

    return passed


def assert_refused_quietly(caplog, capsys, status: int) -> None:
    """One log line naming the refusal, no traceback anywhere (log records or stderr)."""
    refusals = [r for r in caplog.records if r.name == "bot.slack.front"]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert str(status) in refusals[0].getMessage() and "\n" not in refusals[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in capsys.readouterr().err


def assert_still_answering(heard) -> None:
    response = heard.sender.url_verification("still-here")
    assert response.status == 200 and "still-here" in response.text


# -- unsigned: 401 whatever the body ------------------------------------------------------------


@pytest.mark.parametrize(("body", "content_type"), GARBAGE)
def test_unsigned_garbage_is_401(heard, caplog, capsys, body, content_type):
    response = post(heard, body, content_type, signed=False)

    assert response.status == 401
    assert_refused_quietly(caplog, capsys, 401)
    assert_still_answering(heard)


@pytest.mark.parametrize("body", MALFORMED_EVENTS)
def test_unsigned_malformed_event_is_401(heard, dispatched, caplog, capsys, body):
    assert post(heard, body, JSON, signed=False).status == 401
    assert_refused_quietly(caplog, capsys, 401)
    assert dispatched() == []


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    "spell",
    [lambda now: "soon", lambda now: "", lambda now: f"{now}.0", lambda now: hex(now),
     lambda now: f" {now}", lambda now: f"{now:_}", lambda now: str(now).translate(ARABIC_INDIC),
     lambda now: "9" * 5000, lambda now: f"+{now}"],
    ids=["word", "empty", "float", "hex", "space", "underscores", "arabic-digits", "huge", "plus"],
)  # fmt: skip
def test_timestamp_that_is_not_plain_digits_is_401_even_when_signed(heard, caplog, capsys, spell):
    # Signed over that very timestamp, and current: only the format check can refuse
    # it, and Python's int() reads " 17…", "1_7…", "+17…" and "١٧…" as today.
    timestamp, body = spell(int(time.time())), envelope(message())
    headers = {"Content-Type": JSON, "Content-Length": str(len(body)),
               "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": slack_signature(timestamp, body)}  # fmt: skip

    status, _ = raw_request(heard.url, headers, body)

    assert status == 401
    assert_refused_quietly(caplog, capsys, 401)
    assert_still_answering(heard)


def test_signature_that_is_not_ascii_is_401(heard, caplog, capsys):
    body = envelope(message())
    stamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=\u00e9t\u00e9"}

    assert heard.sender.post(EVENTS_PATH, body, JSON, headers=headers).status == 401
    assert_refused_quietly(caplog, capsys, 401)


def test_stale_signed_event_is_401(heard, caplog, capsys):
    stale = str(int(time.time()) - 6 * 60)
    assert post(heard, envelope(message()), JSON, signed=True, timestamp=stale).status == 401
    assert_refused_quietly(caplog, capsys, 401)


def test_future_signed_event_is_401(heard, dispatched, caplog, capsys):
    ahead = str(int(time.time()) + 6 * 60)  # signed now for replaying in six minutes
    assert post(heard, envelope(message()), JSON, signed=True, timestamp=ahead).status == 401
    assert_refused_quietly(caplog, capsys, 401)
    assert "ahead" in caplog.text and dispatched() == []


@pytest.mark.parametrize("missing", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
def test_request_without_signature_headers_is_401(heard, caplog, capsys, missing):
    body = envelope(message())
    stamp = str(int(time.time()))
    headers = {"Content-Type": JSON, "Content-Length": str(len(body)),
               "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": slack_signature(stamp, body)}  # fmt: skip
    for name in headers.copy():
        if missing in (name, "both") and name.startswith("X-Slack"):
            del headers[name]

    status, _ = raw_request(heard.url, headers, body)

    assert status == 401
    assert_refused_quietly(caplog, capsys, 401)


# -- signed but not what Slack sends: 400, or 200 and a skip for an event ------------------------


@pytest.mark.parametrize(("body", "content_type"), GARBAGE)
def test_signed_garbage_is_400(heard, caplog, capsys, body, content_type):
    response = post(heard, body, content_type, signed=True)

    assert response.status == 400
    assert_refused_quietly(caplog, capsys, 400)
    assert_still_answering(heard)


@pytest.mark.parametrize("body", MALFORMED_EVENTS)
def test_signed_malformed_event_is_skipped_with_200(heard, dispatched, caplog, capsys, body):
    response = post(heard, body, JSON, signed=True)

    assert response.status == 200
    assert_refused_quietly(caplog, capsys, 200)
    assert dispatched() == []
    assert_still_answering(heard)


@pytest.mark.parametrize("payload", MALFORMED_INTERACTIONS)
def test_signed_malformed_interaction_is_400(heard, caplog, capsys, payload):
    response = post(heard, form_payload(json.dumps(payload)), FORM, signed=True)

    assert response.status == 400
    assert_refused_quietly(caplog, capsys, 400)
    assert_still_answering(heard)


def test_a_command_sent_as_json_is_not_run(heard, caplog, capsys):
    response = post(heard, json.dumps(COMMAND).encode(), JSON, signed=True)
    heard.listeners.drain()

    assert response.status == 400
    assert_refused_quietly(caplog, capsys, 400)
    with heard.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 0


def test_a_good_event_after_garbage_is_handled(heard, fake_slack):
    home_opened = {"type": "app_home_opened", "user": MAYA, "channel": "D0MAYAHOME", "tab": "home"}
    post(heard, b"[]", JSON, signed=False)
    post(heard, envelope(home_opened | {"channel": 5}), JSON, signed=True)

    assert heard.sender.event(home_opened, team_id=ACME).status == 200
    [call] = fake_slack.wait_for("views.publish")
    assert call.args["user_id"] == MAYA


# -- size: refused by Content-Length, before the body is read ---------------------------------


def test_declared_100_mb_body_is_refused_without_reading_it(heard, caplog, capsys):
    # Only a few bytes follow the headers: a server that tried to read 100 MB would sit
    # waiting for them and this client would time out instead of reading a 413.
    headers = {"Content-Type": JSON, "Content-Length": str(100 * 1024 * 1024),
               "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}  # fmt: skip

    started = time.monotonic()
    status, _ = raw_request(heard.url, headers, b'{"type": "event_callback"', timeout=3)

    assert status == 413 and time.monotonic() - started < 3
    assert_refused_quietly(caplog, capsys, 413)
    assert_still_answering(heard)


def test_body_one_byte_over_the_limit_is_413(heard, caplog, capsys):
    headers = {"Content-Type": JSON, "Content-Length": str(MAX_BODY_BYTES + 1)}

    status, _ = raw_request(heard.url, headers, b"{}", timeout=3)

    assert status == 413
    assert_refused_quietly(caplog, capsys, 413)


def test_signed_body_at_the_limit_is_stored(heard, dispatched, caplog):
    padding = "x" * MAX_BODY_BYTES
    body = envelope(message(), padding=padding)
    body = envelope(message(), padding=padding[: len(padding) - (len(body) - MAX_BODY_BYTES)])
    assert len(body) == MAX_BODY_BYTES

    response = post(heard, body, JSON, signed=True)

    assert response.status == 200
    assert not [r for r in caplog.records if r.name == "bot.slack.front"]
    assert [body["event"]["text"] for body in dispatched()] == ["the export is slow"]


@pytest.mark.parametrize("length", ["many", "-1", "1e3"], ids=["word", "negative", "float"])
def test_content_length_that_is_not_a_number_is_400(heard, caplog, capsys, length):
    status, _ = raw_request(
        heard.url, {"Content-Type": JSON, "Content-Length": length}, b"{}", timeout=3
    )

    assert status == 400
    assert_refused_quietly(caplog, capsys, 400)
    assert_still_answering(heard)


# -- signed mutations of real requests: whatever the types, never a 500 -----------------------

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)


def mutated(data, value, depth: int = 0):
    """`value` with one field somewhere inside it replaced by junk.

    Not `trigger_id`: whether one is good is Slack's to say, and a bad one is an expired
    one, which a listener meets after its ack (views.open fails), not at the front door.
    """
    keys = sorted(set(value) - {"trigger_id"}) if isinstance(value, dict) else []
    if keys and depth < 4 and data.draw(st.integers(0, 3)):
        key = data.draw(st.sampled_from(keys))
        return {**value, key: mutated(data, value[key], depth + 1)}
    if isinstance(value, list) and value and depth < 4 and data.draw(st.integers(0, 3)):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], mutated(data, value[index], depth + 1), *value[index + 1 :]]
    return data.draw(JUNK)


def real_requests(sender) -> list[tuple[str, dict]]:
    """One of each request Heard listens for, as Slack sends it."""
    item_message = {"ts": "1764000000.000100", "text": "feedback", "user": MAYA}
    view = {"id": "V1", "type": "modal", "callback_id": "feedback_log", "team_id": ACME,
            "private_metadata": "{}", "state": {"values": {}}}  # fmt: skip
    button = {"action_id": "feedback_acknowledge", "block_id": "b", "type": "button", "value": "1"}
    return [
        ("event", json.loads(envelope(message()))),
        ("event", json.loads(envelope({"type": "reaction_added", "user": MAYA, "reaction": "eyes",
                                       "item": {"type": "message", "channel": FEEDBACK, "ts": "1.000001"}}))),
        ("event", json.loads(envelope({"type": "app_home_opened", "user": MAYA, "channel": "D1", "tab": "home"}))),
        ("interaction", sender.block_actions_payload(team_id=ACME, user_id=MAYA, action=button,
                                                     channel_id=FEEDBACK, message=item_message)),
        ("interaction", sender.view_submission_payload(team_id=ACME, user_id=MAYA, view=view, values={})),
        ("interaction", sender.message_shortcut_payload(team_id=ACME, user_id=MAYA, callback_id="log_feedback",
                                                        channel_id=FEEDBACK, message=item_message)),
    ]  # fmt: skip


# SQLite only, and one server for every example (the `heard` fixture is shared on purpose).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_signed_request_with_junk_anywhere_is_never_a_500(heard, caplog, capsys, data):
    kind, request = data.draw(st.sampled_from(real_requests(heard.sender)))
    request = mutated(data, request)
    caplog.clear()

    if kind == "event":
        response = heard.sender.post(EVENTS_PATH, json.dumps(request).encode(), JSON)
    else:
        response = heard.sender.interaction(request)

    assert response.status < 500, response.text
    assert not [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Traceback" not in capsys.readouterr().err


def test_a_command_that_says_payload_is_not_lost(feedback):  # noqa: F811 - the fixture
    # Bolt reads any form holding the letters "payload" as an interaction; the front keeps
    # the command's meaning (and a valid signature) so it reaches its form.
    reply = feedback.command("feedback Globex says the payload export drops rows", user=PRIYA)
    assert "Logged as customer feedback" in reply["text"]
    assert [i.text for i in feedback.items()] == ["Globex says the payload export drops rows"]


def test_a_replayed_slash_command_changes_nothing_and_gets_no_reply(heard, caplog):
    # The same signed body twice within the five minutes its signature is good for.
    url = heard.slack.response_url(ACME)
    sent = [heard.sender.command("feedback Customers say the CSV export is slow", team_id=ACME, user_id=MAYA,
                                 response_url=url, trigger_id="13345224609.738")
            for _ in range(2)]  # fmt: skip
    heard.listeners.drain()
    assert [response.status for response in sent] == [200, 200]
    assert len(heard.slack.responses(url)) == 1
    with heard.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 1
    assert "replayed /heard" in caplog.text


# -- lone surrogates: an id holding one is refused, text has it replaced ---------------------------


def test_feedback_with_a_lone_surrogate_is_kept_with_the_replacement_character(feedback, caplog, capsys):  # noqa: F811
    caplog.set_level(logging.INFO)
    feedback.post(PRIYA, "The export " + LONE + " drops rows")

    assert [item.text for item in feedback.items()] == ["The export \ufffd drops rows"]
    assert "replaced lone surrogates in the text of a request (event_callback)" in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in capsys.readouterr().err


def test_a_search_with_a_lone_surrogate_is_answered(heard, caplog, capsys):
    response = heard.sender.interaction({
        "type": "block_suggestion", "user": {"id": MAYA, "team_id": ACME}, "team": {"id": ACME},
        "api_app_id": "A0HEARD", "action_id": "decision_links", "block_id": "links", "value": "export " + LONE,
        "view": {"id": "V0SEARCH01", "callback_id": "decision_log_modal", "type": "modal"},
    })  # fmt: skip
    heard.listeners.drain()

    assert response.status == 200 and json.loads(response.text) == {"options": []}
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in capsys.readouterr().err


def test_events_stored_with_a_lone_surrogate_before_the_front_refused_them_are_skipped_once(feedback, caplog, capsys):  # noqa: F811
    from bot.slack import inbox

    runtime = feedback.runtime
    stored = {"Ev0ID": message(user=MAYA + LONE), "Ev0TEXT": message(text="slow " + LONE, ts="1764000000.000200")}
    for event_id, event in stored.items():
        inbox.store(runtime, event_id=event_id, team_id=ACME, body=envelope(event, event_id=event_id).decode(),
                    now=runtime.clock())  # fmt: skip
    runtime.inbox.wake()
    feedback.heard.listeners.drain()

    with runtime.sessions() as session:
        rows = session.execute(select(InboxEvent.event_id, InboxEvent.status, InboxEvent.attempts)).all()
    assert sorted(rows) == [("Ev0ID", "done", 0), ("Ev0TEXT", "done", 0)]
    assert [r.getMessage() for r in caplog.records if "stored event skipped" in r.getMessage()] == [
        "stored event skipped: event.user holds a lone surrogate"]  # fmt: skip
    assert [item.text for item in feedback.items()] == ["slow \ufffd"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in capsys.readouterr().err
