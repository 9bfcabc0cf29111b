"""What other rooms may read of customer feedback, and the one thing they may do to it.

Other rooms (decisions, the digest) import this module only, never the feedback room's
service or tables. Everything returned is a plain value: ids are strings (as in the
digest's JSON), times are aware UTC.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.feedback import service
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
    numbers = [int(i) for i in ids if str(i).isdigit() and len(str(i)) < 19]
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
