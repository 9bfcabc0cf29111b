"""Seeding a workspace's history for digest tests: feedback said at given times, in given
states, and decisions that link feedback. Rows are written directly (the other rooms'
services are tested in their own folders); times are aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.features.decisions.models import Decision, DecisionLink
from bot.features.feedback.kinds import ItemStatus
from bot.features.feedback.models import FeedbackItem

# Friday 27 November 2026, 16:00 UTC: the default digest time, ISO week 2026-W48.
END = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
IGNORE_AFTER = timedelta(hours=72)

INVOICES = [
    "The invoice PDF export is broken again, totals are missing",
    "Invoice PDF download shows blank totals for our accountant",
    "Exporting the invoice as PDF fails, accountant is angry",
    "Invoice PDF export missing tax totals",
    "Our invoice PDFs come out without totals",
    "PDF invoice export drops the totals column",
    "The invoice export to PDF loses the totals",
    "Invoice PDF totals blank after export",
]
LOGINS = [
    "Mobile app crashes on login with face id",
    "Login crash in the mobile app after the update",
    "The mobile app login keeps crashing on android",
    "App crashes when I try to log in on my phone",
    "Mobile login crash again this morning",
    "Face ID login crashes the mobile app",
    "Android mobile app crash at the login screen",
    "Login on the mobile app crashes every time",
]


def said(session, workspace_id: int, text: str, at: datetime, *, acked_after: timedelta | None = None,
         resolved_after: timedelta | None = None, end: datetime = END, channel: str | None = None,
         ts: str | None = None, reporter: str = "U0SAM00006") -> FeedbackItem:  # fmt: skip
    """Feedback said at `at`, acknowledged or resolved that long after; its status as of `end`."""
    acked = at + acked_after if acked_after is not None else None
    resolved = at + resolved_after if resolved_after is not None else None
    if resolved is not None:
        status = ItemStatus.RESOLVED
    elif acked is not None:
        status = ItemStatus.ACKNOWLEDGED
    elif at < end - IGNORE_AFTER:
        status = ItemStatus.IGNORED
    else:
        status = ItemStatus.OPEN
    went_ignored = at < min(acked or end, resolved or end, end) - IGNORE_AFTER
    item = FeedbackItem(
        workspace_id=workspace_id, text=text, source="channel" if channel else "command", reporter_user_id=reporter,
        said_at=at, status=status, acknowledged_at=acked, acknowledged_by="U0PRIYA003" if acked else None,
        resolved_at=resolved, ignored_at=at + IGNORE_AFTER if went_ignored else None,
        channel_id=channel, message_ts=ts,
    )  # fmt: skip
    session.add(item)
    session.flush()
    return item


def decided(session, workspace_id: int, department: str, title: str, at: datetime, links=(),
            impact: str = "helped") -> Decision:  # fmt: skip
    decision = Decision(workspace_id=workspace_id, department=department, title=title, decided=title,
                        impact=impact, logged_at=at, author_user_id="U0PRIYA003")  # fmt: skip
    session.add(decision)
    session.flush()
    for item in links:
        session.add(DecisionLink(decision_id=decision.id, feedback_id=item.id, linked_at=at))
    session.flush()
    return decision
