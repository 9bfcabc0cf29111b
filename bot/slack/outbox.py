"""The outbox: Slack calls that must happen once, and the only place that sends them.

A feature decides to post by *enqueueing* a call under an idempotency key
(`greeting:T123:U456`, `digest:T123:U456:2026-W48`) in the same transaction as the
change that caused it. The unique key makes a second enqueue (a retried event, a
second process, a re-run job) a no-op. Delivery claims a row atomically before
calling Slack, so two processes never send the same row.

Slack has no idempotency keys of its own, so a process that dies between Slack's
answer and recording it leaves a row "sending"; such rows are never resent
automatically (a duplicate post is worse than a missing one) and are marked
failed with that reason once stale.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import OutboxMessage, Workspace
from bot.db.unit import in_unit, note, noted, on_commit
from bot.runtime import NoTokenForWorkspace, Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)
# Errors that no retry can fix: the row fails at once.
PERMANENT_ERRORS = frozenset({
    "account_inactive", "channel_not_found", "invalid_arguments", "invalid_auth",
    "invalid_blocks", "invalid_blocks_format", "is_archived", "msg_too_long", "no_text",
    "not_authed", "not_in_channel", "restricted_action", "token_revoked", "user_not_found",
    "cannot_dm_bot", "missing_scope", "not_implemented_in_fake", "unknown_method",
})  # fmt: skip


class OutboxStatus(StrEnum):
    """Where a queued call is (`outbox_messages.status`)."""

    PENDING = "pending"  # waiting for `not_before`, first time or to retry
    SENDING = "sending"  # claimed by a process that is calling Slack
    SENT = "sent"
    FAILED = "failed"  # for good: a permanent error, too many attempts, or interrupted


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def enqueue(
    session: Session,
    *,
    workspace_id: int,
    key: str,
    method: str,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
) -> tuple[OutboxMessage, bool]:
    """Queue `method(**payload)` under `key`; returns (row, created). Same key: nothing new."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing, False
    message = OutboxMessage(
        workspace_id=workspace_id, idempotency_key=key, method=method, payload=payload,
        created_at=now, not_before=not_before or now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # another transaction enqueued the same key meanwhile
        existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        return existing, False
    note(QUEUED)
    return message, True


QUEUED = "outbox-queued"  # noted on a unit of work that queued a message


def follow_up(runtime: Runtime, *, workspace_id: int, user_id: str, text: str, ref: str | None) -> None:
    """DM `user_id` about what they just did (a backfill's result, a setting Slack refused),
    once per request: `ref` is the request's trigger id (a fresh one when Slack gave none)."""
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        enqueue(
            session, workspace_id=workspace_id, method="chat.postMessage", now=now,
            key=f"follow-up:{workspace_id}:{user_id}:{ref or uuid.uuid4().hex}",
            payload={"channel": user_id, "text": text},
        )  # fmt: skip
    deliver_due(runtime)


def deliver_due(runtime: Runtime, *, limit: int = 50, sweep: bool = False) -> DeliveryReport:
    """Send every due pending message (oldest first); never raises for Slack errors.

    Called right after a change queued something, it is one indexed read when nothing is
    due; called inside a unit of work (an inbox event's listeners), it runs once that
    unit has committed, if the unit queued anything. The periodic sender (`sweep=True`: the scheduler, `heard worker`) also settles
    claims a dead process left, which an event's hot path need not do each time.
    """
    report = DeliveryReport()
    if in_unit():  # what the unit queued is not committed yet: send it once it is
        if noted(QUEUED):
            on_commit(lambda: deliver_due(runtime, limit=limit, sweep=sweep), key=("deliver_due", id(runtime)))
        return report
    now = runtime.clock()
    with runtime.sessions() as session:
        if sweep:
            _expire_stale_claims(session, now)
        due = session.execute(
            select(OutboxMessage.id, Workspace.team_id, Workspace.enterprise_id)
            .join(Workspace, Workspace.id == OutboxMessage.workspace_id)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        ).all()
    for message_id, team_id, enterprise_id in due:
        _deliver_one(runtime, message_id, team_id, enterprise_id, report)
    return report


def _claim(session: Session, message_id: int, now: datetime) -> OutboxMessage | None:
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
    )
    session.commit()
    if claimed.rowcount != 1:
        return None  # another process took it
    return session.get(OutboxMessage, message_id)


def _deliver_one(runtime, message_id, team_id, enterprise_id, report: DeliveryReport) -> None:
    with runtime.sessions() as session:
        message = _claim(session, message_id, runtime.clock())
        if message is None:
            return
        key = message.idempotency_key
        try:
            client = runtime.client_for(team_id, enterprise_id)
            response = client.api_call(message.method, json=message.payload)
        except NoTokenForWorkspace as exc:
            _fail(message, str(exc), runtime.clock())
            report.failed.append(key)
        except SlackApiError as exc:
            error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
            now = runtime.clock()
            if error in PERMANENT_ERRORS or message.attempts >= MAX_ATTEMPTS:
                _fail(message, error, now)
                report.failed.append(key)
            else:
                retry_after = _retry_after(exc, message.attempts)
                message.status, message.last_error = OutboxStatus.PENDING, error
                message.not_before = now + retry_after
                report.retrying.append(key)
        except OSError as exc:  # Slack unreachable after the client's own retries
            message.status, message.last_error = OutboxStatus.PENDING, f"{type(exc).__name__}: {exc}"
            message.not_before = runtime.clock() + _retry_after(None, message.attempts)
            report.retrying.append(key)
        else:
            message.status, message.sent_at = OutboxStatus.SENT, runtime.clock()
            message.last_error = None
            message.result = {k: response.get(k) for k in ("channel", "ts") if response.get(k)}
            report.sent.append(key)
        session.commit()
        if message.status == OutboxStatus.FAILED:
            log.warning("outbox %s failed: %s", key, message.last_error)


def _retry_after(exc: SlackApiError | None, attempts: int) -> timedelta:
    if exc is not None and exc.response.status_code == 429:
        headers = {name.lower(): value for name, value in (exc.response.headers or {}).items()}
        value = headers.get("retry-after", "30")
        value = value[0] if isinstance(value, list) else value
        seconds = int(value) if str(value).isdigit() else 30
        return timedelta(seconds=max(seconds, 1))
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def _fail(message: OutboxMessage, reason: str, now: datetime) -> None:
    message.status, message.last_error, message.sent_at = OutboxStatus.FAILED, reason, None
    message.not_before = now


def _expire_stale_claims(session: Session, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - STALE_CLAIM)
        .values(status=OutboxStatus.FAILED, last_error="interrupted while sending; not resent to avoid a duplicate")
    )
    session.commit()


def sent_result(session: Session, key: str) -> dict[str, Any] | None:
    """What Slack answered for the message under `key` ({channel, ts}), once sent."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    return message.result if message is not None and message.status == OutboxStatus.SENT else None
