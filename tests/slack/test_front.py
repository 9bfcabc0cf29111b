"""The front door's parts on their own: reading a body within a limit, checking Slack's
signature on raw bytes, and admitting only bodies Bolt can build a request from.

tests/security/test_front_door.py drives the same front through the real HTTP endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.slack.front import (
    MalformedEvent,
    Refused,
    check_shape,
    parse_body,
    read_body,
    verify_signature,
)

SECRET = "front-door-secret"
NOW = 1_764_000_000


class FrozenClock:
    def now(self) -> float:
        return NOW


class Unreadable(io.RawIOBase):
    """A body that must not be read."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")


class Trickling(io.RawIOBase):
    """A WSGI input that hands out a few bytes per read, as a socket may."""

    def __init__(self, data: bytes):
        self.data = data

    def read(self, size: int = -1) -> bytes:
        chunk, self.data = self.data[: min(size, 3)], self.data[min(size, 3) :]
        return chunk


def environ(body=b"", **fields) -> dict:
    stream = body if not isinstance(body, bytes) else io.BytesIO(body)
    return {"wsgi.input": stream, **fields}


def signed(body: bytes, timestamp: str = str(NOW), secret: str = SECRET) -> dict:
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": "v0=" + digest.hexdigest(),
    }


def refusal(call, *args) -> tuple[int, str] | None:
    try:
        call(*args)
    except Refused as refused:
        return refused.status, refused.reason
    return None


# -- reading -----------------------------------------------------------------------------------


def test_body_is_read_to_its_declared_length_and_no_further():
    assert read_body(environ(b'{"a": 1}trailing', CONTENT_LENGTH="8")) == b'{"a": 1}'


def test_declared_length_over_the_limit_is_413_without_reading():
    for declared in ("11", "104857600", "9" * 5000, "0" * 5000 + "11"):
        assert refusal(read_body, environ(Unreadable(), CONTENT_LENGTH=declared), 10)[0] == 413


def test_body_at_the_limit_is_read():
    assert read_body(environ(b"x" * 10, CONTENT_LENGTH="10"), 10) == b"x" * 10
    assert read_body(environ(b"x" * 10, CONTENT_LENGTH="0" * 5000 + "10"), 10) == b"x" * 10


@pytest.mark.parametrize("declared", ["ten", "-1", "1e3", "0x10", " 5", "١٠"])
def test_content_length_that_is_not_digits_is_400(declared):
    assert refusal(read_body, environ(Unreadable(), CONTENT_LENGTH=declared))[0] == 400


def test_body_shorter_than_declared_is_400():
    assert refusal(read_body, environ(b"{}", CONTENT_LENGTH="5")) == (
        400,
        "body shorter than its Content-Length",
    )


def test_short_reads_are_joined():
    assert read_body(environ(Trickling(b"0123456789"), CONTENT_LENGTH="10")) == b"0123456789"


def test_without_a_length_there_is_no_body_unless_the_server_dechunked_one():
    assert read_body(environ(Unreadable())) == b""
    dechunked = environ(Trickling(b"abcdef"), **{"wsgi.input_terminated": True})
    assert read_body(dechunked, 10) == b"abcdef"
    endless = environ(b"x" * 100, **{"wsgi.input_terminated": True})
    assert refusal(read_body, endless, 10)[0] == 413


# -- the signature ---------------------------------------------------------------------------------


def verifier() -> SignatureVerifier:
    return SignatureVerifier(SECRET, clock=FrozenClock())


def test_a_signed_body_passes_and_any_change_fails():
    body = b'{"type": "event_callback"}'
    assert refusal(verify_signature, verifier(), signed(body), body) is None
    assert refusal(verify_signature, verifier(), signed(body), body + b" ") == (
        401,
        "signature does not match",
    )
    assert refusal(verify_signature, verifier(), signed(body, secret="other"), body)[0] == 401


def test_a_body_that_is_not_utf8_is_checked_on_its_bytes():
    body = b"\x1f\x8b\x08\x00 gzip \xff"
    assert refusal(verify_signature, verifier(), signed(body), body) is None
    assert refusal(verify_signature, verifier(), signed(body, secret="other"), body)[0] == 401


def test_a_stale_or_future_timestamp_is_401_with_its_age():
    body = b"{}"
    stale = refusal(verify_signature, verifier(), signed(body, str(NOW - 301)), body)
    future = refusal(verify_signature, verifier(), signed(body, str(NOW + 301)), body)
    assert stale == (401, "timestamp is 301 s old: a replay, or a clock is wrong")
    assert future == (401, "timestamp is 301 s ahead: a replay, or a clock is wrong")
    assert refusal(verify_signature, verifier(), signed(body, str(NOW - 300)), body) is None


@given(body=st.binary(max_size=200), timestamp=st.integers(NOW - 400, NOW + 400).map(str),
       secret=st.sampled_from([SECRET, "other-secret"]))  # fmt: skip
def test_verdict_on_utf8_bodies_is_slack_sdks_own(body, timestamp, secret):
    # The byte-level HMAC for bodies that are not UTF-8 is the same algorithm: on every
    # body the SDK can read, the front and SignatureVerifier agree.
    headers = signed(body, timestamp, secret)
    ours = refusal(verify_signature, verifier(), headers, body) is None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    sdks = verifier().is_valid(
        text, headers["HTTP_X_SLACK_REQUEST_TIMESTAMP"], headers["HTTP_X_SLACK_SIGNATURE"]
    )
    assert ours == sdks == (secret == SECRET and abs(int(timestamp) - NOW) <= 300)


# -- the body -------------------------------------------------------------------------------------


def test_events_commands_and_interactions_parse_as_slack_sends_them():
    event = {"type": "event_callback", "event": {"type": "message"}}
    command = {"command": "/heard", "text": "help payload", "user_id": "U1"}
    interaction = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}]}

    assert parse_body(json.dumps(event).encode(), "application/json; charset=utf-8") == event
    # "payload" in a command's text is text; Bolt's own parser reads this body as {}.
    assert parse_body(urlencode(command).encode(), "application/x-www-form-urlencoded") == command
    form = urlencode({"payload": json.dumps(interaction)}).encode()
    assert parse_body(form, "application/x-www-form-urlencoded") == interaction
    assert (
        parse_body(b"ssl_check=1&token=x", "application/x-www-form-urlencoded")["ssl_check"] == "1"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\xff{}", "application/json", "body is not UTF-8"),
        (b"[]", "application/json", "body is JSON but not an object"),
        (b"{oops", "application/x-www-form-urlencoded", "form body is JSON"),
        (b"[" * 100_000, "application/json", "body is not JSON"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded", "payload is JSON but not an object"),
        (b"token=x&text=hi", "application/x-www-form-urlencoded", "form is neither a command nor an interaction"),
        (b"", "application/json", "body is not JSON"),
        # Slack sends a command only as a form: as JSON, Bolt would have run it.
        (b'{"command": "/heard", "text": "help", "user_id": "U1", "team_id": "T1"}', "application/json",
         "JSON body is not an Events API request"),
        (b'{"command": "/heard", "text": "help"}', "application/x-www-form-urlencoded", "form body is JSON"),
        (b'{"command": "/heard", "text": "help"}', None, "content type is neither JSON nor a form"),
        (b"command=%2Fheard&text=help", "text/plain", "content type is neither JSON nor a form"),
        (b'{"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}]}', "application/json",
         "JSON body is not an Events API request"),
        (("payload=" + quote('{"type": "event_callback", "event": {"type": "message"}}')).encode(),
         "application/x-www-form-urlencoded", "payload is not an interaction"),
    ],
    ids=["not-utf8", "json-list", "brace-in-a-form", "nested-too-deep", "payload-list", "form-without-command", "empty",
         "command-as-json", "command-json-as-form", "command-json-untyped", "command-as-text", "interaction-as-json",
         "event-as-payload"],
)  # fmt: skip
def test_bodies_slack_does_not_send_are_400(body, content_type, reason):
    assert refusal(parse_body, body, content_type) == (400, reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"event": {"type": "message", "channel": 5}}, "event.channel is not an id"),
        ({"event": [{"type": "message"}]}, "event is not an object"),
        ({"event": None}, "event is not an object"),
        ({"event": {"channel": "C1"}}, "event is not an object with a type"),
        ({"event": {"type": "message"}, "authorizations": [{"team_id": 7}]}, "authorizations[0].team_id is not a string"),
        ({"event": {"type": "message", "message": {"user": {"id": 1}}}}, "event.message.user.id is not a string"),
        ({"event": {"type": "reaction_added", "item": {"channel": ["C1"]}}}, "event.item.channel is not an id"),
    ],
    ids=["channel-number", "event-list", "event-null", "event-without-type", "authorization-team-number",
         "edited-user-id-number", "item-channel-list"],
)  # fmt: skip
def test_malformed_events_are_skipped_with_200(body, reason):
    with pytest.raises(MalformedEvent) as skipped:
        check_shape({"type": "event_callback", "team_id": "T1", "event_id": "Ev1", **body})
    assert (skipped.value.status, skipped.value.reason) == (200, reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "view_submission", "user": "U1"}, "user is not an object with an id"),
        ({"type": "block_actions", "user": {"id": "U1"}, "actions": []}, "actions is empty"),
        ({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}], "channel": "C1"},
         "channel is not an object"),
        ({"type": "view_submission", "user": {"id": "U1"}, "view": {"callback_id": None}},
         "view is not an object with a callback_id and a type"),
        # Bolt read view["type"] of every view_submission: a KeyError, a 500 and a traceback
        ({"type": "view_submission", "user": {"id": "U1"}, "view": {"callback_id": "c"}},
         "view is not an object with a callback_id and a type"),
        ({"type": "shortcut", "user": {"id": "U1"}, "response_url": "javascript:alert(1)"}, "response_url is not a URL"),
        ({"type": "view_submission", "user": {"id": "U1"}, "response_urls": None}, "response_urls is not a list of objects"),
        ({"type": ["block_actions"]}, "type is not a string"),
    ],
    ids=["user-a-string", "no-actions", "channel-a-string", "view-without-callback", "view-without-type",
         "response-url-not-a-url",
         "response-urls-null", "type-a-list"],
)  # fmt: skip
def test_malformed_interactions_are_400(body, reason):
    assert refusal(check_shape, body) == (400, reason)


def test_requests_slack_sends_pass():
    for body in (
        {"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "authorizations": None,
         "event": {"type": "channel_created", "channel": {"id": "C1", "name": "new", "created": 1}}},
        {"type": "event_callback", "event": {"type": "user_change", "user": {"id": "U1", "tz_offset": -1}}},
        {"type": "url_verification", "challenge": "c"},
        {"type": "block_actions", "team": None, "enterprise": None, "user": {"id": "U1"},
         "channel": {"id": "C1"}, "actions": [{"action_id": "a", "block_id": "b"}], "response_url": "https://hooks.slack.com/x"},
        {"command": "/heard", "text": "help", "user_id": "U1", "team_id": "T1"},
    ):  # fmt: skip
        check_shape(body)


# Any JSON value, in any of the places Bolt reads a context from.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["id", "type", "team", "user", "channel", "team_id", "user_id", "event", "item", "message",
         "authorizations", "response_urls", "actions", "view", "callback_id", "enterprise", "x"]
    ), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@given(value=json_values, kind=st.sampled_from(["event_callback", "block_actions", "view_submission", None]),
       as_form=st.booleans())  # fmt: skip
def test_whatever_the_front_admits_bolt_can_build_a_request_from(value, kind, as_form):
    body = value if isinstance(value, dict) else {"event": value}
    if kind:
        body = {**body, "type": kind}
    text = urlencode({"payload": json.dumps(body)}) if as_form else json.dumps(body)
    content_type = "application/x-www-form-urlencoded" if as_form else "application/json"
    try:
        check_shape(parse_body(text.encode(), content_type))
    except Refused:
        return
    BoltRequest(body=text, headers={"content-type": [content_type]})  # raised before the front


# -- lone surrogates: JSON can write them, nothing downstream can encode them --------------------

LONE = "\ud800"  # what json.loads makes of the escape "\ud800"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"team_id": "T1" + LONE, "event": {"type": "message"}}, "team_id holds a lone surrogate"),
        ({"event_id": "Ev1" + LONE, "event": {"type": "message"}}, "event_id holds a lone surrogate"),
        ({"event": {"type": "message", "user": "U1" + LONE}}, "event.user holds a lone surrogate"),
        ({"event": {"type": "message", "channel": "C1" + LONE}}, "event.channel holds a lone surrogate"),
        ({"event": {"type": "reaction_added", "item": {"channel": LONE}}}, "event.item.channel holds a lone surrogate"),
    ],
    ids=["team-id", "event-id", "user", "channel", "item-channel"],
)  # fmt: skip
def test_an_event_whose_ids_hold_a_lone_surrogate_is_skipped(body, reason):
    with pytest.raises(MalformedEvent) as skipped:
        check_shape({"type": "event_callback", **body})
    assert skipped.value.reason == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"team": {"id": "T1" + LONE}}, "team.id holds a lone surrogate"),
        ({"user": {"id": "U1" + LONE}}, "user.id holds a lone surrogate"),
        ({"trigger_id": "1.2." + LONE}, "trigger_id holds a lone surrogate"),
        ({"actions": [{"action_id": "a" + LONE}]}, "actions[0].action_id holds a lone surrogate"),
    ],
    ids=["team-id", "user-id", "trigger-id", "action-id"],
)  # fmt: skip
def test_an_interaction_whose_ids_hold_a_lone_surrogate_is_400(body, reason):
    interaction = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}]} | body
    assert refusal(check_shape, interaction) == (400, reason)


def test_a_lone_surrogate_in_text_is_replaced_and_the_request_passes():
    body = parse_body(json.dumps({
        "type": "event_callback", "team_id": "T1", "event_id": "Ev1",
        "event": {"type": "message", "user": "U1", "text": "export \ud83d\ude00 broke " + LONE,
                  "blocks": [[{"te\udfffxt": ["a\udc00b"]}]]},
    }).encode(), "application/json")  # fmt: skip

    assert check_shape(body) is True
    event = body["event"]
    assert event["text"] == "export \U0001f600 broke \ufffd"  # a pair is a character, kept
    assert event["blocks"] == [[{"te\ufffdxt": ["a\ufffdb"]}]]
    json.dumps(body, ensure_ascii=False).encode()  # raised before
    assert check_shape(body) is False  # nothing left to mend


def test_text_nested_deeper_than_recursion_allows_is_mended():
    deep: dict = {"text": LONE}
    for _ in range(5000):
        deep = {"x": [deep]}
    assert check_shape({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}], "x": deep})


# -- the body's deadline ------------------------------------------------------------------------------


def test_a_body_that_stalls_is_408_at_its_deadline_and_the_socket_is_left_blocking():
    import socket
    import time

    server, client = socket.socketpair()
    with server, client:
        client.sendall(b'{"a":')  # then nothing: 1,000 bytes declared
        started = time.monotonic()
        stalled = environ(server.makefile("rb", buffering=0), CONTENT_LENGTH="1000")
        assert refusal(read_body, stalled | {"gunicorn.socket": server}, MAX, 0.3) == (
            408, "body not received within 0.3 s")  # fmt: skip
        assert 0.3 <= time.monotonic() - started < 2
        assert server.gettimeout() is None


def test_a_body_that_trickles_is_408_at_its_deadline_not_its_last_byte():
    import socket
    import threading
    import time

    server, client = socket.socketpair()
    stop = threading.Event()

    def trickle():
        while not stop.wait(0.05):
            client.sendall(b" ")

    with server, client:
        threading.Thread(target=trickle, daemon=True).start()
        started = time.monotonic()
        trickling = environ(server.makefile("rb", buffering=0), CONTENT_LENGTH="1000")
        try:
            assert refusal(read_body, trickling | {"gunicorn.socket": server}, MAX, 0.3)[0] == 408
        finally:
            stop.set()
        assert time.monotonic() - started < 2


MAX = 2 * 1024 * 1024
