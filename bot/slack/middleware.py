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
from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.context import BoltContext

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
        if _event_type(body) in LIFECYCLE_EVENTS:
            return next()
        team_id = context.team_id
        with runtime.sessions() as session:
            workspace = find_active(session, team_id)
            if workspace is None:
                log.warning(
                    "ignoring %s from unknown workspace %s",
                    body.get("type") or body.get("command") or "request", team_id,
                )  # fmt: skip
                return BoltResponse(status=200, body="")
            context["workspace_id"] = workspace.id
            context["time_zone"] = workspace.time_zone
        return next()

    return guard


FROM_INBOX = "heard_from_inbox"  # set on the context of a request the processor replays


def store_events(runtime: Runtime, processor: InboxProcessor) -> Callable:
    """Store each event in the inbox and answer 200; the processor runs the listeners.

    Nothing else happens before Slack's answer: one insert, which a retried or
    twice-delivered event turns into nothing. An event without a usable `event_id` cannot
    be told from its retries: it is logged and skipped.
    """

    def store(req: BoltRequest, body: dict, context: BoltContext, next: Callable[[], BoltResponse]):
        if body.get("type") != "event_callback" or context.get(FROM_INBOX):
            return next()
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > inbox.MAX_EVENT_ID:
            log.warning("event without a usable event_id skipped (%s)", _event_type(body))
            return BoltResponse(status=200, body="")
        raw = req.raw_body or json.dumps(body)  # Socket Mode hands Bolt a dict
        if inbox.store(runtime, event_id=event_id, team_id=str(context.team_id or ""), body=raw, now=runtime.clock()):
            processor.wake()
        else:
            log.info("duplicate delivery of event %s dropped", event_id)
        return BoltResponse(status=200, body="")

    return store
