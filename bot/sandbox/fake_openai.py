"""A fake OpenAI-compatible server on loopback, for tests and `heard demo`.

The real `openai.OpenAI(base_url=fake.url, api_key="anything")` client talks to it over
HTTP, so tests exercise the same requests, parsing and error handling as production.

    with FakeOpenAI() as fake:
        fake.reply_json({"themes": []})     # the next completion answers this
        fake.fail(status=500)               # the one after fails
        fake.trickle(0.05)                  # the next answers a byte at a time
        ...
        fake.requests[-1]["json"]["messages"]

Scripted answers apply to `POST /v1/chat/completions`, in order. With nothing scripted,
`responder` answers; the default one returns a deterministic object that is valid for the
request's `json_schema` response format, so an "LLM" path runs offline.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from bot.sandbox.local_server import ServerThread

__all__ = ["FakeOpenAI", "example_for_schema", "schema_example_responder", "theme_labels_answer"]

Responder = Callable[[dict[str, Any]], "dict[str, Any] | str"]


@dataclass(frozen=True)
class _Reply:
    content: str | None
    refusal: str | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None


@dataclass(frozen=True)
class _Hang:
    seconds: float


@dataclass(frozen=True)
class _Trickle:
    interval: float


class FakeOpenAI:
    """Loopback OpenAI stand-in: `start()`/`stop()` or use it as a context manager."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, model: str = "gpt-4o-mini"):
        self.host = host
        self.port = port
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.responder: Responder = schema_example_responder
        self._script: deque[_Reply | _Failure | _Hang | _Trickle] = deque()
        self._lock = threading.Lock()
        self._request_arrived = threading.Condition(self._lock)
        self._released = threading.Event()
        self._running: ServerThread | None = None
        self._completions = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._running is not None:
            return self
        self._released = threading.Event()
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        self._running = ServerThread(server, "fake-openai").start()
        return self

    def stop(self) -> None:
        # Release hung requests first, or they would hold their connections until timeout.
        self._released.set()
        running, self._running = self._running, None
        if running is not None:
            running.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for `openai.OpenAI(base_url=...)`, e.g. http://127.0.0.1:PORT/v1."""
        if self._running is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        host, port = self._running.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- script ------------------------------------------------------------------------

    def reply_json(self, obj: Any) -> None:
        """The next completion's content is `json.dumps(obj)`."""
        self._push(_Reply(json.dumps(obj)))

    def reply_text(self, text: str, *, finish_reason: str = "stop") -> None:
        """The next completion's content is `text` as it is (invalid JSON, wrong shape...)."""
        self._push(_Reply(text, finish_reason=finish_reason))

    def reply_refusal(self, refusal: str = "I can't help with that.") -> None:
        """The next completion is a refusal: no content, `message.refusal` set."""
        self._push(_Reply(None, refusal=refusal))

    def fail(self, status: int = 500, times: int = 1, *, retry_after: float | None = None) -> None:
        """The next `times` completions fail with HTTP `status`.

        A 429 carries `Retry-After` (default 0.01 s, so retrying clients do not stall tests).
        """
        if status == 429 and retry_after is None:
            retry_after = 0.01
        for _ in range(times):
            self._push(_Failure(status, retry_after))

    def hang(self, seconds: float) -> None:
        """The next completion is answered only after `seconds`, or dropped when stopping."""
        self._push(_Hang(seconds))

    def trickle(self, interval: float) -> None:
        """The next completion answers 200 and then sends its body one byte every
        `interval` seconds, each read quick but the whole taking ages; dropped when stopping."""
        self._push(_Trickle(interval))

    @property
    def last_request(self) -> dict[str, Any]:
        with self._lock:
            if not self.requests:
                raise LookupError("FakeOpenAI has received no request")
            return self.requests[-1]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until `count` requests have arrived (True) or `timeout` passes (False)."""
        with self._request_arrived:
            return self._request_arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def _push(self, step: _Reply | _Failure | _Hang | _Trickle) -> None:
        with self._lock:
            self._script.append(step)

    # -- answering (called from the server's threads) ------------------------------------

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "json": body})
            self._request_arrived.notify_all()

    def _next_step(self) -> _Reply | _Failure | _Hang | _Trickle | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def _completion(self, body: dict[str, Any], reply: _Reply) -> dict[str, Any]:
        with self._lock:
            self._completions += 1
            number = self._completions
        prompt = "".join(str(m.get("content", "")) for m in body.get("messages", []))
        prompt_tokens = math.ceil(len(prompt) / 4)
        completion_tokens = math.ceil(len(reply.content or reply.refusal or "") / 4)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": 1_700_000_000 + number,
            "model": body.get("model", self.model),
            "system_fingerprint": "fp_heard_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": reply.content,
                        "refusal": reply.refusal,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _respond(self, body: dict[str, Any]) -> _Reply:
        answer = self.responder(body)
        return _Reply(answer if isinstance(answer, str) else json.dumps(answer))


def _error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so stop() never waits on idle keep-alives.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read fake.requests, not stderr

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            try:
                self._answer(method)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            path = self.path.split("?", 1)[0]
            fake._record(method, path, {k.lower(): v for k, v in self.headers.items()}, body)

            authorization = self.headers.get("Authorization", "")
            if not authorization.startswith("Bearer ") or not authorization[7:].strip():
                self._send(
                    401,
                    _error_body(
                        "Missing bearer token.", "invalid_request_error", "invalid_api_key"
                    ),
                )
                return

            if method == "GET" and path == "/v1/models":
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": fake.model, "object": "model", "created": 0, "owned_by": "heard"}
                        ],
                    },
                )
            elif method == "POST" and path == "/v1/chat/completions":
                if not isinstance(body, dict):
                    self._send(
                        400, _error_body("Body must be a JSON object.", "invalid_request_error")
                    )
                    return
                self._chat_completion(body)
            else:
                self._send(
                    404, _error_body(f"Unknown path {method} {path}.", "invalid_request_error")
                )

        def _chat_completion(self, body: dict[str, Any]) -> None:
            step = fake._next_step()
            if isinstance(step, _Hang):
                if fake._released.wait(step.seconds):
                    return  # stopping: drop the connection unanswered
                step = None
            if isinstance(step, _Trickle):
                self._trickle(fake._completion(body, fake._respond(body)), step.interval)
                return
            if isinstance(step, _Failure):
                headers = {}
                if step.retry_after is not None:
                    headers["Retry-After"] = f"{step.retry_after:g}"
                    headers["retry-after-ms"] = f"{step.retry_after * 1000:g}"
                kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
                self._send(
                    step.status, _error_body(f"Scripted failure {step.status}.", kind), headers
                )
                return
            reply = step if isinstance(step, _Reply) else fake._respond(body)
            self._send(200, fake._completion(body, reply))

        def _trickle(self, payload: Any, interval: float) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.flush()
            for byte in data:
                if fake._released.wait(interval):
                    return  # stopping: drop the connection mid-body
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


# -- schema-valid examples --------------------------------------------------------------


def schema_example_responder(request: dict[str, Any]) -> dict[str, Any] | str:
    """Default answer: an example of the requested JSON schema, or a short text.

    The digest's theme-labelling request (a `themes` list of `theme_id`, `label`,
    `summary`, the themes as `## Theme T1: ...; keywords: ...` headings in the data) gets
    a usable answer instead: every theme it was shown, labelled from its keywords, so
    the digest's LLM path runs offline (tests, the demo) as it would against OpenAI.
    """
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        labelled = theme_labels_answer(request, schema)
        if labelled is not None:
            return labelled
        return example_for_schema(schema)
    if response_format.get("type") == "json_object":
        return {}
    return "This is a sample answer from Heard's fake OpenAI server."


_THEME_HEADING = re.compile(r"^## Theme (T\d+): (\d+) items?; keywords: (.*)$", re.MULTILINE)


def theme_labels_answer(request: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """A label and a two-sentence summary for each theme heading in the request's
    messages, when `schema` asks for theme labels; None otherwise."""
    themes = (schema.get("properties") or {}).get("themes") or {}
    item = themes.get("items") or {}
    if "$ref" in item:
        item = _resolve(item["$ref"], schema)
    if set(item.get("properties") or {}) != {"theme_id", "label", "summary"}:
        return None
    text = "\n".join(str(m.get("content", "")) for m in request.get("messages", []) if m.get("role") == "user")
    answers = []
    for theme_id, count, keywords in _THEME_HEADING.findall(text):
        words = [w.strip() for w in keywords.split(",") if w.strip() and w.strip() != "none"][:3]
        label = " / ".join(words).capitalize()[:50] if words else f"Theme {theme_id}"
        about = ", ".join(words) if words else "no common keyword"
        answers.append({
            "theme_id": theme_id,
            "label": label,
            "summary": f"Customers wrote {count} times about {about}. Nobody has answered them yet.",
        })  # fmt: skip
    return {"themes": answers}


def example_for_schema(schema: dict[str, Any], *, name: str = "value") -> Any:
    """A deterministic value valid for `schema` (the JSON Schema subset pydantic emits)."""
    return _example(schema, schema, name)


def _example(schema: dict[str, Any], root: dict[str, Any], name: str) -> Any:
    if "$ref" in schema:
        return _example(_resolve(schema["$ref"], root), root, name)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = schema[key]
            concrete = [o for o in options if o.get("type") != "null"] or options
            return _example(concrete[0], root, name)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part["$ref"], root) if "$ref" in part else part)
        return _example(merged, root, name)

    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"

    if kind == "object":
        properties = schema.get("properties", {})
        return {key: _example(sub, root, key) for key, sub in properties.items()}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        if "maxItems" in schema:
            count = min(count, schema["maxItems"])
        return [_example(schema.get("items", {}), root, name) for _ in range(count)]
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return float(_number(schema, 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _number(schema: dict[str, Any], default: float) -> float:
    value = default
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema:
        value = max(value, math.floor(schema["exclusiveMinimum"]) + 1)
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if "exclusiveMaximum" in schema:
        value = min(value, math.ceil(schema["exclusiveMaximum"]) - 1)
    return value


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: dict[str, Any], name: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    text = f"sample {name}".replace("_", " ")
    minimum = schema.get("minLength", 0)
    if len(text) < minimum:
        text = text + "x" * (minimum - len(text))
    if "maxLength" in schema:
        text = text[: schema["maxLength"]]
    return text
