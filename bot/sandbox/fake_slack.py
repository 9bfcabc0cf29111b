"""A fake Slack Web API on loopback, strict enough that code passing against it works on Slack.

Heard's tests and `heard demo` point a real `slack_sdk.WebClient` (or Bolt) at this server
with `base_url=fake.url` instead of mocking methods, the way slackapi/bolt-python tests
itself (`tests/mock_web_api_server/`). The server keeps each workspace's state (channels,
messages, threads, reactions, views, files), records every request, and answers the way
Slack does, including its refusals:

- an unknown method is HTTP 404 `unknown_method`; a method Slack has but this fake does
  not implement is `not_implemented_in_fake`, so a gap is loud instead of silently "ok";
- required arguments come from Slack's own OpenAPI description (`slack_methods.json`);
- every `blocks` and `view` argument is checked with slack_sdk's Block Kit models plus the
  limits slack_sdk does not enforce (see `message_block_errors` and `view_errors`);
- tokens are checked per workspace, and ids from another workspace are not found.

Faults (429 with Retry-After, 5xx) can be injected per method, also *after* a call was
accepted (the message is posted, then the answer is a 5xx or the connection drops: what a
timeout looks like to a client); `chaos` injects them at random rates, `limit_rate` enforces
a per-minute limit per workspace and method; and `wait_for` lets a test await a call made
on another thread without sleeping. `conversations.history` and `conversations.replies`
return messages' `metadata` only with `include_all_metadata`, as Slack does.
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import math
import mimetypes
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.sandbox.local_server import ServerThread
from bot.sandbox.workspace import SeedChannel, SeedMessage, SeedUser, SeedWorkspace

METHODS_FILE = Path(__file__).with_name("slack_methods.json")

# Pseudo-methods under which non-API requests are recorded.
UPLOAD_METHOD = "fake.upload"  # bytes POSTed to an upload_url from files.getUploadURLExternal
RESPONSE_URL_METHOD = "response_url"  # a POST to a slash command's or action's response_url

# Slack's limits that slack_sdk's models do not check themselves.
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_SECTION_FIELD_TEXT = 2_000
MAX_EXTERNAL_ID = 255
# A response_url accepts five posts within 30 minutes.
RESPONSE_URL_USES = 5

# Methods Slack serves without a bearer token (client credentials or nothing instead).
TOKENLESS_METHODS = frozenset(
    {"api.test", "oauth.access", "oauth.token", "oauth.v2.access", "oauth.v2.exchange"}
)

# Arguments that carry JSON, decoded in RecordedCall.args so tests can read them directly.
JSON_ARGUMENTS = ("blocks", "view", "attachments", "files", "metadata")

_TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_EMOJI_NAME = re.compile(r"^[a-z0-9_+\-']+(::skin-tone-[2-6])?$")
_MISSING_KWARG = re.compile(r"missing \d+ required (?:keyword-only |positional )?arguments?: (.+)")


@functools.cache
def known_methods() -> Mapping[str, Mapping[str, Any]]:
    """Every Web API method the fake knows of: name -> {http_method, required, optional}."""
    return json.loads(METHODS_FILE.read_text(encoding="utf-8"))["methods"]


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake received, with what it answered.

    `reached_handler` is False for requests stopped before the method ran: an unknown
    method, an injected fault, or a token that failed authentication.
    """

    method: str
    args: dict[str, Any]
    team_id: str | None
    token: str | None
    status: int
    response: dict[str, Any]
    ok: bool
    error: str | None
    at: float
    reached_handler: bool = True

    def __repr__(self) -> str:
        args = json.dumps(self.args, default=str, ensure_ascii=False)
        if len(args) > 160:
            args = args[:157] + "..."
        outcome = "ok" if self.ok else f"error={self.error}"
        return f"<{self.method} {self.status} {outcome} team={self.team_id} args={args}>"


class SlackError(Exception):
    """Raised by a method implementation; becomes `{"ok": false, "error": code, **extra}`."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


# -- Block Kit validation ------------------------------------------------------------------

# Keys whose text object Slack requires to be plain_text wherever they appear.
_PLAIN_TEXT_KEYS = frozenset({"placeholder", "label", "hint", "title", "submit", "close"})
# Block and element types whose own `text` must be plain_text.
_PLAIN_TEXT_OWNERS = frozenset({"header", "button"})


def message_block_errors(blocks: Any, *, pointer: str = "/blocks") -> list[str]:
    """Why Slack would refuse `blocks` in a message (empty list: it would accept them).

    Rules: a JSON array of at most 50 blocks, each valid for slack_sdk's model
    (`Block.parse`, `validate_json` and its nested objects), no field the model does not
    know, unique `block_id`s, unique `action_id`s within a block, non-empty text objects,
    plain_text where Slack demands it, section field text of at most 2,000 characters.
    Errors end with a `[json-pointer:…]` like Slack's.
    """
    return _blocks_errors(blocks, limit=MAX_MESSAGE_BLOCKS, pointer=pointer)


def view_errors(view: Any, *, pointer: str = "/view") -> list[str]:
    """Why Slack would refuse `view` (a modal or home tab); empty list if it would accept it.

    Rules: type `modal` or `home`; slack_sdk's `View.validate_json` (title at most 24
    characters, 1 to 100 blocks, private_metadata at most 3,000, callback_id at most 255,
    no submit/close on a home tab); a modal has a title, and a submit button when it has
    input blocks; external_id at most 255; every block as in `message_block_errors`.
    """
    try:
        view = _decode_json(view)
    except ValueError:
        return [f"invalid JSON [json-pointer:{pointer}]"]
    if not isinstance(view, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    errors: list[str] = []
    view_type = view.get("type")
    if view_type not in ("modal", "home"):
        errors.append(f"type must be modal or home [json-pointer:{pointer}/type]")
    blocks = view.get("blocks")
    if blocks is None:
        errors.append(f"missing required field: blocks [json-pointer:{pointer}]")
    else:
        errors.extend(_blocks_errors(blocks, limit=MAX_VIEW_BLOCKS, pointer=f"{pointer}/blocks"))
    if view_type == "modal":
        if not view.get("title"):
            errors.append(f"missing required field: title [json-pointer:{pointer}]")
        has_inputs = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_inputs and not view.get("submit"):
            errors.append(
                f"a modal with input blocks needs a submit button [json-pointer:{pointer}/submit]"
            )
    external_id = view.get("external_id")
    if isinstance(external_id, str) and len(external_id) > MAX_EXTERNAL_ID:
        errors.append(
            f"must be at most {MAX_EXTERNAL_ID} characters [json-pointer:{pointer}/external_id]"
        )
    if isinstance(blocks, list) and not blocks:
        errors.append(f"must contain at least 1 item [json-pointer:{pointer}/blocks]")
    # Blocks were checked one by one above; the View model checks the view's own fields.
    # It is given one placeholder block so it does not report the blocks a second time.
    fields = {k: v for k, v in view.items() if k != "blocks"}
    try:
        model = View(**fields, blocks=[{"type": "divider"}])
        model.validate_json()
        model.to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        errors.append(f"{_describe_model_error(exc)} [json-pointer:{pointer}]")
    else:
        _unknown_fields(fields, model, pointer, errors)
    _text_object_rules(fields, pointer, errors)
    return errors


def _blocks_errors(blocks: Any, *, limit: int, pointer: str) -> list[str]:
    try:
        blocks = _decode_json(blocks)
    except ValueError:
        return [f"invalid JSON [json-pointer:{pointer}]"]
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(
            f"must contain at most {limit} items, got {len(blocks)} [json-pointer:{pointer}]"
        )
    seen_block_ids: set[str] = set()
    for index, raw in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(raw, dict) or "type" not in raw:
            errors.append(f"missing required field: type [json-pointer:{here}]")
            continue
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in seen_block_ids:
                errors.append(f"duplicate block_id '{block_id}' [json-pointer:{here}/block_id]")
            seen_block_ids.add(block_id)
        errors.extend(_block_errors(raw, here))
    return errors


def _block_errors(raw: dict[str, Any], pointer: str) -> list[str]:
    errors: list[str] = []
    try:
        # Block.parse mutates nothing it is given, but copy anyway: nested parsers pop keys.
        block = Block.parse(copy.deepcopy(raw))
        if block is None:
            return [f"unsupported block type '{raw.get('type')}' [json-pointer:{pointer}/type]"]
        block.validate_json()
        block.to_dict()  # validates every nested element and text object too
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"{_describe_model_error(exc)} [json-pointer:{pointer}]"]
    _unknown_fields(raw, block, pointer, errors)
    _text_object_rules(raw, pointer, errors)
    if raw.get("type") == "section":
        for i, text_field in enumerate(raw.get("fields") or []):
            text = text_field.get("text", "") if isinstance(text_field, dict) else ""
            if len(text) > MAX_SECTION_FIELD_TEXT:
                errors.append(
                    f"must be at most {MAX_SECTION_FIELD_TEXT} characters "
                    f"[json-pointer:{pointer}/fields/{i}/text]"
                )
    elements = raw.get("elements") if raw.get("type") in ("actions", "context") else None
    if isinstance(elements, list):
        action_ids = [
            e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")
        ]
        for duplicate in sorted({a for a in action_ids if action_ids.count(a) > 1}):
            errors.append(f"duplicate action_id '{duplicate}' [json-pointer:{pointer}/elements]")
    return errors


def _describe_model_error(exc: Exception) -> str:
    # slack_sdk reports a missing required field as a Python TypeError; say it Slack's way.
    match = _MISSING_KWARG.search(str(exc))
    if match:
        names = ", ".join(
            name.strip(" '") for name in match.group(1).replace(" and ", ",").split(",")
        )
        return f"missing required field: {names}"
    return str(exc)


def _unknown_fields(raw: Any, model: Any, pointer: str, errors: list[str]) -> None:
    """Report keys slack_sdk's model ignored: Slack refuses properties it does not know."""
    if isinstance(raw, dict) and isinstance(model, JsonObject):
        known = set(model.attributes)
        if not known:  # a model with hand-written to_dict (Option, ...): nothing to compare
            return
        known.add("type")
        for key, value in raw.items():
            if key not in known:
                errors.append(f"unknown field '{key}' [json-pointer:{pointer}/{key}]")
            else:
                _unknown_fields(value, getattr(model, key, None), f"{pointer}/{key}", errors)
    elif isinstance(raw, list) and isinstance(model, (list, tuple)) and len(raw) == len(model):
        for index, (raw_item, model_item) in enumerate(zip(raw, model, strict=True)):
            _unknown_fields(raw_item, model_item, f"{pointer}/{index}", errors)


def _text_object_rules(node: Any, pointer: str, errors: list[str]) -> None:
    """Text objects are never empty, and are plain_text where Slack does not render mrkdwn."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _text_object_rules(item, f"{pointer}/{index}", errors)
        return
    if not isinstance(node, dict):
        return
    node_type = node.get("type")
    if node_type in ("plain_text", "mrkdwn") and "text" in node:
        text = node["text"]
        if not isinstance(text, str) or not text:
            errors.append(f"must be more than 0 characters [json-pointer:{pointer}/text]")
        return
    for key, value in node.items():
        child = f"{pointer}/{key}"
        wants_plain = key in _PLAIN_TEXT_KEYS or (key == "text" and node_type in _PLAIN_TEXT_OWNERS)
        if wants_plain and isinstance(value, dict) and value.get("type") == "mrkdwn":
            errors.append(f"must be a plain_text text object [json-pointer:{child}/type]")
        _text_object_rules(value, child, errors)


def _decode_json(value: Any) -> Any:
    if isinstance(value, (bytes, str)):
        return json.loads(value)
    return value


# -- Per-workspace state -------------------------------------------------------------------


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    is_general: bool = False
    im_user: str | None = None
    bot_member: bool = False
    members: list[str] = field(default_factory=list)
    purpose: str = ""
    topic: str = ""
    created: int = 0


@dataclass
class _Fault:
    method: str | None
    status: int
    retry_after: int
    remaining: int
    after_accepting: bool = False  # the call takes effect, then the answer fails
    drop: bool = False  # no answer at all: the connection closes (with after_accepting)


DROP_HEADER = "X-Fake-Drop-Connection"  # from the API handler to the HTTP handler: answer nothing


@dataclass
class _Chaos:
    """Random faults on some methods: `ratelimited` of calls get a 429 (nothing happens),
    `after_accepting` take effect and then fail (half a 500, half a dropped connection)."""

    methods: frozenset[str]
    ratelimited: float
    after_accepting: float
    random: Any
    retry_after: int = 1


@dataclass
class _RateLimit:
    """At most `per_minute` calls of a method per workspace in any `60 / speed` seconds."""

    per_minute: int
    window: float
    seen: dict[str | None, list[float]] = field(default_factory=dict)


@dataclass
class _PendingUpload:
    file_id: str
    team_id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None


@dataclass
class _ResponseUrl:
    team_id: str
    uses_left: int = RESPONSE_URL_USES
    posts: list[dict[str, Any]] = field(default_factory=list)


class _WorkspaceState:
    """Everything the fake knows about one workspace; guarded by FakeSlack's lock."""

    def __init__(self, seed: SeedWorkspace, created: int) -> None:
        self.seed = seed
        self.team_id = seed.team_id
        self.revoked = False
        self.users: dict[str, SeedUser] = {user.id: user for user in seed.users}
        people = [
            u.id for u in seed.users if not u.is_bot and not u.deleted and u.id != "USLACKBOT"
        ]
        admins = [u.id for u in seed.users if (u.is_admin or u.is_owner) and not u.deleted]
        self.channels: dict[str, _Channel] = {}
        for channel in seed.channels:
            self.channels[channel.id] = self._channel_from_seed(channel, people, admins, created)
        # channel id -> every message in it (thread replies too), oldest first
        self.messages: dict[str, list[dict[str, Any]]] = {cid: [] for cid in self.channels}
        self.dms: dict[str, str] = {}  # user id -> D… channel id of the bot's DM with them
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> published home view
        self.modals: dict[str, dict[str, Any]] = {}  # view id -> modal, in opening order
        self.ephemeral: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self.usergroups = {group.id: group for group in seed.usergroups}
        for message in sorted(seed.messages, key=lambda m: _ts_key(m.ts)):
            self.add_message(message.channel, self._message_from_seed(message))

    @staticmethod
    def _channel_from_seed(
        channel: SeedChannel, people: list[str], admins: list[str], created: int
    ) -> _Channel:
        if channel.members is not None:
            members = list(channel.members)
        else:
            members = list(admins if channel.is_private else people)
        return _Channel(
            id=channel.id,
            name=channel.name,
            is_private=channel.is_private,
            is_archived=channel.is_archived,
            is_general=channel.is_general,
            bot_member=channel.is_member,
            members=members,
            purpose=channel.purpose,
            topic=channel.topic,
            created=created,
        )

    def _message_from_seed(self, seed: SeedMessage) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "message", "ts": seed.ts, "text": seed.text}
        if seed.user:
            message["user"] = seed.user
        if seed.subtype:
            message["subtype"] = seed.subtype
        if seed.bot_id:
            message["bot_id"] = seed.bot_id
        if seed.thread_ts and seed.thread_ts != seed.ts:
            message["thread_ts"] = seed.thread_ts
            parent_user = self.parent_user(seed.channel, seed.thread_ts)
            if parent_user:
                message["parent_user_id"] = parent_user
        message["team"] = self.team_id
        if seed.reactions:
            message["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in seed.reactions.items()
            ]
        return message

    def parent_user(self, channel_id: str, thread_ts: str) -> str | None:
        parent = self.find_message(channel_id, thread_ts)
        return parent.get("user") if parent else None

    def add_message(self, channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Store a message; a reply updates its parent's thread summary like Slack does."""
        messages = self.messages.setdefault(channel_id, [])
        messages.append(message)
        messages.sort(key=lambda m: _ts_key(m["ts"]))
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            self._refresh_thread(channel_id, thread_ts)
        return message

    def remove_message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        message = self.find_message(channel_id, ts)
        if message is None:
            return None
        self.messages[channel_id].remove(message)
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            self._refresh_thread(channel_id, thread_ts)
        return message

    def _refresh_thread(self, channel_id: str, thread_ts: str) -> None:
        parent = self.find_message(channel_id, thread_ts)
        if parent is None:
            return
        replies = self.replies(channel_id, thread_ts)
        if not replies:
            for key in ("reply_count", "reply_users", "reply_users_count", "latest_reply"):
                parent.pop(key, None)
            return
        reply_users: list[str] = []
        for reply in replies:
            author = reply.get("user")
            if author and author not in reply_users:
                reply_users.append(author)
        parent["thread_ts"] = thread_ts
        parent["reply_count"] = len(replies)
        parent["reply_users"] = reply_users
        parent["reply_users_count"] = len(reply_users)
        parent["latest_reply"] = replies[-1]["ts"]

    def find_message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        return None

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages.get(channel_id, [])
            if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ]

    def channel_by_name(self, name: str) -> _Channel | None:
        wanted = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == wanted and not c.is_im), None)


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction.ljust(6, "0")[:6] or 0)


def _ts_micros(ts: str) -> int:
    seconds, micros = _ts_key(ts)
    return seconds * 1_000_000 + micros


def _encode_cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _decode_cursor(cursor: str, prefix: str) -> str:
    try:
        value = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError as exc:
        raise SlackError("invalid_cursor") from exc
    if not value.startswith(prefix):
        raise SlackError("invalid_cursor")
    return value[len(prefix) :]


class _Args:
    """A request's arguments with Slack's lenient typing (form strings or JSON values)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return value if isinstance(value, str) else str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def number(self, name: str, default: int) -> int:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {name} must be an integer"]},
            ) from exc

    def decoded(self, name: str) -> Any:
        value = self.values.get(name)
        try:
            return _decode_json(value)
        except ValueError as exc:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {name} is not valid JSON"]},
            ) from exc


# -- The server ------------------------------------------------------------------------------


class FakeSlack:
    """A Slack Web API for one or more workspaces, served on loopback.

    Use as a context manager or call `start()`/`stop()`; `url` is the `base_url` for a
    WebClient. All state is guarded by one lock, so tests may inspect it while another
    thread is calling the server.
    """

    def __init__(
        self,
        *workspaces: SeedWorkspace,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._clock = clock
        # When set, oauth.v2.access and apps.uninstall check the app's credentials.
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._workspaces: dict[str, _WorkspaceState] = {}
        self._tokens: dict[str, str] = {}  # token -> team id
        self._calls: list[RecordedCall] = []
        self._faults: list[_Fault] = []
        self._chaos: _Chaos | None = None
        self._rate_limits: dict[str, _RateLimit] = {}
        self.rate_limited = 0  # 429s answered by `limit_rate`
        self._install_codes: dict[str, tuple[SeedWorkspace, str]] = {}
        self._uploads: dict[str, _PendingUpload] = {}  # upload key -> pending file
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._used_triggers: set[str] = set()
        self._ids = itertools.count(1)
        self._last_ts_micros = 0
        self._running: ServerThread | None = None
        # Socket Mode (`bot.sandbox.fake_socket.FakeSocketMode` sets itself here when started):
        # apps.connections.open, called with an app-level token, answers from it.
        self.socket: Any = None
        for workspace in workspaces:
            self.add_workspace(workspace)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve on a daemon thread; returns self. Port 0 picks a free port."""
        with self._lock:
            if self._running is not None:
                return self
            server = ThreadingHTTPServer((self._host, self._port), _RequestHandler)
            server.daemon_threads = True
            server.fake = self  # type: ignore[attr-defined]
            self._running = ServerThread(server, "fake-slack").start()
            self._port = self._running.port
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Recorded calls and state stay readable."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            running.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT/` (only once started)."""
        if self._running is None:
            raise RuntimeError(
                "FakeSlack is not started; call start() or use it as a context manager"
            )
        return f"http://{self._host}:{self._port}/"

    @property
    def url(self) -> str:
        """The Web API base URL, e.g. `http://127.0.0.1:54321/api/` (SLACK_API_URL)."""
        return self.root_url + "api/"

    # -- workspaces ----------------------------------------------------------------------------

    def add_workspace(self, ws: SeedWorkspace) -> None:
        """Install Heard in `ws` (replacing any earlier state of that team)."""
        with self._lock:
            state = _WorkspaceState(ws, created=int(self._clock()) - 86_400 * 365)
            self._workspaces[ws.team_id] = state
            self._tokens[ws.bot_token] = ws.team_id
            for messages in state.messages.values():
                for message in messages:
                    self._last_ts_micros = max(self._last_ts_micros, _ts_micros(message["ts"]))

    def revoke_workspace(self, team_id: str) -> None:
        """Make the workspace's bot token answer `token_revoked` (as after an uninstall)."""
        with self._lock:
            self._workspace(team_id).revoked = True

    def install_code(self, ws: SeedWorkspace, installer_user_id: str | None = None) -> str:
        """A one-time OAuth code that `oauth.v2.access` exchanges for `ws`'s installation.

        Exchanging it (re)installs the workspace: its token works afterwards even if it
        was revoked or never added.
        """
        code = f"{int(self._clock())}.{secrets.token_hex(16)}"
        with self._lock:
            self._install_codes[code] = (ws, installer_user_id or ws.installer)
        return code

    def response_url(self, team_id: str) -> str:
        """A fresh response_url for a slash command or interaction in `team_id`."""
        key = f"{team_id}/{next(self._ids)}/{secrets.token_hex(12)}"
        with self._lock:
            self._response_urls[key] = _ResponseUrl(team_id)
        return f"{self.root_url}commands/{key}"

    def responses(self, url: str) -> list[dict[str, Any]]:
        """What was posted to a response_url from :meth:`response_url`, oldest first."""
        key = url.split("/commands/", 1)[-1]
        with self._lock:
            hook = self._response_urls.get(key)
            return copy.deepcopy(hook.posts) if hook else []

    def slash_reply(self, response: Any, url: str) -> dict[str, Any]:
        """Heard's ephemeral answer to a slash command sent with `response_url=url`: the
        ack's own body when Heard answered at once, else its last post to the URL (Heard
        acks a command that needs Slack at once and replies there); {} when neither."""
        if getattr(response, "body", b""):
            body = response.json()
            if body:
                return body
        posts = self.responses(url)
        return posts[-1] if posts else {}

    # -- calls ----------------------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every request so far, in arrival order (a snapshot)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[RecordedCall]:
        """Calls of `method` that reached its implementation (failed ones included).

        Requests stopped by an injected fault or failed authentication are not counted;
        `ok=True`/`ok=False` keeps only successes/failures.
        """
        with self._lock:
            return [
                call
                for call in self._calls
                if call.method == method and call.reached_handler and (ok is None or call.ok == ok)
            ]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[RecordedCall]:
        """Block until `count` calls of `method` matching `predicate` were handled.

        Returns all matching calls. Wakes on every recorded call (no polling); on timeout
        raises AssertionError listing what was called instead.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._changed.wait(remaining):
                    matching = [
                        c for c in self.calls_to(method) if predicate is None or predicate(c)
                    ]
                    if len(matching) >= count:
                        return matching
                    listing = "\n".join(f"  {call!r}" for call in self._calls) or "  (no calls)"
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {count} call(s) to {method} "
                        f"({len(matching)} matched); calls so far:\n{listing}"
                    )

    def reset_calls(self) -> None:
        """Forget recorded calls and pending faults (state such as messages stays)."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()

    def inject_fault(
        self, method: str | None, status: int = 429, retry_after: int = 1, times: int = 1,
        *, after_accepting: bool = False, drop: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` (None: any method) fail with `status`.

        429 answers `ratelimited` with a Retry-After header of `retry_after` seconds; 5xx
        answers `{"ok": false, "error": "internal_error"}`. The failed call is recorded
        with `reached_handler=False` and changes nothing. With `after_accepting`, the call
        is carried out first (recorded as handled) and only its answer fails: `status`, or
        with `drop` no answer at all, the connection closed.
        """
        if status < 400:
            raise ValueError("a fault needs an HTTP error status (>= 400)")
        with self._lock:
            self._faults.append(_Fault(method, status, retry_after, times, after_accepting or drop, drop))

    def chaos(
        self, methods: Iterable[str], *, ratelimited: float = 0.0, after_accepting: float = 0.0,
        seed: int = 0, retry_after: int = 1,
    ) -> None:
        """From now on, answer a share of the calls to `methods` with faults: `ratelimited`
        of them 429 (nothing happens), `after_accepting` carried out and then answered 500
        or not at all (half each). `chaos((), …)` stops it."""
        import random

        with self._lock:
            chosen = frozenset(methods)
            self._chaos = _Chaos(chosen, ratelimited, after_accepting, random.Random(seed), retry_after) if chosen else None

    def limit_rate(self, method: str, per_minute: int, *, speed: float = 1.0) -> None:
        """Answer 429 (with Retry-After) to a call of `method` that would make more than
        `per_minute` in any minute in its workspace; `speed` shortens the minute."""
        with self._lock:
            self._rate_limits[method] = _RateLimit(per_minute, 60.0 / speed)

    # -- state inspection -------------------------------------------------------------------------

    def messages(self, channel: str, *, team_id: str | None = None) -> list[dict[str, Any]]:
        """Copies of every message in `channel` (replies included), oldest first.

        `channel` is a channel id, a `#name`, or a user id (the bot's DM with that user).
        """
        with self._lock:
            ws, channel_id = self._locate_channel(channel, team_id)
            return copy.deepcopy(ws.messages.get(channel_id, []))

    def thread(self, channel: str, ts: str, *, team_id: str | None = None) -> list[dict[str, Any]]:
        """The parent message and its replies, oldest first."""
        return [
            m
            for m in self.messages(channel, team_id=team_id)
            if m["ts"] == ts or m.get("thread_ts") == ts
        ]

    def reactions(
        self, channel: str, ts: str, *, team_id: str | None = None
    ) -> dict[str, list[str]]:
        """Emoji name -> users who reacted, on one message (empty if none or no message)."""
        for message in self.messages(channel, team_id=team_id):
            if message["ts"] == ts:
                return {r["name"]: list(r["users"]) for r in message.get("reactions", [])}
        return {}

    def ephemeral_messages(
        self, *, channel: str | None = None, user: str | None = None, team_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages posted with chat.postEphemeral, oldest first."""
        with self._lock:
            found = []
            for ws in self._states(team_id):
                for message in ws.ephemeral:
                    if (channel is None or message["channel"] == channel) and (
                        user is None or message["user"] == user
                    ):
                        found.append(copy.deepcopy(message))
            return found

    def published_home(self, user_id: str, *, team_id: str | None = None) -> dict[str, Any] | None:
        """The App Home view last published for `user_id`, or None."""
        with self._lock:
            for ws in self._states(team_id):
                if user_id in ws.home_views:
                    return copy.deepcopy(ws.home_views[user_id])
            return None

    def opened_views(self, *, team_id: str | None = None) -> list[dict[str, Any]]:
        """Modals opened (views.open / views.push), in opening order, as last updated."""
        with self._lock:
            return [copy.deepcopy(v) for ws in self._states(team_id) for v in ws.modals.values()]

    def files(self, *, team_id: str | None = None) -> list[dict[str, Any]]:
        """Files completed with files.completeUploadExternal, with `content` bytes added."""
        with self._lock:
            found = []
            for ws in self._states(team_id):
                for file_id, file in ws.files.items():
                    found.append(
                        {**copy.deepcopy(file), "content": ws.file_contents.get(file_id, b"")}
                    )
            return found

    def channel_members(self, channel: str, *, team_id: str | None = None) -> list[str]:
        """People in `channel`, plus the bot's user id when it has joined."""
        with self._lock:
            ws, channel_id = self._locate_channel(channel, team_id)
            found = ws.channels[channel_id]
            return list(found.members) + ([ws.seed.bot_user_id] if found.bot_member else [])

    def is_revoked(self, team_id: str) -> bool:
        """Whether the token was revoked (revoke_workspace, auth.revoke or apps.uninstall)."""
        with self._lock:
            return self._workspace(team_id).revoked

    # -- simulating people ------------------------------------------------------------------------

    def post_as(
        self,
        user_id: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a message a person wrote (no API call is recorded); returns it with its ts.

        Pair it with a `message` event sent to Heard to simulate someone posting.
        """
        with self._lock:
            ws, channel_id = self._locate_channel(channel, team_id)
            message: dict[str, Any] = {
                "type": "message",
                "user": user_id,
                "text": text,
                "ts": self._next_ts(),
                "team": ws.team_id,
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
                parent_user = ws.parent_user(channel_id, thread_ts)
                if parent_user:
                    message["parent_user_id"] = parent_user
            ws.add_message(channel_id, message)
            self._changed.notify_all()
            return {**copy.deepcopy(message), "channel": channel_id}

    def react_as(
        self, user_id: str, channel: str, ts: str, name: str, *, team_id: str | None = None
    ) -> None:
        """Add a person's reaction to a message (no API call is recorded)."""
        with self._lock:
            ws, channel_id = self._locate_channel(channel, team_id)
            message = ws.find_message(channel_id, ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel_id}")
            _add_reaction(message, name, user_id)

    # -- HTTP entry point ------------------------------------------------------------------------

    def _handle_http(
        self, verb: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/api/"):
            status, extra_headers, payload = self._handle_api(
                path[len("/api/") :], query, headers, body
            )
            return (
                status,
                {"Content-Type": "application/json; charset=utf-8", **extra_headers},
                _dump(payload),
            )
        if path.startswith("/upload/v1/") and verb == "POST":
            return self._handle_upload(path[len("/upload/v1/") :], body)
        if path.startswith("/commands/") and verb == "POST":
            return self._handle_response_url(path[len("/commands/") :], headers, body)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _handle_api(
        self, method: str, query: str, headers: Mapping[str, str], body: bytes, faults: bool = True
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        token, basic_auth = _credentials(headers)
        try:
            values = _request_arguments(query, headers, body)
        except ValueError:
            return self._record(
                method, {}, None, token, 200, {"ok": False, "error": "invalid_json"}, False
            )
        token = token or values.pop("token", None)
        values.pop("token", None)
        if basic_auth:
            values.setdefault("client_id", basic_auth[0])
            values.setdefault("client_secret", basic_auth[1])
        args = _Args(values)
        with self._lock:
            if method not in known_methods():
                return self._record(
                    method,
                    values,
                    None,
                    token,
                    404,
                    {"ok": False, "error": "unknown_method"},
                    False,
                )
            team_id = self._tokens.get(token) if token else None
            fault = self._fault_for(method, team_id) if faults else None
            if fault is not None and fault.after_accepting:  # carried out; only the answer fails
                status, _, payload = self._handle_api(method, query, headers, body, faults=False)
                if fault.drop:
                    return status, {DROP_HEADER: "1"}, payload
                return fault.status, {}, {"ok": False, "error": "internal_error"}
            if fault is not None:
                error = (
                    "ratelimited"
                    if fault.status == 429
                    else "internal_error"
                    if fault.status >= 500
                    else "fake_fault"
                )
                extra = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                status, _, payload = self._record(
                    method,
                    values,
                    team_id,
                    token,
                    fault.status,
                    {"ok": False, "error": error},
                    False,
                )
                return status, extra, payload
            if method == "apps.connections.open":  # an app-level token, no workspace
                opened = self.socket.open_connection(token) if self.socket else {"ok": False, "error": "invalid_auth"}
                return self._record(method, values, None, token, 200, opened, True)
            ws: _WorkspaceState | None = None
            if method not in TOKENLESS_METHODS:
                if not token:
                    return self._record(
                        method,
                        values,
                        None,
                        token,
                        200,
                        {"ok": False, "error": "not_authed"},
                        False,
                    )
                if team_id is None:
                    return self._record(
                        method,
                        values,
                        None,
                        token,
                        200,
                        {"ok": False, "error": "invalid_auth"},
                        False,
                    )
                ws = self._workspaces[team_id]
                if ws.revoked:
                    return self._record(
                        method,
                        values,
                        team_id,
                        token,
                        200,
                        {"ok": False, "error": "token_revoked"},
                        False,
                    )
            missing = [
                name
                for name in known_methods()[method]["required"]
                if values.get(name) in (None, "")
            ]
            if missing:
                response = {
                    "ok": False,
                    "error": "invalid_arguments",
                    "response_metadata": {
                        "messages": [f"[ERROR] missing required field: {name}" for name in missing]
                    },
                }
                return self._record(method, values, team_id, token, 200, response, True)
            implementation = getattr(self, "_api_" + method.replace(".", "_"), None)
            if implementation is None:
                response = {"ok": False, "error": "not_implemented_in_fake", "method": method}
                return self._record(method, values, team_id, token, 200, response, True)
            try:
                result = implementation(ws, args) if ws is not None else implementation(args)
                response, status = {"ok": True, **result}, 200
            except SlackError as exc:
                response, status = {"ok": False, "error": exc.error, **exc.extra}, exc.status
            if ws is None and response.get("ok"):
                team_id = (response.get("team") or {}).get("id", team_id)
            scopes = {"X-OAuth-Scopes": ",".join(ws.seed.bot_scopes)} if ws is not None else {}
            status, _, payload = self._record(
                method, values, team_id, token, status, response, True
            )
            return status, scopes, payload

    def _record(
        self,
        method: str,
        values: dict[str, Any],
        team_id: str | None,
        token: str | None,
        status: int,
        response: dict[str, Any],
        reached_handler: bool,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        args = {}
        for key, value in values.items():
            if key in JSON_ARGUMENTS and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass  # kept as sent; the method already refused it
            args[key] = value
        call = RecordedCall(
            method=method,
            args=args,
            team_id=team_id,
            token=token,
            status=status,
            response=copy.deepcopy(response),
            ok=bool(response.get("ok")),
            error=response.get("error"),
            at=self._clock(),
            reached_handler=reached_handler,
        )
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()
        return status, {}, response

    def _fault_for(self, method: str, team_id: str | None) -> _Fault | None:
        """The fault this call meets: an injected one, a chaos draw, or the rate limit."""
        fault = self._take_fault(method)
        chaos = self._chaos
        if fault is None and chaos is not None and method in chaos.methods:
            draw = chaos.random.random()
            if draw < chaos.ratelimited:
                fault = _Fault(method, 429, chaos.retry_after, 1)
            elif draw < chaos.ratelimited + chaos.after_accepting:
                fault = _Fault(method, 500, 0, 1, after_accepting=True, drop=chaos.random.random() < 0.5)
        limit = self._rate_limits.get(method)
        if fault is None and limit is not None:
            now = time.monotonic()
            seen = limit.seen.setdefault(team_id, [])
            while seen and seen[0] <= now - limit.window:
                seen.pop(0)
            if len(seen) >= limit.per_minute:
                self.rate_limited += 1
                return _Fault(method, 429, max(1, math.ceil(seen[0] + limit.window - now)), 1)
            seen.append(now)
        return fault

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method is None or fault.method == method:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _handle_upload(self, key: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            pending = self._uploads.get(key)
            if pending is None:
                self._record(
                    UPLOAD_METHOD,
                    {"key": key},
                    None,
                    None,
                    404,
                    {"ok": False, "error": "upload_not_found"},
                    True,
                )
                return 404, {"Content-Type": "text/plain"}, b"upload_not_found"
            pending.data = body
            self._record(
                UPLOAD_METHOD,
                {"file_id": pending.file_id, "filename": pending.filename, "bytes": len(body)},
                pending.team_id,
                None,
                200,
                {"ok": True},
                True,
            )
        # Slack's upload host answers in plain text.
        return 200, {"Content-Type": "text/plain"}, f"OK - {len(body)}".encode()

    def _handle_response_url(
        self, key: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            values = _request_arguments("", headers, body)
        except ValueError:
            values = None
        with self._lock:
            hook = self._response_urls.get(key)
            team_id = hook.team_id if hook else None
            if values is None:
                response, status = {"ok": False, "error": "invalid_payload"}, 400
            elif hook is None:
                response, status = {"ok": False, "error": "no_active_hooks"}, 404
            elif hook.uses_left <= 0:
                response, status = {"ok": False, "error": "used_url"}, 404
            else:
                errors = (
                    message_block_errors(values["blocks"])
                    if values.get("blocks") is not None
                    else []
                )
                if errors:
                    response, status = (
                        {"ok": False, "error": "invalid_blocks", "errors": errors},
                        400,
                    )
                elif (
                    not values.get("text")
                    and not values.get("blocks")
                    and not values.get("delete_original")
                ):
                    response, status = {"ok": False, "error": "no_text"}, 400
                else:
                    hook.uses_left -= 1
                    hook.posts.append(copy.deepcopy(values))
                    response, status = {"ok": True}, 200
            self._record(RESPONSE_URL_METHOD, values or {}, team_id, None, status, response, True)
        return status, {"Content-Type": "application/json; charset=utf-8"}, _dump(response)

    # -- helpers -----------------------------------------------------------------------------------

    def _workspace(self, team_id: str) -> _WorkspaceState:
        try:
            return self._workspaces[team_id]
        except KeyError:
            raise KeyError(f"no workspace {team_id} in this FakeSlack") from None

    def _states(self, team_id: str | None) -> Iterable[_WorkspaceState]:
        return [self._workspace(team_id)] if team_id else list(self._workspaces.values())

    def _locate_channel(self, channel: str, team_id: str | None) -> tuple[_WorkspaceState, str]:
        for ws in self._states(team_id):
            if channel in ws.channels:
                return ws, channel
            if channel in ws.users:
                return ws, self._dm_channel(ws, channel).id
            by_name = ws.channel_by_name(channel) if channel.startswith("#") else None
            if by_name:
                return ws, by_name.id
        raise KeyError(f"no channel {channel!r} in {team_id or 'any workspace'}")

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0F{next(self._ids):07d}"

    def _next_ts(self) -> str:
        # Unique and increasing even under a frozen clock: Slack's ts is a message's id.
        micros = max(int(self._clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _dm_channel(self, ws: _WorkspaceState, user_id: str) -> _Channel:
        if user_id not in ws.dms:
            channel = _Channel(
                id=self._next_id("D"),
                name=user_id,
                is_im=True,
                im_user=user_id,
                bot_member=True,
                members=[user_id],
                created=int(self._clock()),
            )
            ws.channels[channel.id] = channel
            ws.messages[channel.id] = []
            ws.dms[user_id] = channel.id
        return ws.channels[ws.dms[user_id]]

    def _channel(self, ws: _WorkspaceState, channel: str | None) -> _Channel:
        """The channel a bot token can see: private channels it is not in do not exist."""
        if not channel:
            raise SlackError("channel_not_found")
        found = ws.channels.get(channel) or ws.channel_by_name(channel)
        if found is None or (found.is_private and not found.bot_member):
            raise SlackError("channel_not_found")
        return found

    def _postable_channel(self, ws: _WorkspaceState, channel: str | None) -> _Channel:
        """Where the bot may post: user ids mean its DM; archived and unjoined are refused."""
        if channel and channel in ws.users:
            user = ws.users[channel]
            if user.is_bot or user.id == "USLACKBOT":
                raise SlackError("cannot_dm_bot")
            return self._dm_channel(ws, channel)
        found = self._channel(ws, channel)
        if found.is_archived:
            raise SlackError("is_archived")
        if not found.bot_member and not (
            not found.is_private and "chat:write.public" in ws.seed.bot_scopes
        ):
            raise SlackError("not_in_channel")
        return found

    def _readable_channel(self, ws: _WorkspaceState, channel: str | None) -> _Channel:
        found = self._channel(ws, channel)
        if not found.bot_member:
            raise SlackError("not_in_channel")
        return found

    def _user(self, ws: _WorkspaceState, user_id: str | None) -> SeedUser:
        user = ws.users.get(user_id or "")
        if user is None:
            raise SlackError("user_not_found")
        return user

    def _message_blocks(self, args: _Args) -> list[Any] | None:
        if args.raw("blocks") in (None, ""):
            return None
        raw = args.raw("blocks")
        try:
            blocks = _decode_json(raw)
        except ValueError:
            raise SlackError("invalid_blocks_format") from None
        if not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        errors = message_block_errors(blocks)
        if errors:
            raise SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        return blocks

    def _view(self, args: _Args, expected_type: str) -> dict[str, Any]:
        errors = view_errors(args.raw("view"))
        view = None if errors else _decode_json(args.raw("view"))
        if view is not None and view.get("type") != expected_type:
            errors = [f"view type must be {expected_type} [json-pointer:/view/type]"]
        if errors:
            # Slack answers a bad view with invalid_arguments (not invalid_blocks).
            raise SlackError(
                "invalid_arguments",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        return view

    def _use_trigger(self, args: _Args) -> None:
        trigger_id = args.text("trigger_id") or ""
        if not _TRIGGER_ID.match(trigger_id):
            raise SlackError("invalid_trigger_id")
        if trigger_id in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        self._used_triggers.add(trigger_id)

    def _view_object(
        self,
        ws: _WorkspaceState,
        view: dict[str, Any],
        *,
        view_id: str,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": ws.team_id,
            "type": view["type"],
            "blocks": view["blocks"],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self._clock())}.{secrets.token_hex(4)}",
            "title": view.get("title")
            or {"type": "plain_text", "text": "View Title", "emoji": True},
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": ws.seed.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.seed.bot_id,
        }

    def _check_external_id(
        self, ws: _WorkspaceState, view: dict[str, Any], own_id: str | None = None
    ) -> None:
        external_id = view.get("external_id")
        if not external_id:
            return
        for existing in [*ws.modals.values(), *ws.home_views.values()]:
            if existing["external_id"] == external_id and existing["id"] != own_id:
                raise SlackError("duplicate_external_id")

    def _bot_message(
        self, ws: _WorkspaceState, text: str, blocks: list[Any] | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": ws.seed.bot_user_id,
            "bot_id": ws.seed.bot_id,
            "app_id": ws.seed.app_id,
            "text": text,
            "ts": self._next_ts(),
            "team": ws.team_id,
            "bot_profile": {
                "id": ws.seed.bot_id,
                "app_id": ws.seed.app_id,
                "name": "Heard",
                "deleted": False,
                "team_id": ws.team_id,
            },
        }
        if blocks is not None:
            message["blocks"] = blocks
        return message

    def _message_text(self, args: _Args, *, blocks: list[Any] | None) -> str:
        text = args.text("text", "") or ""
        if not text and not blocks and not args.raw("attachments"):
            raise SlackError("no_text")
        if len(text) > MAX_MESSAGE_TEXT:
            raise SlackError("msg_too_long")
        return text

    def _user_object(self, ws: _WorkspaceState, user: SeedUser) -> dict[str, Any]:
        moment = datetime.fromtimestamp(self._clock(), UTC).astimezone(ZoneInfo(user.tz))
        offset = moment.utcoffset()
        first, _, last = user.real_name.partition(" ")
        normalized = (
            unicodedata.normalize("NFKD", user.real_name).encode("ascii", "ignore").decode()
        )
        profile: dict[str, Any] = {
            "title": user.title,
            "phone": "",
            "skype": "",
            "real_name": user.real_name,
            "real_name_normalized": normalized,
            "display_name": "" if user.is_bot else user.name,
            "display_name_normalized": "" if user.is_bot else user.name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": "g" + user.id[-6:].lower(),
            "first_name": first,
            "last_name": last,
            "image_24": f"https://avatars.fake-slack.invalid/{user.id}_24.png",
            "image_48": f"https://avatars.fake-slack.invalid/{user.id}_48.png",
            "image_72": f"https://avatars.fake-slack.invalid/{user.id}_72.png",
            "image_192": f"https://avatars.fake-slack.invalid/{user.id}_192.png",
            "team": ws.team_id,
        }
        if user.email and not user.is_bot:
            profile["email"] = user.email
        if user.is_bot:
            profile["bot_id"] = user.bot_id
            profile["api_app_id"] = ws.seed.app_id if user.id == ws.seed.bot_user_id else ""
            profile["always_active"] = False
        return {
            "id": user.id,
            "team_id": ws.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": moment.tzname() or user.tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
            "is_admin": user.is_admin and not user.deleted,
            "is_owner": user.is_owner and not user.deleted,
            "is_primary_owner": user.is_primary_owner and not user.deleted,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": int(self._clock()) - 3600,
            "is_email_confirmed": not user.is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }

    def _channel_object(
        self, ws: _WorkspaceState, channel: _Channel, *, num_members: bool = False
    ) -> dict[str, Any]:
        if channel.is_im:
            return {
                "id": channel.id,
                "created": channel.created,
                "is_im": True,
                "is_org_shared": False,
                "user": channel.im_user,
                "is_user_deleted": ws.users[channel.im_user].deleted
                if channel.im_user in ws.users
                else False,
                "priority": 0,
                "context_team_id": ws.team_id,
            }
        info: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.is_private,
            "created": channel.created,
            "is_archived": channel.is_archived,
            "is_general": channel.is_general,
            "unlinked": 0,
            "name_normalized": channel.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "context_team_id": ws.team_id,
            "creator": ws.seed.installer if ws.seed.users else "",
            "is_member": channel.bot_member,
            "topic": {"value": channel.topic, "creator": "", "last_set": 0},
            "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
        }
        if num_members:
            info["num_members"] = len(channel.members) + (1 if channel.bot_member else 0)
        return info

    def _page(
        self, items: list[Any], args: _Args, *, default_limit: int, max_limit: int = 1000
    ) -> tuple[list[Any], str]:
        limit = args.number("limit", default_limit)
        if limit <= 0:
            limit = default_limit if default_limit > 0 else len(items) or 1
        limit = min(limit, max_limit)
        cursor = args.text("cursor")
        offset = int(_decode_cursor(cursor, "offset:")) if cursor else 0
        page = items[offset : offset + limit]
        next_cursor = (
            _encode_cursor(f"offset:{offset + limit}") if offset + limit < len(items) else ""
        )
        return page, next_cursor

    # -- Web API methods ---------------------------------------------------------------------------
    # Each `_api_<method>` returns the response without "ok", or raises SlackError.

    def _api_api_test(self, args: _Args) -> dict[str, Any]:
        return {"args": {k: v for k, v in args.values.items() if k != "token"}}

    def _api_auth_test(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        seed = ws.seed
        bot_name = ws.users[seed.bot_user_id].name if seed.bot_user_id in ws.users else "heard"
        response = {
            "url": f"https://{seed.domain}.slack.com/",
            "team": seed.name,
            "user": bot_name,
            "team_id": seed.team_id,
            "user_id": seed.bot_user_id,
            "bot_id": seed.bot_id,
            "is_enterprise_install": False,
        }
        if seed.enterprise_id:
            response["enterprise_id"] = seed.enterprise_id
        return response

    def _api_auth_revoke(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        if not args.flag("test"):
            ws.revoked = True
        return {"revoked": True}

    def _api_apps_uninstall(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        self._check_client(args)
        ws.revoked = True
        return {}

    def _api_team_info(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        team = args.text("team")
        if team and team != ws.team_id:
            raise SlackError("team_not_found")
        seed = ws.seed
        info: dict[str, Any] = {
            "id": seed.team_id,
            "name": seed.name,
            "url": f"https://{seed.domain}.slack.com/",
            "domain": seed.domain,
            "email_domain": seed.email_domain,
            "icon": {
                "image_default": True,
                "image_34": f"https://avatars.fake-slack.invalid/{seed.team_id}_34.png",
                "image_44": f"https://avatars.fake-slack.invalid/{seed.team_id}_44.png",
                "image_68": f"https://avatars.fake-slack.invalid/{seed.team_id}_68.png",
            },
            "avatar_base_url": "https://ca.slack-edge.com/",
            "is_verified": False,
        }
        if seed.enterprise_id:
            info["enterprise_id"] = seed.enterprise_id
            info["enterprise_name"] = seed.name
        return {"team": info}

    def _api_users_info(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        user = self._user(ws, args.text("user"))
        response = {"user": self._user_object(ws, user)}
        if args.flag("include_locale"):
            response["user"]["locale"] = "en-US"
        return response

    def _api_users_list(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        members = [self._user_object(ws, u) for u in ws.users.values()]
        page, next_cursor = self._page(members, args, default_limit=0)
        return {
            "members": page,
            "cache_ts": int(self._clock()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_users_lookupByEmail(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        email = (args.text("email") or "").lower()
        for user in ws.users.values():
            if user.email and user.email.lower() == email and not user.deleted:
                return {"user": self._user_object(ws, user)}
        raise SlackError("users_not_found")

    def _api_bots_info(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        bot_id = args.text("bot")
        for user in ws.users.values():
            if user.bot_id and user.bot_id == bot_id:
                return {
                    "bot": {
                        "id": user.bot_id,
                        "deleted": False,
                        "name": user.real_name,
                        "updated": int(self._clock()) - 3600,
                        "app_id": ws.seed.app_id
                        if user.id == ws.seed.bot_user_id
                        else f"A0{user.bot_id[2:]}",
                        "user_id": user.id,
                        "icons": {"image_36": "", "image_48": "", "image_72": ""},
                    }
                }
        raise SlackError("bot_not_found")

    def _api_conversations_info(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._channel(ws, args.text("channel"))
        return {
            "channel": self._channel_object(
                ws, channel, num_members=args.flag("include_num_members")
            )
        }

    def _api_conversations_list(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        types = set((args.text("types") or "public_channel").split(","))
        unknown = types - {"public_channel", "private_channel", "im", "mpim"}
        if unknown:
            raise SlackError("invalid_types")
        exclude_archived = args.flag("exclude_archived")
        channels = []
        for channel in sorted(ws.channels.values(), key=lambda c: c.id):
            if channel.is_im:
                wanted = "im" in types
            elif channel.is_private:
                wanted = "private_channel" in types and channel.bot_member
            else:
                wanted = "public_channel" in types
            if wanted and not (exclude_archived and channel.is_archived):
                channels.append(self._channel_object(ws, channel, num_members=True))
        page, next_cursor = self._page(channels, args, default_limit=100)
        return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_join(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._channel(ws, args.text("channel"))
        if channel.is_private or channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        response: dict[str, Any] = {}
        if channel.bot_member:
            response = {
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.bot_member = True
        return {"channel": self._channel_object(ws, channel), **response}

    def _api_conversations_leave(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._channel(ws, args.text("channel"))
        if channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_general:
            raise SlackError("cant_leave_general")
        if not channel.bot_member:
            return {"not_in_channel": True}
        channel.bot_member = False
        return {}

    def _api_conversations_history(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._readable_channel(ws, args.text("channel"))
        inclusive = args.flag("inclusive")
        oldest = _ts_micros(args.text("oldest") or "0")
        latest_arg = args.text("latest")
        latest = _ts_micros(latest_arg) if latest_arg else None
        cursor = args.text("cursor")
        if cursor:
            # The cursor continues strictly before the last message of the previous page.
            latest, inclusive_latest = _ts_micros(_decode_cursor(cursor, "next_ts:")), False
        else:
            inclusive_latest = inclusive
        limit = min(max(args.number("limit", 100), 1), 999)
        top_level = [
            m
            for m in ws.messages.get(channel.id, [])
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        in_range = []
        for message in reversed(top_level):  # newest first, as Slack returns them
            ts = _ts_micros(message["ts"])
            if latest is not None and (ts > latest or (ts == latest and not inclusive_latest)):
                continue
            if ts < oldest or (ts == oldest and not inclusive):
                continue
            in_range.append(message)
        page = in_range[:limit]
        has_more = len(in_range) > limit
        next_cursor = _encode_cursor(f"next_ts:{page[-1]['ts']}") if has_more else ""
        return {
            "messages": _with_metadata(page, args.flag("include_all_metadata")),
            "has_more": has_more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_conversations_replies(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._readable_channel(ws, args.text("channel"))
        ts = args.text("ts")
        if not ts:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: ts"]},
            )
        message = ws.find_message(channel.id, ts)
        if message is None:
            raise SlackError("thread_not_found")
        # Any message of a thread names the whole thread; the parent always comes first.
        root_ts = message.get("thread_ts") or ts
        root = ws.find_message(channel.id, root_ts) or message
        inclusive = args.flag("inclusive")
        oldest = _ts_micros(args.text("oldest") or "0")
        latest_arg = args.text("latest")
        latest = _ts_micros(latest_arg) if latest_arg else None

        def in_range(reply: dict[str, Any]) -> bool:
            at = _ts_micros(reply["ts"])
            if latest is not None and (at > latest or (at == latest and not inclusive)):
                return False
            return at > oldest or (at == oldest and inclusive)

        thread = [root, *(r for r in ws.replies(channel.id, root_ts) if in_range(r))]
        page, next_cursor = self._page(thread, args, default_limit=1000)
        return {
            "messages": _with_metadata(page, args.flag("include_all_metadata")),
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_conversations_members(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._channel(ws, args.text("channel"))
        members = list(channel.members) + (
            [ws.seed.bot_user_id] if channel.bot_member and not channel.is_im else []
        )
        if channel.is_im:
            members = [channel.im_user, ws.seed.bot_user_id]
        page, next_cursor = self._page(members, args, default_limit=100)
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_open(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        if args.text("channel"):
            channel = self._channel(ws, args.text("channel"))
            return {
                "channel": self._channel_object(ws, channel)
                if args.flag("return_im")
                else {"id": channel.id}
            }
        users = [u.strip() for u in (args.text("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("not_implemented_in_fake", detail="group DMs (mpim) are not modelled")
        user = self._user(ws, users[0])
        if user.is_bot or user.id == "USLACKBOT":
            raise SlackError("cannot_dm_bot")
        if user.deleted:
            raise SlackError("user_disabled")
        already_open = user.id in ws.dms
        channel = self._dm_channel(ws, user.id)
        response: dict[str, Any] = {
            "channel": self._channel_object(ws, channel)
            if args.flag("return_im")
            else {"id": channel.id}
        }
        if already_open:
            response.update(no_op=True, already_open=True)
        return response

    def _api_chat_postMessage(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._postable_channel(ws, args.text("channel"))
        blocks = self._message_blocks(args)
        text = self._message_text(args, blocks=blocks)
        message = self._bot_message(ws, text, blocks)
        if args.raw("attachments"):
            message["attachments"] = args.decoded("attachments")
        if args.raw("metadata"):
            message["metadata"] = args.decoded("metadata")
        thread_ts = args.text("thread_ts")
        if thread_ts:
            message["thread_ts"] = thread_ts
            parent_user = ws.parent_user(channel.id, thread_ts)
            if parent_user:
                message["parent_user_id"] = parent_user
            if args.flag("reply_broadcast"):
                message["subtype"] = "thread_broadcast"
        ws.add_message(channel.id, message)
        return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _api_chat_postEphemeral(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._postable_channel(ws, args.text("channel"))
        user = self._user(ws, args.text("user"))
        if user.id not in channel.members:
            raise SlackError("user_not_in_channel")
        blocks = self._message_blocks(args)
        text = self._message_text(args, blocks=blocks)
        ts = self._next_ts()
        ephemeral = {"channel": channel.id, "user": user.id, "text": text, "ts": ts}
        if blocks is not None:
            ephemeral["blocks"] = blocks
        if args.text("thread_ts"):
            ephemeral["thread_ts"] = args.text("thread_ts")
        ws.ephemeral.append(ephemeral)
        return {"message_ts": ts}

    def _api_chat_update(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._channel(ws, args.text("channel"))
        message = ws.find_message(channel.id, args.text("ts") or "")
        if message is None:
            raise SlackError("message_not_found")
        if message.get("user") != ws.seed.bot_user_id:
            raise SlackError("cant_update_message")
        if channel.is_archived:
            raise SlackError("is_archived")
        blocks = self._message_blocks(args)
        text = self._message_text(args, blocks=blocks)
        message["text"] = text
        if blocks is not None:
            message["blocks"] = blocks
        elif "blocks" in args.values:  # an explicit empty list clears them
            message.pop("blocks", None)
        if args.raw("attachments") is not None:
            message["attachments"] = args.decoded("attachments")
        message["edited"] = {"user": ws.seed.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": text,
            "message": copy.deepcopy(message),
        }

    def _api_chat_delete(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._channel(ws, args.text("channel"))
        ts = args.text("ts") or ""
        message = ws.find_message(channel.id, ts)
        if message is None:
            raise SlackError("message_not_found")
        if message.get("user") != ws.seed.bot_user_id:
            raise SlackError("cant_delete_message")
        ws.remove_message(channel.id, ts)
        return {"channel": channel.id, "ts": ts}

    def _api_chat_getPermalink(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel = self._channel(ws, args.text("channel"))
        ts = args.text("message_ts") or ""
        message = ws.find_message(channel.id, ts)
        if message is None:
            raise SlackError("message_not_found")
        permalink = (
            f"https://{ws.seed.domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        )
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            permalink += f"?thread_ts={thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": permalink}

    def _api_views_publish(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        user = self._user(ws, args.text("user_id"))
        view = self._view(args, "home")
        current = ws.home_views.get(user.id)
        if current is not None and args.text("hash") and args.text("hash") != current["hash"]:
            raise SlackError("hash_conflict")
        view_id = current["id"] if current else self._next_id("V")
        self._check_external_id(ws, view, view_id)
        published = self._view_object(ws, view, view_id=view_id)
        ws.home_views[user.id] = published
        return {"view": copy.deepcopy(published)}

    def _api_views_open(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        view = self._view(args, "modal")
        self._use_trigger(args)
        self._check_external_id(ws, view)
        opened = self._view_object(ws, view, view_id=self._next_id("V"))
        ws.modals[opened["id"]] = opened
        return {"view": copy.deepcopy(opened)}

    def _api_views_push(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        view = self._view(args, "modal")
        self._use_trigger(args)
        self._check_external_id(ws, view)
        # The fake cannot tell which modal the trigger came from; the newest one is the parent.
        parent = next(reversed(ws.modals.values()), None)
        view_id = self._next_id("V")
        pushed = self._view_object(
            ws,
            view,
            view_id=view_id,
            root_view_id=parent["root_view_id"] if parent else view_id,
            previous_view_id=parent["id"] if parent else None,
        )
        ws.modals[view_id] = pushed
        return {"view": copy.deepcopy(pushed)}

    def _api_views_update(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        view_id, external_id = args.text("view_id"), args.text("external_id")
        if not view_id and not external_id:
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] either view_id or external_id is required"]
                },
            )
        if args.raw("view") in (None, ""):
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view"]},
            )
        existing_home_user = None
        existing = None
        for candidate in ws.modals.values():
            if candidate["id"] == view_id or (
                external_id and candidate["external_id"] == external_id
            ):
                existing = candidate
        for user_id, candidate in ws.home_views.items():
            if candidate["id"] == view_id or (
                external_id and candidate["external_id"] == external_id
            ):
                existing, existing_home_user = candidate, user_id
        if existing is None:
            raise SlackError("not_found")
        view = self._view(args, existing["type"])
        if args.text("hash") and args.text("hash") != existing["hash"]:
            raise SlackError("hash_conflict")
        self._check_external_id(ws, view, existing["id"])
        updated = self._view_object(
            ws,
            view,
            view_id=existing["id"],
            root_view_id=existing["root_view_id"],
            previous_view_id=existing["previous_view_id"],
        )
        if existing_home_user is not None:
            ws.home_views[existing_home_user] = updated
        else:
            ws.modals[existing["id"]] = updated
        return {"view": copy.deepcopy(updated)}

    def _reaction_target(self, ws: _WorkspaceState, args: _Args) -> tuple[_Channel, dict[str, Any]]:
        channel = self._readable_channel(ws, args.text("channel"))
        message = ws.find_message(channel.id, args.text("timestamp") or "")
        if message is None:
            raise SlackError("message_not_found")
        return channel, message

    def _api_reactions_add(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        name = args.text("name") or ""
        if not _EMOJI_NAME.match(name):
            raise SlackError("invalid_name")
        channel, message = self._reaction_target(ws, args)
        if channel.is_archived:
            raise SlackError("is_archived")
        if not _add_reaction(message, name, ws.seed.bot_user_id):
            raise SlackError("already_reacted")
        return {}

    def _api_reactions_remove(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        _, message = self._reaction_target(ws, args)
        name = args.text("name") or ""
        for reaction in message.get("reactions", []):
            if reaction["name"] == name and ws.seed.bot_user_id in reaction["users"]:
                reaction["users"].remove(ws.seed.bot_user_id)
                reaction["count"] -= 1
                if not reaction["users"]:
                    message["reactions"].remove(reaction)
                if not message["reactions"]:
                    del message["reactions"]
                return {}
        raise SlackError("no_reaction")

    def _api_reactions_get(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        channel, message = self._reaction_target(ws, args)
        return {"type": "message", "channel": channel.id, "message": copy.deepcopy(message)}

    def _api_emoji_list(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        if "emoji:read" not in ws.seed.bot_scopes:
            raise SlackError("missing_scope")
        return {"emoji": dict(ws.seed.custom_emoji), "cache_ts": f"{self._clock():.6f}"}

    def _api_usergroups_list(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        groups = []
        for group in ws.usergroups.values():
            entry: dict[str, Any] = {
                "id": group.id,
                "team_id": ws.team_id,
                "is_usergroup": True,
                "is_subteam": True,
                "name": group.name or group.handle.title(),
                "description": group.description,
                "handle": group.handle,
                "is_external": False,
                "date_create": int(self._clock()) - 86_400 * 90,
                "date_update": int(self._clock()) - 86_400 * 7,
                "date_delete": 0,
                "auto_type": None,
                "created_by": ws.seed.installer if ws.seed.users else "",
                "updated_by": ws.seed.installer if ws.seed.users else "",
                "deleted_by": None,
                "prefs": {"channels": [], "groups": []},
                "user_count": len(group.users),
            }
            if args.flag("include_users"):
                entry["users"] = list(group.users)
            groups.append(entry)
        return {"usergroups": groups}

    def _api_usergroups_users_list(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        group = ws.usergroups.get(args.text("usergroup") or "")
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group.users)}

    def _api_files_getUploadURLExternal(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        length = args.number("length", 0)
        if length <= 0:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] length must be positive"]},
            )
        file_id = self._next_id("F")
        key = f"{file_id}-{secrets.token_hex(8)}"
        self._uploads[key] = _PendingUpload(
            file_id=file_id,
            team_id=ws.team_id,
            filename=args.text("filename") or "",
            length=length,
            alt_txt=args.text("alt_txt"),
        )
        return {"upload_url": f"{self.root_url}upload/v1/{key}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, ws: _WorkspaceState, args: _Args) -> dict[str, Any]:
        wanted = args.decoded("files")
        if (
            not isinstance(wanted, list)
            or not wanted
            or not all(isinstance(f, dict) and f.get("id") for f in wanted)
        ):
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] files must be a list of {id, title}"]},
            )
        pending_by_id = {
            p.file_id: (key, p) for key, p in self._uploads.items() if p.team_id == ws.team_id
        }
        for entry in wanted:
            found = pending_by_id.get(entry["id"])
            if found is None or found[1].data is None:
                raise SlackError("file_not_found")
        channel_ids = [args.text("channel_id")] if args.text("channel_id") else []
        channel_ids += [c for c in (args.text("channels") or "").split(",") if c]
        channels = [self._postable_channel(ws, c) for c in channel_ids]
        blocks = self._message_blocks(args)
        completed = []
        for entry in wanted:
            key, pending = pending_by_id[entry["id"]]
            del self._uploads[key]
            file = {
                "id": pending.file_id,
                "created": int(self._clock()),
                "timestamp": int(self._clock()),
                "name": pending.filename,
                "title": entry.get("title") or pending.filename,
                "mimetype": _mimetype(pending.filename),
                "filetype": pending.filename.rpartition(".")[2]
                if "." in pending.filename
                else "binary",
                "user": ws.seed.bot_user_id,
                "user_team": ws.team_id,
                "size": len(pending.data or b""),
                "is_external": False,
                "is_public": any(not c.is_private and not c.is_im for c in channels),
                "url_private": f"https://files.slack.com/files-pri/{ws.team_id}-{pending.file_id}/{pending.filename}",
                "permalink": f"https://{ws.seed.domain}.slack.com/files/{ws.seed.bot_user_id}/{pending.file_id}/{pending.filename}",
                "channels": [c.id for c in channels if not c.is_private and not c.is_im],
                "groups": [c.id for c in channels if c.is_private],
                "ims": [c.id for c in channels if c.is_im],
                "shares": {},
            }
            if pending.alt_txt:
                file["alt_txt"] = pending.alt_txt
            ws.files[pending.file_id] = file
            ws.file_contents[pending.file_id] = pending.data or b""
            completed.append(file)
        for channel in channels:
            message = self._bot_message(ws, args.text("initial_comment", "") or "", blocks)
            message["files"] = copy.deepcopy(completed)
            message["upload"] = True
            message["display_as_bot"] = False
            if args.text("thread_ts"):
                message["thread_ts"] = args.text("thread_ts")
            ws.add_message(channel.id, message)
            for file in completed:
                visibility = "private" if channel.is_private or channel.is_im else "public"
                file["shares"].setdefault(visibility, {}).setdefault(channel.id, []).append(
                    {
                        "ts": message["ts"],
                        "channel_name": channel.name,
                        "team_id": ws.team_id,
                        "share_user_id": ws.seed.bot_user_id,
                    }
                )
        return {"files": copy.deepcopy(completed)}

    def _check_client(self, args: _Args) -> None:
        if self.client_id is not None and args.text("client_id") != self.client_id:
            raise SlackError("invalid_client_id")
        if self.client_secret is not None and args.text("client_secret") != self.client_secret:
            raise SlackError("bad_client_secret")

    def _api_oauth_v2_access(self, args: _Args) -> dict[str, Any]:
        self._check_client(args)
        code = args.text("code") or ""
        grant = self._install_codes.pop(code, None)
        if grant is None:
            raise SlackError("invalid_code")
        seed, installer = grant
        if seed.team_id not in self._workspaces:
            self.add_workspace(seed)
        else:
            self._tokens[seed.bot_token] = seed.team_id
        self._workspaces[seed.team_id].revoked = False
        return {
            "access_token": seed.bot_token,
            "token_type": "bot",
            "scope": ",".join(seed.bot_scopes),
            "bot_user_id": seed.bot_user_id,
            "app_id": seed.app_id,
            "team": {"id": seed.team_id, "name": seed.name},
            "enterprise": {"id": seed.enterprise_id, "name": seed.name}
            if seed.enterprise_id
            else None,
            "authed_user": {"id": installer},
            "is_enterprise_install": False,
        }


def _add_reaction(message: dict[str, Any], name: str, user_id: str) -> bool:
    """Add `user_id`'s `name` reaction; False if they had already reacted with it."""
    reactions = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if user_id in reaction["users"]:
                return False
            reaction["users"].append(user_id)
            reaction["count"] += 1
            return True
    reactions.append({"name": name, "users": [user_id], "count": 1})
    return True


def _with_metadata(messages: list[dict[str, Any]], include: bool) -> list[dict[str, Any]]:
    """Copies of `messages`; their `metadata` only when asked for (`include_all_metadata`)."""
    copies = copy.deepcopy(messages)
    if not include:
        for message in copies:
            message.pop("metadata", None)
    return copies


def _mimetype(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _dump(payload: dict[str, Any]) -> bytes:
    """The answer's JSON, UTF-8. A lone UTF-16 surrogate in it (an argument's JSON may hold
    one, `"\\ud800"`, and answers echo arguments) has no UTF-8 form: it is answered as
    U+FFFD, as a service that stores text in UTF-8 shows what it could not read."""
    return _LONE_SURROGATE.sub("\ufffd", json.dumps(payload, ensure_ascii=False)).encode("utf-8")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _credentials(headers: Mapping[str, str]) -> tuple[str | None, tuple[str, str] | None]:
    """The bearer token, or the Basic client credentials oauth.v2.access is called with."""
    authorization = _header(headers, "Authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip(), None
    if scheme.lower() == "basic" and value:
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None, None
        return None, (client_id, secret)
    return None, None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _request_arguments(query: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Query string plus a form or JSON body, as slack_sdk sends them; last value wins."""
    values: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if not body:
        return values
    content_type = (_header(headers, "Content-Type") or "").lower()
    if "application/json" in content_type:
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise ValueError("a JSON body must be an object")
        values.update(decoded)
    else:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        values.update({k: v[-1] for k, v in form.items()})
    return values


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "FakeSlack/1.0"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        fake: FakeSlack = self.server.fake  # type: ignore[attr-defined]
        status, headers, payload = fake._handle_http(
            self.command, url.path, url.query, dict(self.headers), body
        )
        if headers.pop(DROP_HEADER, None):  # accepted, and then the connection drops
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read fake.calls; access logs would only be noise
