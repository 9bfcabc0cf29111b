"""Slack's Socket Mode for the fake Slack: `apps.connections.open` and the websocket it hands out.

    with FakeSlack(acme) as slack, FakeSocketMode(slack, app_token="xapp-1-A0HEARD-1-fake") as socket:
        # Heard (or slack_sdk's own SocketModeClient, unmodified) calls apps.connections.open
        # with the app-level token, connects to the ws://127.0.0.1:… URL and gets `hello`.
        socket.wait_for_connections(1)
        sender = SocketModeSender(socket)        # the HTTP tests' payloads, as envelopes
        sender.event({"type": "app_home_opened", ...}, team_id=acme.team_id)

The websocket is RFC 6455 on a plain TCP socket (the standard library only). As on Slack:

- a connection opens with a ticket from `apps.connections.open` (once), and starts with
  `hello` (`num_connections`, `connection_info.app_id`);
- each envelope (`events_api`, `slash_commands`, `interactive`) goes to one open connection,
  spread round-robin across them, and must be acknowledged (`{"envelope_id": …}`, with a
  `payload` for commands and interactions) within `ack_seconds` (3 s);
- an `events_api` envelope left unacknowledged is sent again, on whichever connection is
  open then, with `retry_attempt` one higher and `retry_reason` `timeout`, up to three
  times; a command or interaction is not (the person sees Slack's timeout error);
- `disconnect(reason)` sends `{"type": "disconnect", "reason": …}` (`refresh_requested`,
  `link_disabled`, `warning`) and closes the connection a moment later; `drop()` closes the
  TCP connection without a word; `stop_answering_pings()` makes pings go unanswered, as on a
  stalled network.

Everything sent and every acknowledgement is recorded (`sent`, `Delivery.acks`), so a test
can say what Slack saw.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, parse_qsl, urlsplit

from bot.sandbox.signing import Response, SlackRequestSender

ACK_SECONDS = 3.0  # Slack's window for an acknowledgement
MAX_RETRIES = 3  # how often Slack sends an unacknowledged event again
CLOSE_AFTER_DISCONNECT = 1.0  # seconds between `disconnect` and the connection closing
ENVELOPE_TYPES = ("events_api", "slash_commands", "interactive")
DISCONNECT_REASONS = ("refresh_requested", "link_disabled", "warning")

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


@dataclass
class Delivery:
    """One envelope as Slack tracks it: every time it was sent, and the acknowledgements."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    ack_within: float
    lose_acks: int = 0  # acknowledgements to ignore, as if they never arrived
    retry_attempt: int = 0  # of the latest send
    retry_reason: str | None = None
    sends: list[tuple[int, int]] = field(default_factory=list)  # (connection id, retry_attempt)
    acks: list[dict[str, Any]] = field(default_factory=list)  # every acknowledgement that arrived
    lost: int = 0  # acknowledgements that arrived and were ignored (`lose_acks`)
    gave_up: bool = False  # unacknowledged after the last try
    _link: int | None = None  # where the latest send went; None: to be sent
    _deadline: float = 0.0
    _done: threading.Event = field(default_factory=threading.Event)

    @property
    def acked(self) -> bool:
        return bool(self.acks)

    @property
    def response(self) -> dict[str, Any] | None:
        """The `payload` of the first acknowledgement (a command's answer, a view's errors)."""
        return self.acks[0].get("payload") if self.acks else None

    def wait(self, timeout: float = 15.0) -> bool:
        """Until acknowledged (True) or given up or `timeout` passed (False)."""
        self._done.wait(timeout)
        return self.acked

    def envelope(self) -> dict[str, Any]:
        message = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.type != "events_api",
        }
        if self.type == "events_api":
            message["retry_attempt"] = self.retry_attempt
            message["retry_reason"] = self.retry_reason or ""
        return message


class _Link:
    """One websocket connection, server side."""

    def __init__(self, link_id: int, sock: socket.socket):
        self.id = link_id
        self.sock = sock
        self.open = True
        self.answers_pings = True
        self.pings = 0
        self._send_lock = threading.Lock()

    def send_json(self, message: Mapping[str, Any]) -> bool:
        return self.send_frame(_TEXT, json.dumps(message).encode())

    def send_frame(self, opcode: int, data: bytes) -> bool:
        """False when the connection is gone."""
        header = bytes([0x80 | opcode])
        length = len(data)
        if length < 126:
            header += bytes([length])
        elif length < 65536:
            header += bytes([126]) + struct.pack("!H", length)
        else:
            header += bytes([127]) + struct.pack("!Q", length)
        with self._send_lock:
            if not self.open:
                return False
            try:
                self.sock.sendall(header + data)
            except OSError:
                self.open = False
                return False
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        """A clean close: the close frame, then the socket."""
        self.send_frame(_CLOSE, struct.pack("!H", code) + reason.encode())
        self.drop()

    def drop(self) -> None:
        """The TCP connection ends with no close frame."""
        with self._send_lock:
            self.open = False
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class FakeSocketMode:
    """Socket Mode for one app on a `FakeSlack`: `apps.connections.open` with one of
    `app_tokens` returns a URL of this server. Start it (or use it as a context manager)
    before Heard connects."""

    def __init__(
        self,
        slack: Any,
        *,
        app_token: str = "xapp-1-A0HEARD-1-fake",
        app_id: str = "A0HEARD",
        ack_seconds: float = ACK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack = slack
        self.app_tokens = {app_token}
        self.app_id = app_id
        self.ack_seconds = ack_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tickets: set[str] = set()
        self._links: dict[int, _Link] = {}
        self._ids = itertools.count(1)
        self._turn = itertools.count()
        self._deliveries: list[Delivery] = []
        self.sent: list[tuple[int, dict[str, Any]]] = []  # (connection id, message) in order
        self.opened = 0  # connections ever opened (a reconnection adds one)
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.slack.socket = self  # apps.connections.open answers from here now
        for target, name in (
            (self._accept, "fake-socket-accept"),
            (self._pump, "fake-socket-pump"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            links = list(self._links.values())
            self._changed.notify_all()
        for link in links:
            link.drop()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        if getattr(self.slack, "socket", None) is self:
            self.slack.socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    # -- apps.connections.open (called by FakeSlack) ----------------------------------------------

    def open_connection(self, token: str | None) -> dict[str, Any]:
        """`apps.connections.open`'s answer for `token`."""
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token not in self.app_tokens:
            return {"ok": False, "error": "invalid_auth"}
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets.add(ticket)
        return {
            "ok": True,
            "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}",
        }

    # -- what a test does ---------------------------------------------------------------------------

    def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        ack_within: float | None = None,
        lose_acks: int = 0,
        retry_attempt: int = 0,
        retry_reason: str | None = None,
    ) -> Delivery:
        """Send an envelope of `kind` around `payload` to one open connection (or the next one
        to open) and track it; `Delivery.wait()` awaits the acknowledgement. `lose_acks`
        acknowledgements are ignored, as if lost on the way."""
        if kind not in ENVELOPE_TYPES:
            raise ValueError(f"envelope type must be one of {ENVELOPE_TYPES}")
        delivery = Delivery(
            envelope_id=str(uuid.uuid4()), type=kind, payload=payload,
            ack_within=self.ack_seconds if ack_within is None else ack_within, lose_acks=lose_acks,
            retry_attempt=retry_attempt, retry_reason=retry_reason,
        )  # fmt: skip
        with self._changed:
            self._deliveries.append(delivery)
            self._changed.notify_all()
        return delivery

    def disconnect(self, reason: str = "refresh_requested", *, link: int | None = None,
                   close_after: float = CLOSE_AFTER_DISCONNECT) -> None:  # fmt: skip
        """Tell one connection (the newest by default) to go, then close it `close_after`
        seconds later, as Slack does before a deploy (`refresh_requested`) or when the app's
        Socket Mode is turned off (`link_disabled`)."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"reason must be one of {DISCONNECT_REASONS}")
        target = self._link(link)
        message = {"type": "disconnect", "reason": reason,
                   "debug_info": {"host": "applink-fake"}}  # fmt: skip
        self._send(target, message)
        timer = threading.Timer(close_after, target.close)
        timer.daemon = True
        timer.start()

    def drop(self, link: int | None = None) -> None:
        """End one connection (the newest by default) without a close frame."""
        self._link(link).drop()
        with self._changed:
            self._changed.notify_all()

    def stop_answering_pings(self, link: int | None = None) -> None:
        """Pings on this connection go unanswered, as when the network stalls."""
        self._link(link).answers_pings = False

    @property
    def connections(self) -> list[int]:
        """Ids of the open connections, oldest first."""
        with self._lock:
            return [link_id for link_id, link in sorted(self._links.items()) if link.open]

    def wait_for_connections(
        self, count: int = 1, *, opened: int | None = None, timeout: float = 10.0
    ) -> list[int]:
        """Await `count` open connections (and, with `opened`, that many opened in all)."""

        def ready() -> bool:
            return len(self.connections) >= count and (opened is None or self.opened >= opened)

        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(f"{len(self.connections)} open connection(s), {self.opened} opened, "
                                   f"after {timeout}s; wanted {count}" + (f" and {opened} opened" if opened else ""))  # fmt: skip
            return self.connections

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Await a condition (on the fake's state, or anything else): checked whenever a
        connection opens or closes or an acknowledgement arrives, and every 20 ms."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"not so after {timeout}s: {predicate}")
                self._changed.wait(min(remaining, 0.02))

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    # -- the websocket ----------------------------------------------------------------------------

    def _link(self, link_id: int | None) -> _Link:
        with self._lock:
            open_links = [link for _, link in sorted(self._links.items()) if link.open]
            if link_id is None:
                if not open_links:
                    raise RuntimeError("no open Socket Mode connection")
                return open_links[-1]
            return self._links[link_id]

    def _send(self, link: _Link, message: dict[str, Any]) -> bool:
        with self._changed:
            self.sent.append((link.id, message))
        return link.send_json(message)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(
                target=self._serve, args=(sock,), name="fake-socket-link", daemon=True
            )
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        reader = sock.makefile("rb")
        link = self._handshake(sock, reader)
        if link is None:
            sock.close()
            return
        try:
            self._read(link, reader)
        finally:
            link.open = False
            with self._changed:
                self._changed.notify_all()

    def _handshake(self, sock: socket.socket, reader) -> _Link | None:
        """Accept the upgrade of a GET with a ticket from apps.connections.open, then `hello`."""
        try:
            request_line = reader.readline(8192).decode("latin-1").strip()
            headers = {}
            while (line := reader.readline(8192).decode("latin-1").strip()) != "":
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        except OSError:
            return None
        parts = request_line.split(" ")
        target = urlsplit(parts[1]) if len(parts) == 3 else None
        ticket = (parse_qs(target.query).get("ticket") or [""])[0] if target else ""
        key = headers.get("sec-websocket-key", "")
        with self._lock:
            valid = ticket in self._tickets and target.path == "/link/" and bool(key)
            self._tickets.discard(ticket)  # a ticket opens one connection
        if not valid:
            try:
                sock.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            except OSError:
                pass
            return None
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )  # fmt: skip
        with self._changed:
            link = _Link(next(self._ids), sock)
            self._links[link.id] = link
            self.opened += 1
            count = len(self.connections)
        hello = {"type": "hello", "num_connections": count,
                 "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                 "connection_info": {"app_id": self.app_id}}  # fmt: skip
        self._send(link, hello)
        with self._changed:
            self._changed.notify_all()  # open, and greeted: envelopes may go to it now
        return link

    def _read(self, link: _Link, reader) -> None:
        fragments = b""
        while link.open:
            frame = _read_frame(reader)
            if frame is None:
                return
            fin, opcode, data = frame
            if opcode == _PING:
                link.pings += 1
                if link.answers_pings:
                    link.send_frame(_PONG, data)
            elif opcode == _CLOSE:
                link.close(1000)
                return
            elif opcode in (_TEXT, 0x0):
                fragments += data
                if fin:
                    self._received(link, fragments)
                    fragments = b""

    def _received(self, link: _Link, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        with self._changed:
            for delivery in self._deliveries:
                if delivery.envelope_id == message["envelope_id"]:
                    if delivery.lose_acks > 0:
                        delivery.lose_acks -= 1
                        delivery.lost += 1
                    else:
                        delivery.acks.append(message)
                        delivery._done.set()
                    self._changed.notify_all()
                    return

    def _pump(self) -> None:
        """Sends what is due: new envelopes, and events whose acknowledgement is overdue."""
        while not self._stopping.is_set():
            sends: list[tuple[_Link, Delivery]] = []
            with self._changed:
                now = self._clock()
                open_links = [link for _, link in sorted(self._links.items()) if link.open]
                for delivery in self._deliveries:
                    if delivery.acked or delivery.gave_up:
                        continue
                    if delivery._link is not None and now < delivery._deadline:
                        continue
                    if delivery._link is not None:  # overdue
                        if delivery.type != "events_api" or delivery.retry_attempt >= MAX_RETRIES:
                            delivery.gave_up = True
                            delivery._done.set()
                            continue
                        delivery.retry_attempt += 1
                        delivery.retry_reason = "timeout"
                        delivery._link = None
                    if not open_links:
                        continue
                    link = open_links[next(self._turn) % len(open_links)]
                    delivery._link, delivery._deadline = link.id, now + delivery.ack_within
                    delivery.sends.append((link.id, delivery.retry_attempt))
                    sends.append((link, delivery))
                self._changed.wait(0.02)
            for link, delivery in sends:
                if not self._send(link, delivery.envelope()):
                    with self._changed:
                        delivery._link = None  # the connection is gone: the next one gets it
                        delivery.sends.pop()


def _read_frame(reader) -> tuple[bool, int, bytes] | None:
    """One frame from a client (masked, as RFC 6455 requires); None at the end."""
    try:
        head = reader.read(2)
        if len(head) < 2:
            return None
        fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
        masked, length = head[1] & 0x80, head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", reader.read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", reader.read(8))[0]
        mask = reader.read(4) if masked else b"\0\0\0\0"
        data = reader.read(length)
        if len(data) < length:
            return None
    except (OSError, struct.error, ValueError):
        return None
    return fin, opcode, bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))


class SocketModeSender(SlackRequestSender):
    """The HTTP tests' requests, delivered as Socket Mode envelopes instead of signed POSTs.

    The same builders (`event`, `command`, `interaction` and the payload helpers) make the
    same payloads; `post` sends each as an envelope (`events_api`, `slash_commands` or
    `interactive`) and waits for its acknowledgement. The answer is a `Response`: 200 with
    the acknowledgement's `payload` as a JSON body (or empty), or 504 when no
    acknowledgement came (Slack shows the person an error then). A retry
    (`retry_num=`) becomes the envelope's `retry_attempt`. Nothing is signed in Socket Mode.
    """

    def __init__(self, socket: FakeSocketMode, *, ack_within: float | None = None, timeout: float = 15.0,
                 base_url: str = "", **kwargs: Any) -> None:  # fmt: skip
        # `base_url`: where `get` goes (Heard's /healthz in Socket Mode), if anywhere.
        super().__init__(base_url, "", timeout=timeout, **kwargs)
        self.socket = socket
        self.ack_within = ack_within
        self.last: Delivery | None = None

    def post(self, path: str, body: bytes, content_type: str, *, timestamp: int | None = None,
             signature: str | None = None, sign_with: str | None = None,
             headers: Mapping[str, str] | None = None) -> Response:  # fmt: skip
        if timestamp is not None or signature is not None or sign_with is not None:
            raise ValueError("Socket Mode envelopes are not signed")
        kind, payload = envelope_for(body, content_type)
        headers = {name.lower(): value for name, value in (headers or {}).items()}
        retry = headers.get("x-slack-retry-num")
        self.last = self.socket.deliver(
            kind, payload, ack_within=self.ack_within, retry_attempt=int(retry or 0),
            retry_reason=headers.get("x-slack-retry-reason") if retry else None,
        )  # fmt: skip
        if not self.last.wait(self.timeout):
            return Response(504, {}, b"")
        answer = self.last.response
        body = json.dumps(answer).encode() if answer else b""
        return Response(200, {"content-type": "application/json"} if body else {}, body)


def envelope_for(body: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The Socket Mode envelope type and payload for an HTTP request body Slack would send."""
    text = body.decode("utf-8")
    if content_type.startswith("application/json"):
        payload = json.loads(text)
        if payload.get("type") == "url_verification":
            raise ValueError("Socket Mode has no URL verification")
        return "events_api", payload
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        return "interactive", json.loads(form["payload"])
    return "slash_commands", form
