"""Global Bolt middleware: every request is tied to an installed workspace, and every
event is stored in the inbox before Slack gets its 200 (`bot.slack.inbox`).

Slack retries an event it thinks we missed (`X-Slack-Retry-Num`) and may deliver one
event to two processes; the inbox's primary key on `event_id` makes them one row. The
listeners run later, from the inbox, so a process that stops after answering loses
nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.context import BoltContext
from slack_bolt.request.internals import extract_team_id

from bot.db.unit import remember
from bot.runtime import Runtime
from bot.slack import inbox
from bot.slack.inbox import InboxProcessor
from bot.workspaces import find_active

log = logging.getLogger(__name__)

# Lifecycle events arrive after Slack has already removed us; they must pass.
LIFECYCLE_EVENTS = frozenset({"app_uninstalled", "tokens_revoked"})


def _event_type(body: dict) -> str | None:
    event = body.get("event")
    return event.get("type") if isinstance(event, dict) else None


def workspace_guard(runtime: Runtime) -> Callable:
    """Drop (but acknowledge) requests from workspaces Heard is not installed in."""

    def guard(body: dict, context: BoltContext, next: Callable[[], BoltResponse]):
        found = served(runtime, body, context.team_id)
        if found is None:
            return BoltResponse(status=200, body="")
        context.update(found)
        return next()

    return guard


def served(runtime: Runtime, body: dict, team_id: str | None) -> dict | None:
    """What `workspace_guard` adds to a request's context (`workspace_id`, `time_zone`), or
    None, logged, when the request comes from a workspace Heard does not serve. Lifecycle
    events pass with nothing added."""
    if _event_type(body) in LIFECYCLE_EVENTS:
        return {}
    found = remember(("active-workspace", team_id), lambda: _active(runtime, team_id), across_batches=5.0)
    if found is None:
        log.warning(
            "ignoring %s from unknown workspace %s",
            body.get("type") or body.get("command") or "request", team_id,
        )  # fmt: skip
        return None
    return {"workspace_id": found[0], "time_zone": found[1]}


def _active(runtime: Runtime, team_id: str | None) -> tuple[int, str] | None:
    with runtime.sessions() as session:
        workspace = find_active(session, team_id)
        return None if workspace is None else (workspace.id, workspace.time_zone)


FROM_INBOX = "heard_from_inbox"  # set on the context of a request the processor replays


class EventStore:
    """Stores an `event_callback` in the inbox and wakes the processor: all that happens
    before Slack's 200, whether the event came over HTTP (`bot.slack.front` calls this
    once the signature holds, without Bolt) or over Socket Mode (`bot.slack.socket_mode`
    calls it before the envelope's acknowledgement; `store_events` for an event handed to
    Bolt directly).

    An event from a workspace Heard does not serve is dropped, as `workspace_guard` drops
    any other request; which teams are served is looked up once per `ACTIVE_FOR` seconds
    per team, so the hot path is one insert. An event without a usable `event_id` cannot
    be told from its retries: it is logged and skipped.
    """

    ACTIVE_FOR = 30.0  # seconds a team found installed is believed installed

    def __init__(self, runtime: Runtime, processor: InboxProcessor):
        self.runtime = runtime
        self.processor = processor
        self._active: dict[str, float] = {}  # team id -> when the database said installed

    def __call__(self, body: dict, raw: str) -> None:
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > inbox.MAX_EVENT_ID:
            log.warning("event without a usable event_id skipped (%s)", _event_type(body))
            return
        team_id = extract_team_id(body)
        if _event_type(body) not in LIFECYCLE_EVENTS and not self._serves(team_id):
            log.warning("ignoring event_callback from unknown workspace %s", team_id)
            return
        if inbox.store(self.runtime, event_id=event_id, team_id=str(team_id or ""), body=raw, now=self.runtime.clock()):
            self.processor.wake()
        else:
            log.info("duplicate delivery of event %s dropped", event_id)

    def _serves(self, team_id: str | None) -> bool:
        now = time.monotonic()
        if team_id in self._active and now - self._active[team_id] < self.ACTIVE_FOR:
            return True
        if _active(self.runtime, team_id) is None:
            self._active.pop(team_id, None)
            return False
        self._active[team_id] = now
        return True


def store_events(events: EventStore) -> Callable:
    """Bolt middleware for an event that reaches the front app without passing the HTTP
    front or `bot.slack.socket_mode` (a Socket Mode request dispatched to Bolt directly):
    store it and answer; the processor runs the listeners."""

    def store(req: BoltRequest, body: dict, context: BoltContext, next: Callable[[], BoltResponse]):
        if body.get("type") != "event_callback" or context.get(FROM_INBOX):
            return next()
        events(body, req.raw_body or json.dumps(body))  # Socket Mode hands Bolt a dict
        return BoltResponse(status=200, body="")

    return store
