"""What other rooms may read of customer feedback, and the one thing they may do to it.

Other rooms (decisions, the digest) import this module only, never the feedback room's
service or tables. Everything returned is a plain value: ids are strings (as in the
digest's JSON), times are aware UTC.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.feedback import service
from bot.features.feedback.config import load_config
from bot.features.feedback.kinds import AckKind, ItemStatus
from bot.features.feedback.models import FeedbackItem

SEARCH_LIMIT = 100  # Slack shows at most 100 options in a select


@dataclass(frozen=True)
class FeedbackSummary:
    id: str
    text: str
    customer: str | None
    reporter: str | None  # a Slack user id, a CSV author's name, or None once forgotten
    said_at: datetime
    status: ItemStatus
    permalink: str | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class PeriodCounts:
    """Feedback said in [start, end): how much, how much was acknowledged, how fast."""

    received: int
    acknowledged: int
    median_ack_hours: float | None


def _summary(item: FeedbackItem) -> FeedbackSummary:
    return FeedbackSummary(
        id=str(item.id), text=item.text, customer=item.customer,
        reporter=item.reporter_user_id or item.reporter_name, said_at=item.said_at,
        status=ItemStatus(item.status), permalink=item.permalink, acknowledged_at=item.acknowledged_at,
    )  # fmt: skip


def search(session: Session, workspace_id: int, text: str = "", *, since: datetime | None = None,
           limit: int = SEARCH_LIMIT) -> list[FeedbackSummary]:  # fmt: skip
    """Recent items whose text or customer contains `text` (any case), newest first: what
    a "link feedback" picker offers. One indexed query, so it answers within Slack's
    three seconds for an options request."""
    query = select(FeedbackItem).where(FeedbackItem.workspace_id == workspace_id)
    if since is not None:
        query = query.where(FeedbackItem.said_at >= since)
    words = text.strip().lower()
    if words:
        literal = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{literal}%"
        query = query.where(or_(func.lower(FeedbackItem.text).like(pattern, escape="\\"),
                                func.lower(FeedbackItem.customer).like(pattern, escape="\\")))  # fmt: skip
    query = query.order_by(FeedbackItem.said_at.desc(), FeedbackItem.id.desc()).limit(limit)
    return [_summary(item) for item in session.scalars(query)]


def by_ids(session: Session, workspace_id: int, ids: list[str]) -> list[FeedbackSummary]:
    """The workspace's items among `ids` (others' and unknown ids are left out), oldest first."""
    # ASCII digits only: str.isdigit() is true of "²" (which int() refuses) and of "١" (which it reads as 1)
    numbers = [int(i) for i in map(str, ids) if i.isascii() and i.isdigit() and len(i) < 19]
    if not numbers:
        return []
    items = session.scalars(
        select(FeedbackItem).where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.id.in_(numbers))
        .order_by(FeedbackItem.said_at, FeedbackItem.id)
    )  # fmt: skip
    return [_summary(item) for item in items]


def ignored_backlog(session: Session, workspace_id: int) -> list[FeedbackSummary]:
    """Items currently ignored (unacknowledged past `ignore-after`), oldest first."""
    items = session.scalars(
        select(FeedbackItem)
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.status == ItemStatus.IGNORED)
        .order_by(FeedbackItem.said_at, FeedbackItem.id)
    )
    return [_summary(item) for item in items]


def period_counts(session: Session, workspace_id: int, start: datetime, end: datetime) -> PeriodCounts:
    """Counts of the feedback said in [start, end)."""
    rows = session.execute(
        select(FeedbackItem.said_at, FeedbackItem.acknowledged_at).where(
            FeedbackItem.workspace_id == workspace_id, FeedbackItem.said_at >= start, FeedbackItem.said_at < end
        )
    ).all()
    delays = [(acked - said).total_seconds() / 3600 for said, acked in rows if acked is not None]
    return PeriodCounts(len(rows), len(delays), round(statistics.median(delays), 1) if delays else None)


def ignore_after(session: Session, workspace_id: int) -> timedelta:
    """How long the workspace's feedback may go unacknowledged before it counts as ignored."""
    return load_config(session, workspace_id).ignore_after


def _unacknowledged_at(workspace_id: int, moment: datetime, span: timedelta):
    """Said more than `span` before `moment`, and neither acknowledged nor resolved by then."""
    return (
        FeedbackItem.workspace_id == workspace_id,
        FeedbackItem.said_at < moment - span,
        or_(FeedbackItem.acknowledged_at.is_(None), FeedbackItem.acknowledged_at > moment),
        or_(FeedbackItem.resolved_at.is_(None), FeedbackItem.resolved_at > moment),
    )


_SUMMARY_COLUMNS = (
    FeedbackItem.id, FeedbackItem.text, FeedbackItem.customer, FeedbackItem.reporter_user_id,
    FeedbackItem.reporter_name, FeedbackItem.said_at, FeedbackItem.status, FeedbackItem.permalink,
    FeedbackItem.acknowledged_at, FeedbackItem.channel_id, FeedbackItem.message_ts,
    FeedbackItem.card_channel_id, FeedbackItem.card_ts,
)  # fmt: skip


_STATUS = {status.value: status for status in ItemStatus}  # a dict lookup, not an Enum call per row


def ignored_at(session: Session, workspace_id: int, moment: datetime) -> list[FeedbackSummary]:
    """The ignored backlog as it stood at `moment`: items unacknowledged past
    `ignore-after` then (the digest's `ignored`), oldest first, each with a link to its
    message or card. Columns, not rows, so a backlog of 100,000 items reads quickly."""
    workspace = session.get(Workspace, workspace_id)
    session.flush()  # then Core, without the ORM's per-row work
    rows = session.connection().execute(
        select(*_SUMMARY_COLUMNS)
        .where(*_unacknowledged_at(workspace_id, moment, ignore_after(session, workspace_id)))
        .order_by(FeedbackItem.said_at, FeedbackItem.id)
    ).all()
    found = []
    for i, text, customer, user, name, said, status, link, acked, channel, ts, card_channel, card_ts in rows:
        if not link and workspace is not None:  # Slack's permalink shape, as `service.item_link`
            if channel and ts:
                link = service.message_link(workspace, channel, ts)
            elif card_channel and card_ts:
                link = service.message_link(workspace, card_channel, card_ts)
        found.append(FeedbackSummary(str(i), text, customer, user or name, said, _STATUS[status], link, acked))
    return found


def ignored_count_at(session: Session, workspace_id: int, moment: datetime) -> int:
    """How many items `ignored_at(moment)` would return."""
    span = ignore_after(session, workspace_id)
    return session.scalar(select(func.count()).where(*_unacknowledged_at(workspace_id, moment, span))) or 0


@dataclass(frozen=True)
class WeekCounts:
    start: datetime
    end: datetime
    received: int  # said in [start, end)
    ignored: int  # of those, how many went unacknowledged past ignore-after (ignored at some point)


def weekly_counts(session: Session, workspace_id: int, edges: Sequence[datetime]) -> list[WeekCounts]:
    """Feedback said in each [edges[i], edges[i+1]): received, and how many of those were
    ever ignored (an item acknowledged after it was flagged still counts: it was ignored)."""
    if len(edges) < 2:
        return []
    # One bucket number per week, counted in the database: one row per week comes back,
    # not one per item (100,000 items in milliseconds).
    bucket = case(*((FeedbackItem.said_at < edge, week) for week, edge in enumerate(edges[1:])), else_=-1)
    rows = session.execute(
        select(bucket, func.count(), func.count(FeedbackItem.ignored_at)).where(
            FeedbackItem.workspace_id == workspace_id, FeedbackItem.said_at >= edges[0],
            FeedbackItem.said_at < edges[-1],
        ).group_by(bucket)
    ).all()  # fmt: skip
    counted = {week: (received, ignored) for week, received, ignored in rows}
    return [WeekCounts(edges[i], edges[i + 1], *counted.get(i, (0, 0))) for i in range(len(edges) - 1)]


@dataclass(frozen=True)
class ButtonAck:
    """What pressing Acknowledge (outside the feedback room's own card) did."""

    counted: bool
    reason: str  # why it did not count, when it did not
    acknowledged_by: str | None  # who acknowledged the item first


def acknowledge_by_button(session: Session, workspace_id: int, item_id: str, *, user_id: str,
                          now: datetime) -> ButtonAck:  # fmt: skip
    """Someone pressed Acknowledge on the item elsewhere (a digest): it counts like the
    card's button, and the reporter is told once. Raises `service.UnknownItem`
    (`UnknownFeedback` here) for an id that is not this workspace's."""
    workspace = session.get(Workspace, workspace_id)
    item = service.find_item(session, workspace_id, item_id)
    result = service.acknowledge(session, workspace, item, kind=AckKind.BUTTON, user_id=user_id,
                                 ref="acknowledge", now=now)  # fmt: skip
    return ButtonAck(result.counted, result.reason, item.acknowledged_by)


UnknownFeedback = service.UnknownItem


@dataclass(frozen=True)
class ButtonResolve:
    """What pressing Resolve elsewhere did."""

    resolved: bool
    reason: str  # why it did not, when it did not ("That feedback was already resolved by …")


def resolve_by_button(session: Session, workspace_id: int, item_id: str, *, user_id: str, note: str | None,
                      now: datetime) -> ButtonResolve:  # fmt: skip
    """Someone resolved the item elsewhere (a digest): it is closed like with the card's
    Resolve, which anyone in the workspace may press; resolving someone else's feedback
    also acknowledges it, and the reporter is told once. Raises `UnknownFeedback` for an
    id that is not this workspace's."""
    workspace = session.get(Workspace, workspace_id)
    item = service.find_item(session, workspace_id, item_id)
    try:
        service.resolve(session, workspace, item, user_id=user_id, note=note, now=now)
    except service.AlreadyResolved as exc:
        return ButtonResolve(False, str(exc))
    return ButtonResolve(True, "")


def acknowledge_by_decision(session: Session, workspace_id: int, item_id: str, *, user_id: str,
                            decision_ref: str, now: datetime) -> bool:  # fmt: skip
    """A logged decision links the item: that acknowledges it (SPEC), and its reporter is
    told once, like any first acknowledgement. Returns True when it counted."""
    workspace = session.get(Workspace, workspace_id)
    try:
        item = service.find_item(session, workspace_id, item_id)
    except service.UnknownItem:
        return False
    result = service.acknowledge(session, workspace, item, kind=AckKind.DECISION, user_id=user_id,
                                 ref=decision_ref, now=now)  # fmt: skip
    return result.counted
