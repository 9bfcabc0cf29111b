"""Customer feedback rules: capture, acknowledgement, the ignored rule, closing the loop.

Every door (a feedback channel, the message shortcut, `/heard feedback`, a CSV import)
ends in :func:`capture`. An item's time is when the feedback was *said*. The status
always follows the rule below, recomputed whenever something changes it:

- **resolved** once someone resolved it;
- **acknowledged** while at least one acknowledgement by someone other than the
  reporter (and other than Heard) stands: a thread reply, an acknowledgement reaction,
  a decision that links it, or the Acknowledge/Resolve button;
- **ignored** when, without one, it is older than the workspace's `ignore-after`;
- **open** otherwise.

Posts that must happen once (the confirmation card, the ignored reminder, the
close-the-loop DM) are queued in the outbox under keys, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import unit
from bot.db.models import Workspace
from bot.features.feedback import views
from bot.features.feedback.config import FeedbackConfig, load_config
from bot.features.feedback.kinds import AckKind, ItemStatus, Source
from bot.features.feedback.models import Acknowledgement, FeedbackItem
from bot.slack.outbox import enqueue, outcomes

if TYPE_CHECKING:
    from bot.rooms import CardButton

log = logging.getLogger(__name__)

BACKFILL_WINDOW = timedelta(days=30)
# A reminder in a thread weeks old helps nobody (and a backfill would flood old
# threads), so only feedback that became ignored recently gets one.
REMINDER_WINDOW = timedelta(days=7)
MAX_REMINDERS_PER_SWEEP = 20
MAX_ORIGIN = 64
MAX_NAME = 255


class FeedbackError(Exception):
    """A feedback request that cannot be done; the message is one line for a person."""


class EmptyFeedback(FeedbackError):
    pass


class UnknownItem(FeedbackError):
    pass


class AlreadyResolved(FeedbackError):
    pass


@dataclass(frozen=True)
class Said:
    """What was said, by whom, when, and through which door."""

    text: str
    said_at: datetime
    source: Source  # the door
    reporter_user_id: str | None = None
    reporter_name: str | None = None
    customer: str | None = None
    origin: str | None = None  # where the customer said it: phone, email…
    channel_id: str | None = None
    message_ts: str | None = None
    permalink: str | None = None
    import_key: str | None = None
    note: str | None = None
    logged_by_user_id: str | None = None


@dataclass(frozen=True)
class Captured:
    item: FeedbackItem
    created: bool


@dataclass(frozen=True)
class AckResult:
    counted: bool  # False: by the reporter, by Heard, or already recorded
    newly_acknowledged: bool
    reason: str = ""


@dataclass
class SweepReport:
    newly_ignored: int = 0
    reopened: int = 0
    reminded: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.newly_ignored} newly ignored, {len(self.reminded)} reminder(s) queued"
            + (f", {self.reopened} back to open" if self.reopened else "")
        )


MAX_ID = 2**63 - 1  # the largest id either database stores


# -- capture ------------------------------------------------------------------------------


def capture(session: Session, workspace: Workspace, said: Said, *, now: datetime) -> Captured:
    """Store feedback once. The same Slack message or the same imported row is one item,
    however often it arrives (retries, backfill, two processes): the unique constraints
    decide, and the existing item is returned."""
    item = _new_item(session, workspace, said, now)
    existing = _existing(session, workspace.id, said)
    if existing is not None:
        return Captured(existing, False)
    try:
        with session.begin_nested():
            session.add(item)
    except IntegrityError:  # another delivery stored it meanwhile
        existing = _existing(session, workspace.id, said)
        if existing is None:
            raise
        return Captured(existing, False)
    return Captured(item, True)


def record_message(session: Session, workspace: Workspace, said: Said, *, now: datetime) -> None:
    """`capture` for a Slack message whose item nobody needs back (a post as it arrives):
    one `INSERT … ON CONFLICT DO NOTHING`, where `capture` reads first and builds the ORM
    object, and written with the other posts of the inbox's batch (`write_later`). Every
    message event in a feedback channel comes here.
    """
    if not (said.channel_id and said.message_ts):
        raise ValueError("record_message stores Slack messages: channel_id and message_ts are needed")
    given = _item_values(session, workspace, said, now)
    values = {column: given.get(column) for column in _ITEM_COLUMNS}
    unit.write_later(session, _RECORD[session.get_bind().dialect.name], values)


def _new_item(session: Session, workspace: Workspace, said: Said, now: datetime) -> FeedbackItem:
    """The item `said` becomes, its status settled (not added to the session)."""
    return FeedbackItem(**_item_values(session, workspace, said, now))


def _item_values(session: Session, workspace: Workspace, said: Said, now: datetime) -> dict[str, Any]:
    """The columns of the item `said` becomes, its status settled: as plain values, since
    a post stored as it arrives needs no ORM object (building one cost as much as the
    rest of storing it)."""
    text = clean_text(said.text)
    if not text.strip():
        raise EmptyFeedback("There is no text to log.")
    source = Source(said.source)  # ValueError for a door Heard does not have
    said_at = min(said.said_at, now)
    status = status_of(resolved=False, acknowledged=False, said_at=said_at, now=now,
                       ignore_after=load_config(session, workspace.id).ignore_after)  # fmt: skip
    return {
        "workspace_id": workspace.id, "text": text, "source": source,
        "reporter_user_id": said.reporter_user_id, "reporter_name": fit(said.reporter_name, MAX_NAME),
        "customer": fit(said.customer, MAX_NAME), "origin": fit(said.origin, MAX_ORIGIN),
        "channel_id": said.channel_id, "message_ts": said.message_ts, "permalink": said.permalink,
        "import_key": said.import_key, "note": clean_text(said.note) if said.note else None,
        "logged_by_user_id": said.logged_by_user_id, "said_at": said_at, "stored_at": now,
        "status": status, "ignored_at": now if status is ItemStatus.IGNORED else None,
    }  # fmt: skip


_ITEM_COLUMNS = [column.key for column in FeedbackItem.__table__.columns if column.key != "id"]


def _record_statement(insert_for):
    return (
        insert_for(FeedbackItem.__table__)
        .on_conflict_do_nothing(index_elements=["workspace_id", "channel_id", "message_ts"])
    )


_RECORD = {"postgresql": _record_statement(pg_insert), "sqlite": _record_statement(sqlite_insert)}  # built once


def _existing(session: Session, workspace_id: int, said: Said) -> FeedbackItem | None:
    if said.channel_id and said.message_ts:
        found = session.scalar(_AT_MESSAGE, {"ws": workspace_id, "channel": said.channel_id, "ts": said.message_ts})
        if found is not None:
            return found
    if said.import_key:
        return session.scalar(_IMPORTED, {"ws": workspace_id, "key": said.import_key})
    return None


# Built once: every message event in a feedback channel asks.
_AT_MESSAGE = select(FeedbackItem).where(
    FeedbackItem.workspace_id == bindparam("ws"), FeedbackItem.channel_id == bindparam("channel"),
    FeedbackItem.message_ts == bindparam("ts"),
)  # fmt: skip
_IMPORTED = select(FeedbackItem).where(
    FeedbackItem.workspace_id == bindparam("ws"), FeedbackItem.import_key == bindparam("key")
)


def post_card(
    session: Session, workspace: Workspace, item: FeedbackItem, config: FeedbackConfig, *, now: datetime,
    buttons: Sequence[CardButton] = (),
) -> str | None:
    """Queue Heard's confirmation card in the first feedback channel, once per item.

    Only for feedback that is not already a message in a feedback channel (shortcut on a
    message elsewhere, `/heard feedback`): the card is where teammates see it and can
    acknowledge it. Channel feedback gets no card — a Heard reply under it would look like
    an answer and double the channel's noise — and imports get none (history, in bulk).
    `buttons` are those other rooms add to cards (`bot.rooms.CardButton`).
    Returns the channel the card goes to, or None.
    """
    if item.source not in (Source.SHORTCUT, Source.COMMAND) or not config.feedback_channels:
        return None
    if item.channel_id in config.feedback_channels:
        return None
    channel = config.feedback_channels[0]
    item.card_channel_id = channel
    session.flush()
    blocks, text = views.card(item, buttons)
    enqueue(
        session, workspace_id=workspace.id, key=card_key(workspace, item),
        method="chat.postMessage",
        payload={"channel": channel, "text": text, "blocks": blocks,
                 "unfurl_links": False, "unfurl_media": False},
        now=now,
    )  # fmt: skip
    return channel


def card_key(workspace: Workspace, item: FeedbackItem) -> str:
    return f"feedback-card:{workspace.team_id}:{item.id}"


def link_cards(session: Session, workspace_id: int, channel_id: str | None = None) -> int:
    """Record where sent cards landed (the outbox knows their ts once Slack answered), so
    replies and reactions on a card find its item. Returns how many were linked."""
    query = (
        select(FeedbackItem, Workspace.team_id)
        .join(Workspace, Workspace.id == FeedbackItem.workspace_id)
        .where(
            FeedbackItem.workspace_id == workspace_id,
            FeedbackItem.card_channel_id.is_not(None),
            FeedbackItem.card_ts.is_(None),
        )
    )
    if channel_id:
        query = query.where(FeedbackItem.card_channel_id == channel_id)
    pending = session.execute(query).all()
    if not pending:
        return 0
    keys = {f"feedback-card:{team_id}:{item.id}": item for item, team_id in pending}
    linked = 0
    for key, outcome in outcomes(session, keys).items():
        result = outcome.result if outcome.delivered else None
        if result and result.get("ts"):
            item = keys[key]
            item.card_channel_id, item.card_ts = result.get("channel") or item.card_channel_id, result["ts"]
            linked += 1
    session.flush()
    return linked


def item_at(session: Session, workspace_id: int, channel_id: str, ts: str) -> FeedbackItem | None:
    """The item whose message — or whose confirmation card — is `ts` in `channel_id`."""
    return session.scalar(
        select(FeedbackItem)
        .where(
            FeedbackItem.workspace_id == workspace_id,
            or_(
                and_(FeedbackItem.channel_id == channel_id, FeedbackItem.message_ts == ts),
                and_(FeedbackItem.card_channel_id == channel_id, FeedbackItem.card_ts == ts),
            ),
        )
        .order_by(FeedbackItem.id)
        .limit(1)
    )


def has_items_in(session: Session, workspace_id: int, channel_id: str) -> bool:
    """Whether any item lives in `channel_id` (its message or its card)."""
    return (
        session.scalar(
            select(FeedbackItem.id)
            .where(
                FeedbackItem.workspace_id == workspace_id,
                or_(FeedbackItem.channel_id == channel_id, FeedbackItem.card_channel_id == channel_id),
            )
            .limit(1)
        )
        is not None
    )


def find_item(session: Session, workspace_id: int, item_id: int | str) -> FeedbackItem:
    """The item with this id in this workspace; another workspace's id is unknown here."""
    try:
        number = int(item_id)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a forged metadata's Infinity
        raise UnknownItem("That feedback item does not exist.") from None
    if not 0 < number <= MAX_ID:  # a forged button value: SQLite raises on an id past 64 bits
        raise UnknownItem("That feedback item does not exist.")
    item = session.get(FeedbackItem, number)
    if item is None or item.workspace_id != workspace_id:
        raise UnknownItem("That feedback item does not exist (it may have been deleted).")
    return item


def update_text(session: Session, workspace_id: int, channel_id: str, ts: str, text: str) -> bool:
    """An edited feedback message keeps its item; the item takes the new wording."""
    item = session.scalar(
        select(FeedbackItem).where(
            FeedbackItem.workspace_id == workspace_id,
            FeedbackItem.channel_id == channel_id,
            FeedbackItem.message_ts == ts,
        )
    )
    text = clean_text(text)
    if item is None or not text.strip():
        return False
    item.text = text
    return True


def forget_message(session: Session, workspace_id: int, channel_id: str, ts: str) -> bool:
    """A deleted feedback message takes its item (and its acknowledgements) with it. What
    other rooms hold of the item goes by their foreign keys' ON DELETE, in this same
    statement: decision links and digest assignments are deleted, a story drafted from it
    keeps its words. The item's id is never given to another item (its card's buttons
    still carry it)."""
    item = session.scalar(
        select(FeedbackItem).where(
            FeedbackItem.workspace_id == workspace_id,
            FeedbackItem.channel_id == channel_id,
            FeedbackItem.message_ts == ts,
        )
    )
    if item is None:
        return False
    session.execute(delete(Acknowledgement).where(Acknowledgement.feedback_item_id == item.id))
    session.delete(item)
    session.flush()
    return True


# -- acknowledgement ----------------------------------------------------------------------


def acknowledge(
    session: Session, workspace: Workspace, item: FeedbackItem, *, kind: AckKind, user_id: str,
    ref: str = "", now: datetime, at: datetime | None = None, tell_reporter: bool = True,
) -> AckResult:  # fmt: skip
    """Record an acknowledgement. It counts unless it comes from the item's reporter or
    from Heard itself; the first one that counts makes the item acknowledged and (once
    per item, ever) tells the reporter who acted."""
    kind = AckKind(kind)  # ValueError for a kind Heard does not count
    if user_id == workspace.bot_user_id:
        return AckResult(False, False, "Heard's own action")
    if item.reporter_user_id and user_id == item.reporter_user_id:
        return AckResult(False, False, "the reporter acknowledging their own feedback")
    ack = Acknowledgement(
        feedback_item_id=item.id, kind=kind, user_id=user_id, ref=(ref or "")[:64],
        created_at=at or now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(ack)
    except IntegrityError:
        return AckResult(False, False, "already recorded")
    was_acknowledged = item.acknowledged_at is not None
    _recompute_acknowledgement(session, item)
    config = load_config(session, workspace.id)
    settle_status(item, now, config.ignore_after)
    newly = not was_acknowledged and item.acknowledged_at is not None
    if newly and tell_reporter and item.status != ItemStatus.RESOLVED:
        tell_reporter_about(session, workspace, item, ItemStatus.ACKNOWLEDGED, actor=user_id, kind=kind, now=now)
    return AckResult(True, newly)


def withdraw_acknowledgement(
    session: Session, workspace: Workspace, item: FeedbackItem, *, kind: AckKind, user_id: str,
    ref: str = "", now: datetime,
) -> bool:  # fmt: skip
    """Undo one acknowledgement (a removed reaction, a deleted reply). When it was the
    only one, the item is unacknowledged again: open, or ignored if it is old enough."""
    removed = session.execute(
        delete(Acknowledgement).where(
            Acknowledgement.feedback_item_id == item.id, Acknowledgement.kind == kind,
            Acknowledgement.user_id == user_id, Acknowledgement.ref == (ref or "")[:64],
        )
    ).rowcount  # fmt: skip
    if not removed:
        return False
    _recompute_acknowledgement(session, item)
    settle_status(item, now, load_config(session, workspace.id).ignore_after)
    return True


def withdraw_reply(session: Session, workspace: Workspace, channel_id: str, reply_ts: str, *, now: datetime) -> bool:
    """A deleted reply withdraws the acknowledgement it made, whichever item it was on."""
    rows = session.execute(
        select(Acknowledgement, FeedbackItem)
        .join(FeedbackItem, FeedbackItem.id == Acknowledgement.feedback_item_id)
        .where(
            FeedbackItem.workspace_id == workspace.id,
            or_(FeedbackItem.channel_id == channel_id, FeedbackItem.card_channel_id == channel_id),
            Acknowledgement.kind == AckKind.REPLY,
            Acknowledgement.ref == reply_ts,
        )
    ).all()
    for ack, item in rows:
        withdraw_acknowledgement(session, workspace, item, kind=AckKind.REPLY, user_id=ack.user_id,
                                 ref=reply_ts, now=now)  # fmt: skip
    return bool(rows)


def _recompute_acknowledgement(session: Session, item: FeedbackItem) -> None:
    session.flush()
    first = session.execute(
        select(Acknowledgement.created_at, Acknowledgement.user_id)
        .where(Acknowledgement.feedback_item_id == item.id)
        .order_by(Acknowledgement.created_at, Acknowledgement.id)
        .limit(1)
    ).first()
    if first is None:
        item.acknowledged_at = item.acknowledged_by = None
    else:
        item.acknowledged_at, item.acknowledged_by = first


def settle_status(item: FeedbackItem, now: datetime, ignore_after: timedelta) -> ItemStatus:
    """Set the item's status from its facts (see the module docstring); returns it."""
    item.status = status_of(resolved=item.resolved_at is not None, acknowledged=item.acknowledged_at is not None,
                            said_at=item.said_at, now=now, ignore_after=ignore_after)  # fmt: skip
    if item.status is ItemStatus.IGNORED:
        item.ignored_at = item.ignored_at or now
    elif item.status is ItemStatus.OPEN:
        item.ignored_at = None
    return item.status


def status_of(*, resolved: bool, acknowledged: bool, said_at: datetime, now: datetime,
              ignore_after: timedelta) -> ItemStatus:  # fmt: skip
    """An item's status from its facts: resolved, else acknowledged, else ignored once
    nobody acknowledged it within `ignore_after` of when it was said, else open."""
    if resolved:
        return ItemStatus.RESOLVED
    if acknowledged:
        return ItemStatus.ACKNOWLEDGED
    if said_at < now - ignore_after:
        return ItemStatus.IGNORED
    return ItemStatus.OPEN


def resolve(
    session: Session, workspace: Workspace, item: FeedbackItem, *, user_id: str,
    note: str | None, now: datetime,
) -> None:  # fmt: skip
    """Close an item, with an optional resolution note. Resolving someone else's
    feedback also acknowledges it; the reporter is told (once) who resolved it."""
    if item.resolved_at is not None:
        who = views.person(item.resolved_by)
        raise AlreadyResolved(f"That feedback was already resolved by {who}.")
    note = clean_text(note or "").strip() or None
    item.resolved_at, item.resolved_by, item.resolution_note = now, user_id, note
    acknowledge(session, workspace, item, kind=AckKind.BUTTON, user_id=user_id, ref="resolve",
                now=now, tell_reporter=False)  # fmt: skip
    settle_status(item, now, load_config(session, workspace.id).ignore_after)
    if user_id != item.reporter_user_id and user_id != workspace.bot_user_id:
        tell_reporter_about(session, workspace, item, ItemStatus.RESOLVED, actor=user_id, kind=AckKind.BUTTON, now=now)


def tell_reporter_about(
    session: Session, workspace: Workspace, item: FeedbackItem, what: ItemStatus, *, actor: str,
    kind: AckKind, now: datetime,
) -> bool:  # fmt: skip
    """Queue the close-the-loop DM to the reporter: who acted, and a link. Once per item
    and event (`loop:T:42:acknowledged`), so an un-ack and re-ack does not DM twice."""
    if not item.reporter_user_id or item.reporter_user_id == actor:
        return False
    if item.card_channel_id and not item.card_ts:
        link_cards(session, workspace.id, item.card_channel_id)
    text, blocks = views.loop_message(item, what, actor=actor, kind=kind,
                                      url=item_link(workspace, item))  # fmt: skip
    _, created = enqueue(
        session, workspace_id=workspace.id, key=f"loop:{workspace.team_id}:{item.id}:{what}",
        method="chat.postMessage",
        payload={"channel": item.reporter_user_id, "text": text, "blocks": blocks,
                 "unfurl_links": False, "unfurl_media": False},
        now=now,
    )  # fmt: skip
    return created


def item_link(workspace: Workspace, item: FeedbackItem) -> str | None:
    """Where a person can see the item in Slack: its message, else its card."""
    if item.permalink:
        return item.permalink
    if item.channel_id and item.message_ts:
        return message_link(workspace, item.channel_id, item.message_ts)
    if item.card_channel_id and item.card_ts:
        return message_link(workspace, item.card_channel_id, item.card_ts)
    return None


def message_link(workspace: Workspace, channel_id: str, ts: str) -> str | None:
    """Slack's permalink shape, built without an API call per message."""
    if not workspace.domain:
        return None
    return f"https://{workspace.domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


# -- ignored ---------------------------------------------------------------------------------


def apply_ignore_rule(session: Session, workspace_id: int, ignore_after: timedelta, *, now: datetime) -> tuple[int, int]:
    """Mark open items older than `ignore-after` ignored, and put back to open ignored
    items that no longer are (after `ignore-after` grew). Returns (ignored, reopened)."""
    threshold = now - ignore_after
    ignored = session.execute(
        update(FeedbackItem)
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.status == ItemStatus.OPEN,
               FeedbackItem.said_at < threshold)
        .values(status=ItemStatus.IGNORED, ignored_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    reopened = session.execute(
        update(FeedbackItem)
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.status == ItemStatus.IGNORED,
               FeedbackItem.said_at >= threshold)
        .values(status=ItemStatus.OPEN, ignored_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    session.expire_all()
    return ignored, reopened


def sweep(session: Session, workspace: Workspace, *, now: datetime) -> SweepReport:
    """The hourly `feedback-sweep`: apply the ignored rule, then post the gentle
    reminder in the thread of newly ignored items — once per item, never again."""
    config = load_config(session, workspace.id)
    report = SweepReport()
    report.newly_ignored, report.reopened = apply_ignore_rule(
        session, workspace.id, config.ignore_after, now=now
    )
    if not config.ignored_reminders:
        return report
    link_cards(session, workspace.id)
    due = session.scalars(
        select(FeedbackItem)
        .where(
            FeedbackItem.workspace_id == workspace.id,
            FeedbackItem.status == ItemStatus.IGNORED,
            FeedbackItem.reminded_at.is_(None),
            FeedbackItem.said_at >= now - config.ignore_after - REMINDER_WINDOW,
            or_(FeedbackItem.card_ts.is_not(None), FeedbackItem.message_ts.is_not(None)),
        )
        .order_by(FeedbackItem.said_at)
        .limit(MAX_REMINDERS_PER_SWEEP)
    ).all()
    for item in due:
        channel, thread_ts = reminder_thread(item, config)
        if channel is None:
            continue
        text, blocks = views.reminder(item, config.ignore_after, config.ack_emoji)
        enqueue(
            session, workspace_id=workspace.id, key=f"remind:{workspace.team_id}:{item.id}",
            method="chat.postMessage",
            payload={"channel": channel, "thread_ts": thread_ts, "text": text, "blocks": blocks,
                     "unfurl_links": False, "unfurl_media": False},
            now=now,
        )  # fmt: skip
        item.reminded_at = now
        report.reminded.append(item.id)
    session.flush()
    return report


def reminder_thread(item: FeedbackItem, config: FeedbackConfig) -> tuple[str | None, str | None]:
    """Where the reminder goes: the card's thread if Heard posted one, else the thread of
    the original message when it is in a feedback channel (where Heard reads and posts)."""
    if item.card_channel_id and item.card_ts:
        return item.card_channel_id, item.card_ts
    if item.channel_id and item.message_ts and item.channel_id in config.feedback_channels:
        return item.channel_id, item.message_ts
    return None, None


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MyFeedback:
    items: list[FeedbackItem]
    counts: dict[ItemStatus, int]
    total: int


def feedback_of(session: Session, workspace_id: int, user_id: str, *, limit: int = 10) -> MyFeedback:
    """A person's own feedback (reported or logged by them), newest first, with counts."""
    mine = and_(
        FeedbackItem.workspace_id == workspace_id,
        or_(FeedbackItem.reporter_user_id == user_id, FeedbackItem.logged_by_user_id == user_id),
    )
    counts = dict(
        session.execute(
            select(FeedbackItem.status, func.count()).where(mine).group_by(FeedbackItem.status)
        ).all()
    )
    items = list(
        session.scalars(
            select(FeedbackItem).where(mine).order_by(FeedbackItem.said_at.desc(), FeedbackItem.id.desc()).limit(limit)
        )
    )
    return MyFeedback(items, {s: counts.get(s, 0) for s in ItemStatus}, sum(counts.values()))


# -- helpers ---------------------------------------------------------------------------------


def clean_text(text: str | None) -> str:
    """Text as stored: NULs dropped and lone surrogates replaced (PostgreSQL refuses
    both; a JSON payload can carry either), everything else kept."""
    text = (text or "").replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text


def fit(value: str | None, limit: int) -> str | None:
    """A short field cut to its column's size (PostgreSQL refuses longer values)."""
    if value is None:
        return None
    value = clean_text(value).strip()
    return value[:limit] or None
