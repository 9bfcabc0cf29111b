"""Global Bolt middleware: every request is tied to an installed workspace, every event
is processed once.

Slack retries an event it thinks we missed (`X-Slack-Retry-Num`) and may deliver one
event to two processes; the `processed_events` primary key on `event_id` is the
arbiter, recorded before any listener changes anything. Listeners run after the ack,
so Slack never retries because a listener failed: a recorded id costs nothing there.
Only a process that dies between recording an id and acking loses that event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from slack_bolt import BoltResponse
from slack_bolt.context import BoltContext
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.db.models import ProcessedEvent
from bot.runtime import Runtime
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


def deduplicate_events(runtime: Runtime) -> Callable:
    """Record each event_id once; a repeated delivery is acknowledged and dropped."""

    def dedupe(body: dict, context: BoltContext, next: Callable[[], BoltResponse]):
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            return next()
        with runtime.sessions() as session:
            try:
                session.add(
                    ProcessedEvent(
                        event_id=str(event_id)[:64],
                        team_id=str(context.team_id or "")[:32],
                        received_at=runtime.clock(),
                    )
                )
                session.commit()
            except IntegrityError:
                session.rollback()
                log.info("duplicate delivery of event %s dropped", event_id)
                return BoltResponse(status=200, body="")
        return next()

    return dedupe


# Slack retries a delivery for about an hour; a day of event ids is ample.
EVENT_MEMORY = timedelta(days=1)


def forget_old_events(runtime: Runtime) -> int:
    """Delete event ids older than EVENT_MEMORY; returns how many went."""
    with runtime.sessions.begin() as session:
        result = session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.received_at < runtime.clock() - EVENT_MEMORY)
        )
    return result.rowcount
