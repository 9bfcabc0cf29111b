"""The outbox: Slack calls that must happen once, and the only place that sends them.

A feature decides to post by *enqueueing* a call under an idempotency key
(`greeting:T123:U456`, `digest:T123:U456:2026-W48`) in the same transaction as the
change that caused it. The unique key makes a second enqueue (a retried event, a
second process, a re-run job) a no-op. Delivery claims a row atomically before
calling Slack, so two processes never send the same row.

Slack has no idempotency keys of its own, so a process that dies between Slack's
answer and recording it leaves a row "sending"; such rows are never resent
automatically (a duplicate post is worse than a missing one) and are marked
failed with that reason once stale. A claim is the time it was taken; an answer is
recorded only while the row still holds that claim, so a row settled as stale is
never overwritten by a late answer.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import bindparam, select, update
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
    unit has committed, if the unit queued anything. The periodic sender (`sweep=True`:
    the scheduler, `heard worker`) also settles claims a dead process left, which an
    event's hot path need not do each time.

    Rows are claimed in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
    processes sending at once take different rows), the claim's time is its token, each
    call to Slack happens outside any transaction, and its result is written only if the
    claim is still this one's.
    """
    report = DeliveryReport()
    if in_unit():  # what the unit queued is not committed yet: send it once it is
        if noted(QUEUED):
            on_commit(lambda: deliver_due(runtime, limit=limit, sweep=sweep), key=("deliver_due", id(runtime)))
        return report
    now = runtime.clock()
    if sweep:
        with runtime.sessions.begin() as session:
            _expire_stale_claims(session, now)
    with runtime.sessions.begin() as session:
        claimed = session.connection().execute(_CLAIM, {"now": now, "n": limit}).all()
        teams = dict(session.execute(
            select(Workspace.id, Workspace).where(Workspace.id.in_({row.workspace_id for row in claimed}))
        ).all()) if claimed else {}  # fmt: skip
        targets = {wid: (w.team_id, w.enterprise_id) for wid, w in teams.items()}
    for row in sorted(claimed, key=lambda r: (r.not_before, r.id)):
        team_id, enterprise_id = targets[row.workspace_id]
        _deliver_one(runtime, row, team_id, enterprise_id, claimed_at=now, report=report)
    return report


# Built once: every send claims. The subquery picks the due rows; the outer UPDATE takes
# them, and RETURNING hands over what to send.
_CLAIM = (
    update(OutboxMessage)
    .where(OutboxMessage.id.in_(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= bindparam("now"))
        .order_by(OutboxMessage.not_before, OutboxMessage.id).limit(bindparam("n"))
        .with_for_update(skip_locked=True).scalar_subquery()
    ), OutboxMessage.status == OutboxStatus.PENDING)
    .values(status=OutboxStatus.SENDING, claimed_at=bindparam("now"), attempts=OutboxMessage.attempts + 1)
    .returning(OutboxMessage.id, OutboxMessage.workspace_id, OutboxMessage.idempotency_key,
               OutboxMessage.method, OutboxMessage.payload, OutboxMessage.attempts, OutboxMessage.not_before)
)  # fmt: skip


def _deliver_one(runtime: Runtime, row, team_id: str, enterprise_id: str | None, *, claimed_at: datetime,
                 report: DeliveryReport) -> None:  # fmt: skip
    """Call Slack for one claimed row (no transaction open), then record what happened."""
    key = row.idempotency_key
    try:
        client = runtime.client_for(team_id, enterprise_id)
        response = client.api_call(row.method, json=row.payload)
    except NoTokenForWorkspace as exc:
        outcome = _failed(str(exc), runtime.clock())
        report.failed.append(key)
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        now = runtime.clock()
        if error in PERMANENT_ERRORS or row.attempts >= MAX_ATTEMPTS:
            outcome = _failed(error, now)
            report.failed.append(key)
        else:
            outcome = {"status": OutboxStatus.PENDING, "last_error": error,
                       "not_before": now + _retry_after(exc, row.attempts)}  # fmt: skip
            report.retrying.append(key)
    except OSError as exc:  # Slack unreachable after the client's own retries
        outcome = {"status": OutboxStatus.PENDING, "last_error": f"{type(exc).__name__}: {exc}",
                   "not_before": runtime.clock() + _retry_after(None, row.attempts)}  # fmt: skip
        report.retrying.append(key)
    else:
        outcome = {"status": OutboxStatus.SENT, "sent_at": runtime.clock(), "last_error": None,
                   "result": {k: response.get(k) for k in ("channel", "ts") if response.get(k)}}  # fmt: skip
        report.sent.append(key)
    with runtime.sessions.begin() as session:
        recorded = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.status == OutboxStatus.SENDING,
                   OutboxMessage.claimed_at == claimed_at)
            .values(**outcome)
        ).rowcount  # fmt: skip
    if not recorded:  # the claim went stale and was settled meanwhile: what it says stands
        log.warning("outbox %s: the answer came after its claim was settled; not recorded (%s)", key, outcome["status"])
    elif outcome["status"] == OutboxStatus.FAILED:
        log.warning("outbox %s failed: %s", key, outcome["last_error"])


def _failed(reason: str, now: datetime) -> dict[str, Any]:
    return {"status": OutboxStatus.FAILED, "last_error": reason, "sent_at": None, "not_before": now}


def _retry_after(exc: SlackApiError | None, attempts: int) -> timedelta:
    if exc is not None and exc.response.status_code == 429:
        headers = {name.lower(): value for name, value in (exc.response.headers or {}).items()}
        value = headers.get("retry-after", "30")
        value = value[0] if isinstance(value, list) else value
        seconds = int(value) if str(value).isdigit() else 30
        return timedelta(seconds=max(seconds, 1))
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def _expire_stale_claims(session: Session, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - STALE_CLAIM)
        .values(status=OutboxStatus.FAILED, last_error="interrupted while sending; not resent to avoid a duplicate")
    )


def sent_result(session: Session, key: str) -> dict[str, Any] | None:
    """What Slack answered for the message under `key` ({channel, ts}), once sent."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    return message.result if message is not None and message.status == OutboxStatus.SENT else None
