"""Socket Mode: Slack's requests over a websocket Heard opens, with the HTTP path's guarantees.

`SocketMode(runtime, app).start()` asks Slack for a URL (`apps.connections.open` with the
app-level token, `SLACK_APP_TOKEN`), connects, and answers each envelope as the HTTP front
(`bot.slack.front`) answers a request:

- an `events_api` envelope passes the same shape checks, is stored in the inbox
  (`bot.slack.middleware.EventStore`) and only then acknowledged. A process that stops
  between the two never acknowledged it, so Slack sends it again (`retry_attempt` one
  higher) and the inbox, keyed on `event_id`, stores it once. Several processes may share
  the app token (Slack spreads envelopes across their connections); whatever two of them
  receive is one row. When storing fails (the database is down) nothing is acknowledged,
  and Slack sends the event again.
- commands and interactions go through Bolt, whose answer (an ephemeral reply, a modal's
  `response_action` and errors, an options list) becomes the acknowledgement's `payload`,
  within Slack's three seconds; the work after the answer runs on Bolt's listener pool.
- a malformed envelope is acknowledged (so Slack does not resend it) and logged in one line.

The websocket is slack_sdk's built-in client (no extra dependency), watched by a
supervisor thread that reconnects, with back-off (`backoff`; a connection lost within
`STABLE_SECONDS` of opening counts as a failed try), when Slack sends
`disconnect` (`refresh_requested` before its deploys, `link_disabled` when the app's
Socket Mode is turned off), when the socket closes, and when pings go unanswered for four
ping intervals. It logs one line per outage: when the connection is back (or, if the
first try fails, that it keeps trying). The SDK's own connection chatter is silenced
(`SDK_LOGGER`); `state()` is what `/healthz` reports.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.runtime import Runtime
from bot.slack.front import Refused, check_shape

log = logging.getLogger(__name__)

PING_SECONDS = 5.0  # a connection whose pings go unanswered for 4 of these is given up
# The SDK reads with a 3-second timeout and holds its read lock meanwhile, so closing a
# connection (replacing it, stopping) waited up to that long; half a second instead.
READ_SECONDS = 0.5
CHECK_SECONDS = 1.0  # how often the supervisor looks at a connection nobody said was lost
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
START_SECONDS = 30.0  # how long `start` waits for the first connection
# A connection lost sooner than this after it opened counts as a failed try: one that Slack
# or a proxy keeps closing at once is reopened with back-off, not every CHECK_SECONDS.
STABLE_SECONDS = 30.0
# The SDK logs each connection's every step at INFO and its errors once more at ERROR;
# Heard says what matters in one line of its own. Set this logger to DEBUG to see them.
SDK_LOGGER = "bot.slack.socket_mode.sdk"


class SocketModeRefused(Exception):
    """Slack refused the app-level token (or Socket Mode) at start-up; one line."""


def backoff(failures: int) -> float:
    """Seconds before the next try after `failures` failed ones: 0 (the first retry is at
    once), then 1, 2, 4 … up to a minute."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1))


class _EndOfStream:
    """The connection's socket, whose end is an error: the SDK's reader takes an empty read
    for "nothing yet" and would spin on a socket the other side closed until its pings
    went stale; an `OSError` ends the connection at once."""

    def __init__(self, sock: Any, session_id: str):
        self._sock = sock
        self._session_id = session_id

    def recv(self, size: int, *args: Any) -> bytes:
        data = self._sock.recv(size, *args)
        if not data and size:
            ended = ConnectionResetError("Slack closed the connection")
            ended.session_id = self._session_id  # a replaced connection's end is no news
            raise ended
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(SocketModeClient):
    """The SDK's client, with reconnecting left to Heard's supervisor."""

    def __init__(self, *args: Any, on_reconnect_asked, **kwargs: Any):
        super().__init__(*args, auto_reconnect_enabled=False, **kwargs)
        self._on_reconnect_asked = on_reconnect_asked

    def connect(self) -> None:
        super().connect()
        session = self.current_session
        if (
            session is not None
            and session.sock is not None
            and not isinstance(session.sock, _EndOfStream)
        ):
            session.sock.settimeout(READ_SECONDS)
            session.sock = _EndOfStream(session.sock, session.session_id)

    def connect_to_new_endpoint(self, force: bool = False) -> None:
        # The SDK calls this on a `disconnect` message: the supervisor reconnects instead.
        self._on_reconnect_asked()

    def close(self) -> None:
        self.closed = True
        session = self.current_session
        if session is not None and session.sock is not None:
            try:  # wakes the reader now rather than after its 3-second read timeout
                session.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.message_queue.put(None)  # wakes the message processor, which sees `closed`
        super().close()


class SocketMode:
    """Heard's Socket Mode connection to Slack for `app` (built by `bot.app.build_app`)."""

    def __init__(self, runtime: Runtime, app: App, *, app_token: str | None = None,
                 ping_interval: float = PING_SECONDS, check_interval: float = CHECK_SECONDS):  # fmt: skip
        self.runtime = runtime
        self.app = app
        self.check_interval = check_interval
        sdk_log = logging.getLogger(SDK_LOGGER)
        if sdk_log.level == logging.NOTSET:
            sdk_log.setLevel(logging.CRITICAL)
        self.client = _Client(
            app_token or runtime.settings.slack_app_token,
            logger=sdk_log,
            web_client=runtime.client(),
            ping_interval=ping_interval,
            on_reconnect_asked=self._wake,
            on_message_listeners=[self._on_message],
            on_error_listeners=[self._failed],
            on_close_listeners=[lambda code, reason: self._lost(f"closed by Slack ({code})")],
        )
        self.client.socket_mode_request_listeners.append(self._handle)
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._asked: str | None = None  # Slack's `disconnect` reason, until reconnected
        self._why: str | None = None  # how the connection was lost
        self._state = "connecting"
        self._since = self._now()
        self._supervisor: threading.Thread | None = None
        self._opened_at: float | None = None  # when the current connection opened (monotonic)
        self._short_lived = 0  # connections in a row lost within STABLE_SECONDS

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = START_SECONDS) -> None:
        """Connect, then keep connected on a supervisor thread. Raises `SocketModeRefused`
        when Slack refuses the app-level token; keeps trying (the supervisor's back-off)
        while Slack cannot be reached, for up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        failures = 0
        while True:
            error = self._connect()
            if error is None:
                break
            if self._stopping.is_set():  # SIGTERM while trying (`interrupt`): not a failure
                return
            failures += 1
            if time.monotonic() + backoff(failures) > deadline:
                raise SocketModeRefused(f"cannot connect to Slack in Socket Mode: {error}")
            if failures == 1:
                log.warning("cannot connect to Slack in Socket Mode yet (%s); retrying", error)
            if self._stopping.wait(backoff(failures)):
                return
        with self._lock:  # what a failed try said is no outage of this connection
            self._asked = self._why = None
        self._opened_at = time.monotonic()
        self._set_state("connected")  # before the log line, which tests and operators wait for
        log.info("Socket Mode connected (session %s)", self.client.session_id())
        self._supervisor = threading.Thread(
            target=self._supervise, name="heard-socket-mode", daemon=True
        )
        self._supervisor.start()

    def interrupt(self) -> None:
        """Give up connecting, safe from a signal handler (it only sets flags): `start`, still
        trying for its first connection, returns after the try in hand, and the supervisor
        stops. `stop` then closes what is open."""
        self._stopping.set()
        self._wakeup.set()

    def stop(self) -> None:
        """Close the connection; envelopes not acknowledged by now Slack sends again."""
        self._stopping.set()
        self._wakeup.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
        self.client.close()
        self._set_state("closed")

    def state(self) -> dict[str, str]:
        """`{"socket": "connected" | "connecting" | "reconnecting" | "closed", "since": …}`
        (for `/healthz`)."""
        with self._lock:
            state, since = self._state, self._since
        if state == "connected" and not self.client.is_connected():
            state = "reconnecting"
        return {"socket": state, "since": since.isoformat(timespec="seconds")}

    @property
    def connected(self) -> bool:
        return self.state()["socket"] == "connected"

    # -- staying connected ----------------------------------------------------------------------

    def _connect(self) -> str | None:
        """One try at a new connection (the old one, if any, is closed once the new one is
        up); None when connected, else why not."""
        try:
            self.client.wss_uri = self.client.issue_new_wss_url()
            self.client.connect()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else str(exc)
            if error in ("invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked"):
                raise SocketModeRefused(f"Slack refused SLACK_APP_TOKEN: {error}") from None
            return str(error)
        except Exception as exc:  # noqa: BLE001 - unreachable, a proxy refusing, a garbled answer: try again later
            return f"{type(exc).__name__}: {exc}"
        return None if self.client.is_connected() else "the websocket handshake failed"

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.wait(self.check_interval)
            self._wakeup.clear()
            if self._stopping.is_set():
                return
            with self._lock:
                asked, why = self._asked, self._why
            if asked is None and self.client.is_connected():
                continue
            self._reconnect(asked or why or "the connection stopped answering pings")

    def _reconnect(self, reason: str) -> None:
        lost_at = time.monotonic()
        self._set_state("reconnecting")
        failures = 0
        short = self._opened_at is not None and lost_at - self._opened_at < STABLE_SECONDS
        self._short_lived = self._short_lived + 1 if short else 0
        # The first short-lived connection is reopened at once, the next after 1 s, 2 s …
        if self._short_lived and self._stopping.wait(backoff(self._short_lived - 1)):
            return
        while not self._stopping.is_set():
            try:
                error = self._connect()
            except SocketModeRefused as exc:
                error = str(exc)  # the token was revoked while running: keep trying, loudly once
            if error is None:
                with self._lock:
                    self._asked = self._why = None
                self._opened_at = time.monotonic()
                self._set_state("connected")
                log.info(
                    "Socket Mode reconnected after %s (%.1f s, %d failed tries)",
                    reason, time.monotonic() - lost_at, failures,
                )  # fmt: skip
                return
            failures += 1
            if failures == 1:
                log.warning(
                    "Socket Mode connection lost (%s) and cannot reconnect yet (%s); retrying with back-off",
                    reason, error,
                )  # fmt: skip
            if self._stopping.wait(backoff(failures + max(0, self._short_lived - 1))):
                return

    def _on_message(self, message: str) -> None:
        if '"disconnect"' not in message:
            return
        try:
            parsed = json.loads(message)
        except ValueError:
            return
        if parsed.get("type") == "disconnect":
            reason = str(parsed.get("reason") or "no reason")
            with self._lock:
                self._asked = {
                    "refresh_requested": "Slack asked for a new connection (refresh_requested)",
                    "link_disabled": "Slack turned this app's Socket Mode off (link_disabled); "
                    "turn it on in the app's settings",
                }.get(reason, f"Slack disconnected ({reason})")
            self._wakeup.set()

    def _failed(self, error: Exception) -> None:
        if getattr(error, "session_id", None) not in (None, self.client.session_id()):
            return
        self._lost(f"{type(error).__name__}: {error}")

    def _lost(self, why: str) -> None:
        with self._lock:
            self._why = self._why or why
        self._wakeup.set()

    def _wake(self) -> None:
        self._wakeup.set()

    def _set_state(self, state: str) -> None:
        with self._lock:
            if state != self._state:
                self._state, self._since = state, self._now()

    def _now(self) -> datetime:
        return datetime.now(UTC)

    # -- answering envelopes ----------------------------------------------------------------------

    def _handle(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        try:
            response = self.answer(request)
        except Exception:
            log.exception("Socket Mode %s envelope not acknowledged: it failed", request.type)
            return
        if response is not None:
            client.send_socket_mode_response(response)

    def answer(self, request: SocketModeRequest) -> SocketModeResponse | None:
        """The acknowledgement for one envelope, once what must happen before it has (an
        event stored, a command answered); None to leave it unacknowledged."""
        body = request.payload
        try:
            check_shape(body)
        except Refused as refusal:
            log.warning("skipped a malformed %s envelope: %s", request.type, refusal.reason)
            return SocketModeResponse(envelope_id=request.envelope_id)
        if request.type == "events_api" and body.get("type") == "event_callback":
            self.runtime.event_store(
                body, json.dumps(body)
            )  # raises, unacknowledged, if not stored
            return SocketModeResponse(envelope_id=request.envelope_id)
        response = self.app.dispatch(
            BoltRequest(mode="socket_mode", body=body, headers=_retry_headers(request))
        )
        if response.status != 200:
            log.info(
                "Socket Mode %s envelope not acknowledged (HTTP %s)", request.type, response.status
            )
            return None
        if not response.body:
            return SocketModeResponse(envelope_id=request.envelope_id)
        content_type = (response.headers.get("content-type") or [""])[0]
        payload = (
            json.loads(response.body)
            if content_type.startswith("application/json")
            else {"text": response.body}
        )
        return SocketModeResponse(envelope_id=request.envelope_id, payload=payload)


def _retry_headers(request: SocketModeRequest) -> dict[str, str] | None:
    """The HTTP path's retry headers for an envelope Slack sent again, as Bolt reads them.
    Heard's own (recent Bolts have `adapter.socket_mode.internals.build_headers`, a private
    helper that pyproject's `slack-bolt>=1.21` does not promise)."""
    headers = {}
    if request.retry_attempt is not None:
        headers["x-slack-retry-num"] = str(request.retry_attempt)
    if request.retry_reason is not None:
        headers["x-slack-retry-reason"] = request.retry_reason
    return headers or None
