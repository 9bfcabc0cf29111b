"""The outbox: Slack calls that must happen once, and the only place that sends them.

A feature decides to post by *enqueueing* a call under an idempotency key
(`greeting:T123:U456`, `digest:T123:U456:2026-W48`) in the same transaction as the
change that caused it. The unique key makes a second enqueue (a retried event, a
second process, a re-run job) a no-op. Rooms enqueue and read rows only through this
module's functions (`enqueue`, `outcomes`, `sent_result`, `recheck`, `retire`,
`rewrite_payloads`, `forget_recipient`).

Delivery is exactly once as people see it:

- Rows are claimed in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so senders
  in several processes take different rows) under a claim token; the call to Slack
  happens outside any transaction; its result is written only while the row still holds
  that token.
- Every message carries its key in Slack's message `metadata` (event type
  `heard_outbox`); a file share (`files.completeUploadExternal`) shows its file in the
  message Slack posts for it. A send whose outcome is unknown (a timeout, a dropped
  connection, a 5xx, a process killed after the call: a row left `sending` past
  `STALE_CLAIM`) is marked `uncertain`, never resent blindly. Once `SETTLE_AFTER` has
  passed, the sender looks for the key (or the file) in the channel's history (the
  thread's replies for a reply; the DM opened first for a user): found, the row is sent
  with that message's ts; not found, it is sent again. (A share made again could not
  tell: a file no longer waiting to be shared is `file_not_found`, whether it was
  shared already or never uploaded.)
- Only a 429 is retried as such, after Slack's `Retry-After`, and calls are paced per
  workspace and method inside Slack's limits (`bot.slack.ratelimit`), so a long
  fan-out does not bounce off them. The outbox's client retries nothing itself.
- A permanent error (`channel_not_found`, `not_in_channel`, `is_archived`,
  `account_inactive`, `invalid_auth`, …), too many failed tries, or a history Heard
  cannot read *parks* the row, and the workspace's admins hear of it once per kind of
  error and day (a DM through the outbox, under its own key). A row parked because its
  history could not be read is *unconfirmed* (`Outcome.unconfirmed`): it may well be in
  the channel, so neither the note nor a room may call it not delivered. `heard outbox
  list` shows parked rows, `heard outbox retry` queues them again (`recheck`, for a room:
  unconfirmed rows only), an unconfirmed one to be looked for in history first.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError
from sqlalchemy import String, bindparam, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import OutboxMessage, Workspace
from bot.db.unit import in_unit, note, noted, on_commit
from bot.roles import known_admins
from bot.runtime import NoTokenForWorkspace, Runtime
from bot.slack.client import retry_after_seconds

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Rows one claim of the periodic sender takes: a sender killed mid-batch leaves at most
# these to settle from history. Right after a change queued posts, one claim takes up to
# HOT_BATCH at once (a job's or an event's fan-out goes out without waiting for a sweep).
BATCH = 10
HOT_BATCH = 50
STALE_CLAIM = timedelta(minutes=10)  # longer than any batch's calls, rate limits included
# A batch whose calls run slow (Slack taking seconds to answer each) gives back the rows it has
# not reached once its claim is this old, rather than call Slack for a row whose claim another
# process may take for a dead sender's (and settle, and send) while the call is under way.
CLAIM_SPAN = STALE_CLAIM / 2
SETTLE_AFTER = timedelta(seconds=30)  # past the client's timeout: Slack has finished by then
HISTORY_MARGIN = timedelta(minutes=5)  # Slack's clock against ours, when reading history back
HISTORY_PAGES = 10  # of 200 messages: how far back an uncertain post is looked for
HOT_PATH_WAIT = 1.0  # seconds a post queued by an event may wait for the rate limiter
SWEEP_WAIT = 15.0  # and the periodic sender; past that, the row waits for its turn
SWEEP_BUDGET = 10.0  # seconds one sweep keeps sending batches: a SIGTERM waits for no longer
INLINE_RETRY_AFTER = 5  # a 429 asking for this long or less is waited out in place
INLINE_RETRIES = 3  # that many times per call at most: past that, the row waits for a later sweep
METADATA_EVENT = "heard_outbox"
# Calls whose effect shows in the channel's history, so an unknown outcome is settled
# there: a post by the key in its metadata, a file share by its file.
SETTLED_FROM_HISTORY = frozenset({"chat.postMessage", "files.completeUploadExternal"})
NOTICE_PREFIX = "outbox-parked:"
# Errors that no retry can fix: the row is parked at once.
PERMANENT_ERRORS = frozenset({
    "account_inactive", "channel_not_found", "invalid_arguments", "invalid_auth",
    "invalid_blocks", "invalid_blocks_format", "is_archived", "msg_too_long", "no_text",
    "not_authed", "not_in_channel", "restricted_action", "token_revoked", "user_not_found",
    "cannot_dm_bot", "missing_scope", "not_implemented_in_fake", "unknown_method",
    "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large", "user_disabled",
    "file_not_found",
})  # fmt: skip
# What the admins are told a permanent error means, and what to do.
REASONS = {
    "channel_not_found": "the channel no longer exists, or Heard cannot see it",
    "not_in_channel": "Heard is not a member of the channel: invite it with /invite @Heard",
    "is_archived": "the channel is archived",
    "account_inactive": "the person's account is deactivated",
    "user_disabled": "the person's account is deactivated",
    "invalid_auth": "Heard's token for this workspace is no longer valid: reinstall Heard",
    "token_revoked": "Heard's token for this workspace was revoked: reinstall Heard",
    "missing_scope": "Heard lacks a permission it needs: reinstall Heard to grant it",
    "file_not_found": "the file Heard uploaded for it is no longer waiting on Slack to be shared",
    "unanswered": "Slack answered none of its tries, and it is not in the conversation's history",
}


class OutboxStatus(StrEnum):
    """Where a queued call is (`outbox.status`)."""

    PENDING = "pending"  # waiting for `not_before`, first time or to retry
    SENDING = "sending"  # claimed by a process that is calling Slack (or reading history)
    UNCERTAIN = "uncertain"  # sent, perhaps: settled from the channel's history before any resend
    SENT = "sent"
    PARKED = "parked"  # for an operator: a permanent error, too many tries, or unsettleable


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    more: bool = False  # the sweep stopped at its budget with rows still due

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.uncertain or self.parked)


@dataclass(frozen=True)
class Outcome:
    """What became of a queued call, as rooms may read it (`outcomes`)."""

    status: OutboxStatus
    result: dict[str, Any] | None  # {channel, ts} once sent
    error: str | None
    sent_at: datetime | None

    @property
    def delivered(self) -> bool:
        return self.status == OutboxStatus.SENT

    @property
    def parked(self) -> bool:
        return self.status == OutboxStatus.PARKED

    @property
    def unconfirmed(self) -> bool:
        """Parked without knowing whether Slack took it: the call may have been made (a 5xx,
        a timeout) and the channel's history, where it would show, could not be read. Not
        a refusal: it may well be in the channel, and it was not resent so as not to post twice."""
        return self.parked and (self.error or "").startswith(UNSETTLED)


def enqueue(
    session: Session,
    *,
    workspace_id: int,
    key: str,
    method: str,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
    room_tells_admins: bool = False,
) -> tuple[OutboxMessage, bool]:
    """Queue `method(**payload)` under `key`; returns (row, created). Same key: nothing new.

    The message's `metadata` is the outbox's (it carries the key): a payload brings none.
    `room_tells_admins`: the room reads the outcome (`outcomes`) and tells the admins itself
    when the row is parked, so the outbox's own note is not sent."""
    if "metadata" in payload or OWN in payload:
        raise ValueError("the outbox sets a message's metadata itself; leave it out of the payload")
    if room_tells_admins:
        payload = {**payload, OWN: {"quiet": True}}
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
OWN = "_outbox"  # the payload's entry for the outbox's own options, never sent to Slack


def follow_up(
    runtime: Runtime, *, workspace_id: int, user_id: str, text: str, ref: str | None
) -> None:
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


# -- what rooms read and change ----------------------------------------------------------------


def outcomes(session: Session, keys: list[str] | set[str] | dict[str, Any]) -> dict[str, Outcome]:
    """What became of the calls queued under `keys`, for those that are settled: sent, or
    parked. A key still on its way (pending, sending, uncertain) is left out."""
    found = {}
    for key, status, result, error, sent_at in session.execute(
        select(OutboxMessage.idempotency_key, OutboxMessage.status, OutboxMessage.result,
               OutboxMessage.last_error, OutboxMessage.sent_at)
        .where(OutboxMessage.idempotency_key.in_(list(keys)),
               OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.PARKED)))
    ):  # fmt: skip
        found[key] = Outcome(OutboxStatus(status), result, error, sent_at)
    return found


def sent_result(session: Session, key: str) -> dict[str, Any] | None:
    """What Slack answered for the message under `key` ({channel, ts}), once sent."""
    outcome = outcomes(session, [key]).get(key)
    return outcome.result if outcome is not None and outcome.delivered else None


def recheck(session: Session, keys: list[str] | set[str], *, now: datetime) -> int:
    """Look again for the unconfirmed calls under `keys` (see `Outcome.unconfirmed`): each
    is uncertain again with fresh tries, so it is looked for in the channel's history and
    sent only if it is not there. Returns how many."""
    return session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.idempotency_key.in_(list(keys)), OutboxMessage.status == OutboxStatus.PARKED,
               OutboxMessage.last_error.startswith(UNSETTLED, autoescape=True))
        .values(status=OutboxStatus.UNCERTAIN, attempts=0, not_before=now, claim_token=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip


def retire(session: Session, key: str) -> bool:
    """Give up for good the call under `key`, which the room has replaced with another (a
    story posted again under a new key after its first post went unconfirmed or refused):
    waiting, uncertain or parked, it is parked as `RETIRED`, never sent and left alone by
    `heard outbox retry`. False when it is being sent or was sent (or there is no such
    row): then it is not the room's to replace."""
    return bool(session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.idempotency_key == key,
               OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.UNCERTAIN, OutboxStatus.PARKED)))
        .values(status=OutboxStatus.PARKED, last_error=RETIRED, claim_token=None)
        .execution_options(synchronize_session=False)
    ).rowcount)  # fmt: skip


def rewrite_payloads(session: Session, keys: list[str] | set[str],
                     rewrite: Callable[[str, dict[str, Any]], dict[str, Any]]) -> int:  # fmt: skip
    """Replace the payload of each row under `keys` with `rewrite(key, payload)` (what a
    row not yet sent will say; what a sent one keeps on record). Returns how many."""
    changed = 0
    for message in session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(list(keys)))
    ):
        message.payload = rewrite(message.idempotency_key, dict(message.payload or {}))
        changed += 1
    session.flush()
    return changed


def forget_recipient(session: Session, workspace_id: int, user_id: str) -> int:
    """Forget the DMs and mentions of `user_id` in the outbox: a row not yet sent is deleted,
    a sent or possibly sent one keeps only that it happened. Returns how many rows."""
    # The payload is JSON; a text match narrows the rows, the exact check is in Python.
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace_id,
            cast(OutboxMessage.payload, String).contains(user_id),
        )
    )
    forgotten = 0
    for message in rows:
        payload = message.payload or {}
        if user_id not in (payload.get("channel"), payload.get("user"), payload.get("user_id")):
            continue
        if message.status in (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.UNCERTAIN):
            # Sending or perhaps sent: nothing is sent again (an uncertain row is parked).
            message.payload, message.result = {"forgotten": True}, None
            if message.status == OutboxStatus.UNCERTAIN:
                message.status, message.last_error = OutboxStatus.PARKED, "forgotten"
        else:
            session.delete(message)
        forgotten += 1
    session.flush()
    return forgotten


def forget_mentions(session: Session, workspace_id: int, user_id: str) -> int:
    """Blank what Heard sent that names `user_id` (a DM to someone else, a card, a post
    crediting them): the row keeps only that it happened, so it is never sent again.
    Rows not sent yet are left to go out as they are. Returns how many rows."""
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.UNCERTAIN,
                                      OutboxStatus.PARKED)),
            cast(OutboxMessage.payload, String).contains(user_id),
        )
    )  # fmt: skip
    blanked = 0
    for message in rows:
        message.payload, message.result = {"forgotten": True}, None
        blanked += 1
    session.flush()
    return blanked


# -- operators: heard outbox list|retry ---------------------------------------------------------


def counts(runtime: Runtime) -> dict[str, int]:
    """How many rows are in each status."""
    with runtime.sessions() as session:
        return dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )


@dataclass(frozen=True)
class ParkedRow:
    key: str
    team_id: str
    method: str
    channel: str | None
    attempts: int
    last_error: str | None
    created_at: datetime


def parked(runtime: Runtime, *, team_id: str | None = None, limit: int = 100) -> list[ParkedRow]:
    """The parked rows, oldest first."""
    query = (
        select(OutboxMessage, Workspace.team_id).join(Workspace, Workspace.id == OutboxMessage.workspace_id)
        .where(OutboxMessage.status == OutboxStatus.PARKED)
        .order_by(OutboxMessage.created_at, OutboxMessage.id).limit(limit)
    )  # fmt: skip
    if team_id:
        query = query.where(Workspace.team_id == team_id)
    with runtime.sessions() as session:
        rows = session.execute(query).all()
        return [
            ParkedRow(
                m.idempotency_key,
                team,
                m.method,
                _channel_of(m.payload or {}),
                m.attempts,
                m.last_error,
                m.created_at,
            )
            for m, team in rows
        ]


def retry(runtime: Runtime, keys: list[str] | None = None, *, team_id: str | None = None) -> int:
    """Queue parked rows again (all, or those under `keys`), with fresh attempts; returns
    how many. A row that was uncertain when parked is looked for in history first."""
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        query = select(OutboxMessage.id, OutboxMessage.last_error).where(
            OutboxMessage.status == OutboxStatus.PARKED
        )
        if keys:
            query = query.where(OutboxMessage.idempotency_key.in_(keys))
        if team_id:
            query = query.where(
                OutboxMessage.workspace_id.in_(
                    select(Workspace.id).where(Workspace.team_id == team_id)
                )
            )
        rows = [(row_id, error) for row_id, error in session.execute(query) if error not in ("forgotten", RETIRED)]
        for row_id, error in rows:
            status = (
                OutboxStatus.UNCERTAIN
                if (error or "").startswith(UNSETTLED)
                else OutboxStatus.PENDING
            )
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.PARKED)
                            .values(status=status, attempts=0, not_before=now, claim_token=None))  # fmt: skip
    return len(rows)


UNSETTLED = "uncertain:"  # a parked row's error when its history could not be read
RETIRED = "retired: replaced by another call"  # a parked row's error once a room replaced it (`retire`)


# -- delivery -----------------------------------------------------------------------------------


def deliver_due(runtime: Runtime, *, limit: int | None = None, sweep: bool = False) -> DeliveryReport:
    """Send every due pending message (oldest first) and settle due uncertain ones; never
    raises for Slack errors.

    Called right after a change queued something, it is one indexed read when nothing is
    due; called inside a unit of work (an inbox event's listeners), it runs once that
    unit has committed, if the unit queued anything, and waits little for the rate
    limiter. The periodic sender (`sweep=True`: the scheduler, `heard worker`) also marks
    claims a dead process left as uncertain, and keeps taking batches for up to
    `SWEEP_BUDGET` seconds.
    """
    report = DeliveryReport()
    if in_unit():  # what the unit queued is not committed yet: send it once it is
        if noted(QUEUED):
            on_commit(
                lambda: deliver_due(runtime, limit=limit, sweep=sweep),
                key=("deliver_due", id(runtime)),
            )
        return report
    started = time.monotonic()
    limit = limit or (BATCH if sweep else HOT_BATCH)
    if sweep:
        with runtime.sessions.begin() as session:
            _expire_stale_claims(session, runtime.clock())
    while True:
        now, token = runtime.clock(), uuid.uuid4().hex
        with runtime.sessions.begin() as session:
            connection = session.connection()
            claimed = [
                (row, True)
                for row in connection.execute(
                    _CLAIM_UNCERTAIN, {"now": now, "n": limit, "token": token}
                )
            ]
            claimed += [
                (row, False)
                for row in connection.execute(_CLAIM, {"now": now, "n": limit, "token": token})
            ]
            teams = dict(session.execute(
                select(Workspace.id, Workspace).where(Workspace.id.in_({row.workspace_id for row, _ in claimed}))
            ).all()) if claimed else {}  # fmt: skip
            targets = {wid: (w.team_id, w.enterprise_id) for wid, w in teams.items()}
        for row, uncertain in sorted(claimed, key=lambda pair: (pair[0].not_before, pair[0].id)):
            if runtime.clock() - now > CLAIM_SPAN:
                _give_back(runtime, row, token, uncertain)
                continue
            team_id, enterprise_id = targets[row.workspace_id]
            _Delivery(runtime, row, team_id, enterprise_id, token, sweep=sweep).run(
                uncertain, report
            )
        if not sweep or len(claimed) < limit:
            return report
        if time.monotonic() - started > SWEEP_BUDGET:
            report.more = True
            return report


def _claim_statement(status: OutboxStatus):
    # Built once per status: every send claims. The CTE picks the due rows and locks them
    # (skipping rows another sender holds); the UPDATE takes them, and RETURNING hands over
    # what to send. A CTE, not `id IN (subquery … LIMIT n)`: PostgreSQL may run such a
    # subquery again for each row it checks, and then claims far more than `n` rows.
    picked = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == status, OutboxMessage.not_before <= bindparam("now"))
        .order_by(OutboxMessage.not_before, OutboxMessage.id).limit(bindparam("n"))
        .with_for_update(skip_locked=True).cte("picked")
    )  # fmt: skip
    return (
        update(OutboxMessage)
        .where(OutboxMessage.id == picked.c.id, OutboxMessage.status == status)
        .values(status=OutboxStatus.SENDING, claimed_at=bindparam("now"), claim_token=bindparam("token"),
                attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.workspace_id, OutboxMessage.idempotency_key,
                   OutboxMessage.method, OutboxMessage.payload, OutboxMessage.attempts, OutboxMessage.not_before,
                   OutboxMessage.created_at)
    )  # fmt: skip


_CLAIM = _claim_statement(OutboxStatus.PENDING)
_CLAIM_UNCERTAIN = _claim_statement(OutboxStatus.UNCERTAIN)


class _Unsettled(Exception):
    """The channel's history could not be read; `error` says why, `permanent` whether a
    later try could do better."""

    def __init__(self, error: str, *, permanent: bool, wait: float | None = None) -> None:
        super().__init__(error)
        self.error, self.permanent, self.wait = error, permanent, wait  # wait: rate limited, seconds


class _Delivery:
    """One claimed row: settle it if uncertain, send it if need be, record what happened."""

    def __init__(self, runtime: Runtime, row, team_id: str, enterprise_id: str | None, token: str, *,
                 sweep: bool) -> None:  # fmt: skip
        self.runtime, self.row, self.team_id, self.enterprise_id = (
            runtime,
            row,
            team_id,
            enterprise_id,
        )
        self.token = token
        self.max_wait = SWEEP_WAIT if sweep else HOT_PATH_WAIT
        self.key = row.idempotency_key
        self.client = None

    def run(self, uncertain: bool, report: DeliveryReport) -> None:
        try:
            self.client = self.runtime.client_for(self.team_id, self.enterprise_id, posting=True)
            outcome = self._settle_then_send() if uncertain else self._send()
        except NoTokenForWorkspace as exc:  # an uncertain row stays one: a retry settles it first
            outcome = self._parked(f"{UNSETTLED} {exc}" if uncertain else str(exc))
        except (
            Exception
        ) as exc:  # a bug or a payload Slack's client refuses: the row, not the caller, pays
            log.exception("outbox %s: sending failed unexpectedly", self.key)
            outcome = self._uncertain(f"{type(exc).__name__}: {exc}")
        self._record(outcome, report)

    # -- the calls --------------------------------------------------------------------------

    def _send(self) -> dict[str, Any]:
        payload = dict(self.row.payload or {})
        payload.pop(OWN, None)
        if payload.get("forgotten"):
            return self._parked("forgotten")
        message = self.row.method == "chat.postMessage"
        findable = self.row.method in SETTLED_FROM_HISTORY
        if message:
            payload["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": self.key}}
        retries = 0
        while True:
            waited = self._paced(self.row.method, payload.get("channel"))
            if waited is not None:
                return waited
            try:
                response = self.client.api_call(self.row.method, json=payload)
            except SlackApiError as exc:
                status = exc.response.status_code
                error = exc.response.get("error") or f"HTTP {status}"
                if status == 429:
                    retry_after = retry_after_seconds(exc)
                    self.runtime.limiter.hold(self.team_id, self.row.method, retry_after)
                    if retry_after <= INLINE_RETRY_AFTER and retries < INLINE_RETRIES:
                        retries += 1
                        continue  # only a 429 is retried blindly: nothing was posted
                    return self._later("ratelimited", timedelta(seconds=retry_after), a_try=False)
                if status >= 500 and findable:
                    return self._uncertain(f"{error} (HTTP {status})")
                if error in PERMANENT_ERRORS:
                    return self._parked(error)
                return self._later(error, _backoff(self.row.attempts))
            except (
                OSError,
                HTTPException,
                ValueError,
            ) as exc:  # a timeout, a reset, an unreadable answer
                if _never_reached(exc) or not findable:
                    return self._later(f"{type(exc).__name__}: {exc}", _backoff(self.row.attempts))
                return self._uncertain(f"{type(exc).__name__}: {exc}")
            return self._sent(response.get("channel"), response.get("ts"))

    def _settle_then_send(self) -> dict[str, Any]:
        """An uncertain post or file share: look for it in the channel's history; send it only
        if absent. Another call shows nothing there to look for: it is made again, as `_send`
        does after a 5xx or a timeout."""
        try:
            found = self._find_in_history() if self.row.method in SETTLED_FROM_HISTORY else None
        except _Unsettled as exc:
            if exc.wait is not None:  # a rate limit on reading history is no failed try
                return {"status": OutboxStatus.UNCERTAIN, "last_error": f"{UNSETTLED} {exc.error}",
                        "attempts": self.row.attempts - 1,
                        "not_before": self.runtime.clock() + timedelta(seconds=exc.wait)}  # fmt: skip
            if exc.permanent or self.row.attempts >= MAX_ATTEMPTS:
                return self._parked(f"{UNSETTLED} {exc.error}; not resent to avoid a duplicate")
            return {"status": OutboxStatus.UNCERTAIN, "last_error": f"{UNSETTLED} {exc.error}",
                    "not_before": self.runtime.clock() + _backoff(self.row.attempts)}  # fmt: skip
        if found is not None:
            log.info("outbox %s: found in the channel's history; not sent again", self.key)
            return self._sent(*found)
        if self.row.attempts > MAX_ATTEMPTS:  # every try ended uncertain (a 5xx, a timeout): enough
            return self._parked(f"unanswered: no answer from Slack in {self.row.attempts - 1} tries, "
                                "and not in the channel's history")  # fmt: skip
        return self._send()

    def _find_in_history(self) -> tuple[str, str] | None:
        payload = self.row.payload or {}
        channel = _channel_of(payload) or ""
        # A file share's message holds the shared files; a post's, its key in the metadata.
        files = {f.get("id") for f in payload.get("files") or [] if isinstance(f, dict) and f.get("id")}
        if channel[:1] in ("U", "W"):  # a DM by user id: its conversation's id first
            channel = self._read("conversations.open", {"users": channel})["channel"]["id"]
        arguments = {"channel": channel, "limit": 200, "include_all_metadata": True,
                     "oldest": f"{(self.row.created_at - HISTORY_MARGIN).timestamp():.6f}"}  # fmt: skip
        method = "conversations.history"
        if payload.get("thread_ts"):
            method, arguments["ts"] = "conversations.replies", payload["thread_ts"]
        for _ in range(HISTORY_PAGES):
            page = self._read(method, arguments)
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if (metadata.get("event_type") == METADATA_EVENT
                        and (metadata.get("event_payload") or {}).get("key") == self.key):  # fmt: skip
                    return channel, message["ts"]
                shared = {f.get("id") for f in message.get("files") or [] if isinstance(f, dict)}
                if files and files <= shared:
                    return channel, message["ts"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
            arguments["cursor"] = cursor
        raise _Unsettled(f"not within {HISTORY_PAGES} pages of history", permanent=True)

    def _read(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        retries = 0
        while True:
            wait = self.runtime.limiter.acquire(self.team_id, method, max_wait=self.max_wait)
            if wait:
                raise _Unsettled(f"{method}: paced", permanent=False, wait=wait)
            try:
                # The client's own method: it turns booleans into what Slack reads.
                return getattr(self.client, method.replace(".", "_"))(**arguments).data
            except SlackApiError as exc:
                status = exc.response.status_code
                if status == 429:
                    retry_after = retry_after_seconds(exc)
                    self.runtime.limiter.hold(self.team_id, method, retry_after)
                    if retry_after <= INLINE_RETRY_AFTER and retries < INLINE_RETRIES:
                        retries += 1
                        continue
                    raise _Unsettled(f"{method}: ratelimited", permanent=False, wait=retry_after) from exc
                error = exc.response.get("error") or f"HTTP {status}"
                raise _Unsettled(f"{method}: {error}", permanent=error in PERMANENT_ERRORS) from exc
            except (OSError, HTTPException, ValueError) as exc:
                raise _Unsettled(f"{method}: {type(exc).__name__}", permanent=False) from exc

    def _paced(self, method: str, channel: str | None) -> dict[str, Any] | None:
        wait = self.runtime.limiter.acquire(self.team_id, method, channel, max_wait=self.max_wait)
        if not wait:
            return None
        return self._later(
            "paced: waiting for the rate limit", timedelta(seconds=wait), a_try=False
        )

    # -- outcomes ---------------------------------------------------------------------------

    def _sent(self, channel: str | None, ts: str | None) -> dict[str, Any]:
        result = {k: v for k, v in (("channel", channel), ("ts", ts)) if v}
        return {
            "status": OutboxStatus.SENT,
            "sent_at": self.runtime.clock(),
            "last_error": None,
            "result": result,
        }

    def _later(self, error: str, wait: timedelta, *, a_try: bool = True) -> dict[str, Any]:
        """Pending again after `wait`; `a_try`: this counts as one of the row's tries."""
        if a_try and self.row.attempts >= MAX_ATTEMPTS:
            return self._parked(f"{error} ({self.row.attempts} tries)")
        outcome = {
            "status": OutboxStatus.PENDING,
            "last_error": error,
            "not_before": self.runtime.clock() + wait,
        }
        if not a_try:
            outcome["attempts"] = self.row.attempts - 1
        return outcome

    def _uncertain(self, error: str) -> dict[str, Any]:
        return {"status": OutboxStatus.UNCERTAIN, "last_error": error,
                "not_before": self.runtime.clock() + SETTLE_AFTER}  # fmt: skip

    def _parked(self, error: str) -> dict[str, Any]:
        return {"status": OutboxStatus.PARKED, "last_error": error, "sent_at": None}

    def _record(self, outcome: dict[str, Any], report: DeliveryReport) -> None:
        status = outcome["status"]
        with self.runtime.sessions.begin() as session:
            recorded = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == self.row.id, OutboxMessage.status == OutboxStatus.SENDING,
                       OutboxMessage.claim_token == self.token)
                .values(**outcome)
            ).rowcount  # fmt: skip
            if recorded and status == OutboxStatus.PARKED:
                _tell_admins(session, self.row, outcome["last_error"], now=self.runtime.clock())
        if not recorded:  # the claim went stale and was settled meanwhile: what it says stands
            log.warning(
                "outbox %s: the answer came after its claim was taken back; not recorded (%s)",
                self.key,
                status,
            )
            return
        {OutboxStatus.SENT: report.sent, OutboxStatus.PENDING: report.retrying,
         OutboxStatus.UNCERTAIN: report.uncertain, OutboxStatus.PARKED: report.parked}[status].append(self.key)  # fmt: skip
        if status == OutboxStatus.PARKED:
            log.warning("outbox %s parked: %s", self.key, outcome["last_error"])
        elif status == OutboxStatus.UNCERTAIN:
            log.info(
                "outbox %s: outcome unknown (%s); to be settled from history",
                self.key,
                outcome["last_error"],
            )


def _tell_admins(session: Session, row, error: str, *, now: datetime) -> None:
    """DM the workspace's admins that a post was parked, once per kind of error and day.
    One parked unconfirmed is not said to be undelivered: it may be in the channel."""
    if row.idempotency_key.startswith(NOTICE_PREFIX) or error == "forgotten":
        return  # a notice that itself fails is not told about (its token may be what failed)
    if ((row.payload or {}).get(OWN) or {}).get("quiet"):
        return  # the room tells them itself
    kind = error.split(" ", 1)[0].rstrip(":;")
    channel = _channel_of(row.payload or {}) or ""
    if channel[:1] in ("U", "W"):
        where = f"<@{channel}>"
    elif channel[:1] == "D":  # a DM opened by its conversation's id (a chart's share): no name to link
        where = "a direct message"
    else:
        where = f"<#{channel}>" if channel else "Slack"
    if kind == UNSETTLED.rstrip(":"):
        detail = error.removeprefix(UNSETTLED).split(";", 1)[0].strip()
        text = (f"Heard could not confirm that a message to {where} was delivered: Slack answered with an error, "
                f"and Heard could not read the conversation's history to check (`{detail}`). So as not to post "
                "it twice, it was not sent again. If it is missing, an operator can run `heard outbox retry`: "
                "Heard looks for it again and sends it only if it is still not there. Other messages left "
                "unconfirmed today are parked without another note.")  # fmt: skip
    else:
        why = REASONS.get(kind, "Slack refused it" if kind in PERMANENT_ERRORS else "every try failed")
        text = (f"Heard could not deliver a message to {where}: `{kind}` ({why}). The message is parked. "
                "Once the cause is fixed, an operator can list parked messages with `heard outbox list` and send "
                "them with `heard outbox retry`. Other messages failing the same way today are parked without "
                "another note.")  # fmt: skip
    day = now.date().isoformat()
    for admin in known_admins(session, row.workspace_id):
        enqueue(session, workspace_id=row.workspace_id, key=f"{NOTICE_PREFIX}{row.workspace_id}:{kind}:{day}:{admin}",
                method="chat.postMessage", payload={"channel": admin, "text": text}, now=now)  # fmt: skip


def _channel_of(payload: dict[str, Any]) -> str | None:
    """The conversation a call goes to: a post's `channel`, a file share's `channel_id`."""
    return payload.get("channel") or payload.get("channel_id")


def _never_reached(exc: Exception) -> bool:
    """Whether Slack cannot have received the call (the connection was refused)."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    return isinstance(reason, ConnectionRefusedError)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (max(attempts, 1) - 1), 3600))


def _give_back(runtime: Runtime, row, token: str, uncertain: bool) -> None:
    """Release a claimed row untried: as it was before the claim, if the claim is still ours."""
    with runtime.sessions.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.status == OutboxStatus.SENDING,
                   OutboxMessage.claim_token == token)
            .values(status=OutboxStatus.UNCERTAIN if uncertain else OutboxStatus.PENDING,
                    attempts=OutboxMessage.attempts - 1, claim_token=None)
        )  # fmt: skip


def _expire_stale_claims(session: Session, now: datetime) -> None:
    """A claim older than `STALE_CLAIM` belongs to a process that died mid-call: what it
    sent is unknown, so the row is settled from history before anything is resent."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - STALE_CLAIM)
        .values(status=OutboxStatus.UNCERTAIN, not_before=now, claim_token=None,
                last_error="interrupted while sending; to be settled from history")
    )  # fmt: skip
