"""The front door of POST /slack/events: size, signature, then shape, before Bolt sees a byte.

Anyone on the internet can reach this endpoint, and Bolt parses a request's body (and
reads ids out of it) before it checks the signature, so garbage from anyone used to be a
500 and a traceback. Here nothing in a request is believed until Slack's signature says
Slack sent it:

1. the size, by `Content-Length`, before reading: over `MAX_BODY_BYTES` is 413; and the
   time: a body not received whole within `BODY_SECONDS` is 408, so a client that stalls
   cannot hold one of the server's few threads for longer;
2. the signature and timestamp, on the raw bytes: missing, malformed, forged or older
   than five minutes is 401;
3. only then the body: a signed body that is not what Slack sends is 400 (an event is
   JSON, a command a form, an interaction a form whose `payload` is JSON: a command sent
   as JSON is refused), and so are ids of the wrong type in a command or interaction; an
   *event* with them is answered 200 and skipped, because Slack retries an event it got a
   4xx for (and disables event delivery for an app that keeps failing).

JSON may write a lone UTF-16 surrogate (`"\\ud800"`), which Python reads into a `str` that
cannot be encoded: stored, logged or sent on, it raised. An id holding one is not an id
(400, or an event skipped); anywhere else (text a person typed, a name, a value) each is
replaced by U+FFFD, the replacement character, as any UTF-8 system shows what it cannot
read, and the request goes on as mended.

Each refusal is one log line (status and reason, never the sender's text) and no
traceback. What passes goes to Bolt byte for byte (a mended body, signed again), and Bolt
checks the signature again; an event goes to the inbox instead (`SlackFront`'s `events`).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"

# Slack's own requests are a few KB. The largest we can construct: an edit
# (`message_changed`) of a 40,000-character message carries it twice (`message` and
# `previous_message`), each as `text` and again as blocks, and Slack writes non-ASCII as
# `\uXXXX` (6 bytes a character), about 1 MB. Twice that, so a real event is never
# refused; the limit is there so a 100 MB body is never read, not to save a megabyte.
MAX_BODY_BYTES = 2 * 1024 * 1024
# Slack sends a request whole at once, and gives up on the answer after 3 s: a body still
# arriving after that is answered for no one, by one of the server's threads (gunicorn's
# gthread worker has 8 for every request), which a stalled client would hold.
BODY_SECONDS = 3.0
MAX_AGE_SECONDS = 5 * 60  # what SignatureVerifier allows; checked first only to log why
_DIGITS = 12  # a Unix time in seconds has 10 digits until the year 33658

# Where Bolt (and Heard's workspace guard) read ids to build a request's context, and what
# listeners read before they can check anything: a string field holds a string or null; an
# id-or-object field a string, null or an object whose `id` is one; a URL field an http(s)
# URL; the objects Bolt descends into must be objects, and the lists lists of objects.
# Anything else made Bolt or a listener raise (a 500), or gave Heard a number for a team id.
_STRING_FIELDS = ("type", "team_id", "enterprise_id", "user_id", "channel_id", "api_app_id",
                  "event_id", "app_installed_team_id", "context_team_id", "context_enterprise_id",
                  "user_team", "callback_id", "action_id", "block_id", "function_execution_id",
                  "trigger_id")  # fmt: skip
_ID_OR_OBJECT_FIELDS = ("team", "enterprise", "user", "channel")
_URL_FIELDS = ("response_url",)
_NESTED_OBJECTS = ("event", "item", "message", "previous_message", "view", "assistant_thread",
                   "function_data", "container", "workflow_step")  # fmt: skip
_LISTS_OF_OBJECTS = ("authorizations", "response_urls", "actions")
_DEPTH = 3  # Bolt looks no deeper than event.message.* or authorizations[0].*

# Interaction payloads (`payload=` forms) all name the person who acted, as an object;
# listeners read `body["user"]["id"]` before they ack.
INTERACTION_TYPES = frozenset({
    "block_actions", "block_suggestion", "view_submission", "view_closed", "shortcut",
    "message_action", "interactive_message", "dialog_submission", "dialog_cancellation",
    "dialog_suggestion", "workflow_step_edit",
})  # fmt: skip
# The JSON bodies of the Events API: the handshake, an event, and the notice that Slack
# holds back events for a while. Slack sends nothing else as JSON.
EVENTS_API_TYPES = frozenset({"url_verification", "event_callback", "app_rate_limited"})
JSON_TYPE, FORM_TYPE = "application/json", "application/x-www-form-urlencoded"

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # one that json.loads did not pair


class Refused(Exception):
    """A request the front answers itself: `status` and a one-line `reason` for the log."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class MalformedEvent(Refused):
    """A signed event Slack could not have meant: skipped, and answered 200 so Slack stops."""

    def __init__(self, reason: str):
        super().__init__(200, reason)


def read_body(environ: dict, limit: int = MAX_BODY_BYTES, seconds: float = BODY_SECONDS) -> bytes:
    """The request body, refused (413) by its declared length before a byte is read, and
    refused (408) when it is not all there within `seconds`.

    Reads exactly `Content-Length` bytes, never more; without one, a body only when the
    server de-chunked it (`wsgi.input_terminated`, as gunicorn does), and then at most
    `limit` + 1 bytes, so a body that never ends is refused too. The time counts for the
    whole body, not each read, so a client trickling a byte a second is cut off too; it is
    kept through the socket gunicorn hands the app (`gunicorn.socket`), whose timeout is
    set before each read and restored after.
    """
    declared = environ.get("CONTENT_LENGTH") or ""
    stream = environ.get("wsgi.input")
    if declared:
        if not (declared.isascii() and declared.isdigit()):
            raise Refused(400, "Content-Length is not a number")
        digits = declared.lstrip("0") or "0"  # int() refuses over 4,300 digits, even zeros
        if len(digits) > len(str(limit)) or int(digits) > limit:
            raise Refused(413, f"declared body over {limit} bytes")
        length = int(digits)
        body = _read(stream, length, environ.get("gunicorn.socket"), seconds)
        if len(body) < length:
            raise Refused(400, "body shorter than its Content-Length")
        return body
    if not environ.get("wsgi.input_terminated"):
        return b""  # HTTP/1.1: no length and no chunks means no body
    body = _read(stream, limit + 1, environ.get("gunicorn.socket"), seconds)
    if len(body) > limit:
        raise Refused(413, f"body over {limit} bytes")
    return body


def _read(stream, size: int, sock=None, seconds: float = BODY_SECONDS) -> bytes:
    # A WSGI input may return fewer bytes than asked before the end.
    chunks, remaining = [], size
    deadline = time.monotonic() + seconds
    before = sock.gettimeout() if sock is not None else None
    try:
        while stream is not None and remaining > 0:
            if sock is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
            chunk = stream.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except TimeoutError:
        raise Refused(408, f"body not received within {seconds:g} s") from None
    finally:
        if sock is not None:
            sock.settimeout(before)
    return b"".join(chunks)


def verify_signature(verifier: SignatureVerifier, environ: dict, body: bytes) -> None:
    """Refuse (401) unless Slack signed these exact bytes at a time within five minutes.

    The timestamp must be plain ASCII digits: Bolt's `int()` raised on "soon", and
    accepts " 17…", "1_7…" and Arabic-Indic digits, none of which Slack sends.
    """
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
    signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
    if not timestamp or not signature:
        raise Refused(401, "no Slack signature")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _DIGITS):
        raise Refused(401, "timestamp is not a Unix time")
    if not signature.isascii():  # hmac.compare_digest raises on non-ASCII text
        raise Refused(401, "signature is not a signature")
    age = int(verifier.clock.now() - int(timestamp))
    if abs(age) > MAX_AGE_SECONDS:
        when = f"{age} s old" if age > 0 else f"{-age} s ahead"
        raise Refused(401, f"timestamp is {when}: a replay, or a clock is wrong")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        valid = _signed_bytes(verifier.signing_secret, timestamp, body, signature)
    else:
        valid = verifier.is_valid(body=text, timestamp=timestamp, signature=signature)
    if not valid:
        raise Refused(401, "signature does not match")


def _signed_bytes(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    # Slack signs bytes; the SDK only signs text. The same HMAC over a body that is not
    # UTF-8 tells a signed one (400: Slack never sends it) from a forged one (401).
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """A signed body as Slack sends it, else 400: a JSON object of the Events API (with a
    JSON content type), or a form (commands) whose `payload` field, when there is one, is
    a JSON interaction.

    Slack sends a slash command only as a form: a command in JSON (which Bolt would run)
    is refused, as is a form that starts with `{` (which Bolt would read as JSON).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == JSON_TYPE:
        value = _json_object(text, "body")
        if not _is_one_of(value.get("type"), EVENTS_API_TYPES):
            raise Refused(400, "JSON body is not an Events API request")
        return value
    if media_type != FORM_TYPE:
        raise Refused(400, "content type is neither JSON nor a form")
    if text.startswith("{"):
        raise Refused(400, "form body is JSON")
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        value = _json_object(fields["payload"], "payload")
        if not _is_one_of(value.get("type"), INTERACTION_TYPES):
            raise Refused(400, "payload is not an interaction")
        return value
    if "command" in fields or fields.get("ssl_check") == "1":
        return fields
    raise Refused(400, "form is neither a command nor an interaction")


def _is_one_of(kind: Any, kinds: frozenset[str]) -> bool:
    return isinstance(kind, str) and kind in kinds  # a list or an object is not hashable


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is JSON but not an object")
    return value


def check_shape(body: dict[str, Any]) -> bool:
    """Refuse a signed request whose ids and objects are not where and what Slack puts them;
    then mend, in place, the lone surrogates left in its text. True when it mended one
    (the raw body no longer says what `body` does).

    An `event_callback` must carry an `event` object with a string `type`; a malformed one
    raises `MalformedEvent` (200, skipped). An interaction must name its `user` (and its
    team and channel, if any) as an object with an id; block actions must have an action,
    a view submission a view with a callback id. A command or interaction that fails
    raises 400. An id (a field of the lists above) holding a lone surrogate is malformed
    too; any other string holding one has each replaced by U+FFFD (`mend_surrogates`).
    """
    problem = _field_problem(body)
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            problem = problem or "event is not an object with a type"
        if problem:
            raise MalformedEvent(problem)
        return mend_surrogates(body)
    if problem is None and len(body.get("response_urls") or ()) > 1:
        # Bolt logs through a context that has no logger yet when it meets two, and raises.
        # Slack sends one per input marked `response_url_enabled`; no view of Heard's has one.
        problem = "more than one response_urls entry"
    if problem is None and kind in INTERACTION_TYPES:
        problem = _interaction_problem(kind, body)
    if problem:
        raise Refused(400, problem)
    return mend_surrogates(body)


def mend_surrogates(body: dict[str, Any]) -> bool:
    """Replace, in place, each lone UTF-16 surrogate in `body`'s strings and keys, at any
    depth, by U+FFFD; True when there was one.

    A loop, not recursion: JSON nested as deep as `json.loads` allows must not raise here.
    """
    mended = False
    pending: list[dict | list] = [body]
    while pending:
        container = pending.pop()
        for key in list(container) if isinstance(container, dict) else range(len(container)):
            value = container[key]
            if isinstance(value, dict | list):
                pending.append(value)
            elif isinstance(value, str) and _LONE_SURROGATE.search(value):
                container[key] = _LONE_SURROGATE.sub("\ufffd", value)
                mended = True
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                container[_LONE_SURROGATE.sub("\ufffd", key)] = container.pop(key)
                mended = True
    return mended


def _interaction_problem(kind: str, body: dict[str, Any]) -> str | None:
    # Unlike events, which name them by id, interactions carry these as objects.
    user = body.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return "user is not an object with an id"
    for name in ("team", "channel"):
        if not isinstance(body.get(name), dict | None):
            return f"{name} is not an object"
    if kind == "block_actions":
        actions = body.get("actions")
        if not actions:
            return "actions is empty"
        if not all(isinstance(action.get("action_id"), str) for action in actions):
            return "an action has no action_id"  # Bolt's matchers read action["action_id"]
    view = body.get("view")
    if kind in ("view_submission", "view_closed") and not (
        isinstance(view, dict) and isinstance(view.get("callback_id"), str) and isinstance(view.get("type"), str)
    ):
        return "view is not an object with a callback_id and a type"  # Bolt's matchers read view["type"]
    return None


def _field_problem(value: dict[str, Any], path: str = "", depth: int = 0) -> str | None:
    """The first field (named as `event.channel`) that is not what Slack sends, or None.

    Only the fields the object has are looked at (a set intersection, then in the order
    of the lists above): this runs on every request before its answer."""
    children = []
    for name in sorted(value.keys() & _CHECKED, key=_RANK.__getitem__):
        field, kind = value[name], _KIND[name]
        if kind == "string":
            if not isinstance(field, _TEXT_OR_NONE):
                return f"{path}{name} is not a string"
            if field and _LONE_SURROGATE.search(field):
                return f"{path}{name} holds a lone surrogate"
        elif kind == "id":
            inner = field.get("id") if isinstance(field, dict) else field
            if isinstance(field, dict) and not isinstance(inner, _TEXT_OR_NONE):
                return f"{path}{name}.id is not a string"
            if not isinstance(inner, _TEXT_OR_NONE):
                return f"{path}{name} is not an id"
            if inner and _LONE_SURROGATE.search(inner):
                return f"{path}{name}{'.id' if isinstance(field, dict) else ''} holds a lone surrogate"
        elif kind == "url":
            if not _is_url(field):
                return f"{path}{name} is not a URL"
        elif kind == "object":
            if isinstance(field, dict):
                children.append((name, field))
            elif field is not None or name == "event":
                return f"{path}{name} is not an object"
        elif field is not None or name != "authorizations":  # a list of objects
            if not isinstance(field, list) or not all(isinstance(item, dict) for item in field):
                return f"{path}{name} is not a list of objects"
            children += [(f"{name}[{index}]", item) for index, item in enumerate(field[:5])]
    if depth < _DEPTH:
        for name, child in children:
            problem = _field_problem(child, f"{path}{name}.", depth + 1)
            if problem:
                return problem
    return None


_TEXT_OR_NONE = (str, type(None))
_KIND = {
    **dict.fromkeys(_STRING_FIELDS, "string"), **dict.fromkeys(_ID_OR_OBJECT_FIELDS, "id"),
    **dict.fromkeys(_URL_FIELDS, "url"), **dict.fromkeys(_NESTED_OBJECTS, "object"),
    **dict.fromkeys(_LISTS_OF_OBJECTS, "list"),
}  # fmt: skip
_CHECKED = frozenset(_KIND)
_RANK = {name: rank for rank, name in enumerate(_KIND)}  # the order problems are reported in


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


class SlackFront:
    """WSGI middleware: POST /slack/events passes `read_body`, `verify_signature`,
    `parse_body` and `check_shape` before `inner` (Bolt's handler) sees it; every other
    request goes straight through.

    With `events`, an `event_callback` that passed goes to it instead of Bolt (Heard's
    inbox: `bot.slack.middleware.EventStore`) and is answered 200: the one thing done
    before Slack's answer is storing it, and Bolt would only parse it again.

    A request `check_shape` mended (a lone surrogate replaced) goes on as mended: the
    event is stored as the mended JSON, and Bolt is given the mended body, signed again
    with the request's own timestamp so its own signature check holds.
    """

    def __init__(self, inner: Callable, signing_secret: str, *, path: str = EVENTS_PATH,
                 limit: int = MAX_BODY_BYTES, body_seconds: float = BODY_SECONDS,
                 events: Callable[[dict, str], None] | None = None):  # fmt: skip
        self.inner = inner
        self.events = events
        self.verifier = SignatureVerifier(signing_secret)
        self.path = path
        self.limit = limit
        self.body_seconds = body_seconds

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self.path:
            return self.inner(environ, start_response)
        try:
            body = read_body(environ, self.limit, self.body_seconds)
            verify_signature(self.verifier, environ, body)
            parsed = parse_body(body, environ.get("CONTENT_TYPE"))
            mended = check_shape(parsed)
        except Refused as refusal:
            return self._refuse(refusal, environ, start_response)
        if mended:
            log.info("replaced lone surrogates in the text of a request (%s)", parsed.get("type"))
            text = json.dumps(parsed)  # ASCII: a mended surrogate is now \ufffd
            is_json = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower() == JSON_TYPE
            body = self._signed_again(environ, text if is_json else urlencode({"payload": text}))
        if self.events is not None and parsed.get("type") == "event_callback":
            self.events(parsed, body.decode())  # stored (or dropped) before the answer
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        if "command" in parsed and b"payload" in body:  # a slash command's form, not an interaction
            body = self._keep_payload_word(environ, body)
        # Bolt reads the body again, from the stream and by CONTENT_LENGTH.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.inner(environ, start_response)

    def _keep_payload_word(self, environ: dict, body: bytes) -> bytes:
        """A command whose text says "payload" (`/heard feedback the payload is lost`).

        Bolt takes any form holding the letters "payload" for an interaction and, finding no
        `payload` field, reads an empty body: the command would vanish. The same form with
        one letter percent-encoded (`p%61yload`) means the same to any form parser and not
        to Bolt's test; it is signed again, so Bolt's signature check still holds.
        """
        return self._signed_again(environ, body.decode().replace("payload", "p%61yload"))

    def _signed_again(self, environ: dict, text: str) -> bytes:
        """`text` as the body, signed with the request's own timestamp."""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        environ["HTTP_X_SLACK_SIGNATURE"] = self.verifier.generate_signature(timestamp=timestamp, body=text)
        return text.encode()

    def _refuse(self, refusal: Refused, environ: dict, start_response) -> list[bytes]:
        verb = "skipped" if isinstance(refusal, MalformedEvent) else "refused"
        log.warning(
            "%s POST %s with %d from %s: %s",
            verb, self.path, refusal.status, environ.get("REMOTE_ADDR", "?"), refusal.reason,
        )  # fmt: skip
        payload = (
            b""
            if refusal.status == 200
            else json.dumps({"error": _ERRORS[refusal.status]}).encode()
        )
        start_response(
            _STATUS_LINES[refusal.status],
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]


_STATUS_LINES = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized",
                 408: "408 Request Timeout", 413: "413 Content Too Large"}  # fmt: skip
_ERRORS = {400: "malformed request", 401: "invalid request", 408: "request too slow",
           413: "request too large"}  # fmt: skip
