"""What other rooms (the digest) may read of decision logs. Plain values, never rows;
ids are strings, times aware UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.features.admin import queries as admin
from bot.features.decisions.kinds import Impact
from bot.features.decisions.models import Decision, DecisionLink, DecisionPrompt


@dataclass(frozen=True)
class Participation:
    """One department's decision logging in [start, end)."""

    department: str
    prompted: int  # prompts sent to it
    logged: int  # decisions it logged
    authors: int  # distinct people who logged them
    impact: dict[str, int]  # helped, hurt, mixed, unknown, none -> decisions
    feedback_linked: int  # distinct feedback items its decisions link


@dataclass(frozen=True)
class DecisionSummary:
    id: str
    department: str
    title: str
    impact: str
    logged_at: datetime
    feedback_ids: tuple[str, ...]


def participation(session: Session, workspace_id: int, start: datetime, end: datetime) -> list[Participation]:
    """Per department (today's, and any removed one that was prompted or logged in the
    period, under its name then), by name: prompted, logged, authors, impact, linked."""
    in_period = (Decision.workspace_id == workspace_id, Decision.logged_at >= start, Decision.logged_at < end)
    prompted = dict(session.execute(
        select(DecisionPrompt.department, func.count()).where(
            DecisionPrompt.workspace_id == workspace_id, DecisionPrompt.prompted_at >= start,
            DecisionPrompt.prompted_at < end,
        ).group_by(DecisionPrompt.department)
    ).all())  # fmt: skip
    logged = {name: (count, authors) for name, count, authors in session.execute(
        select(Decision.department, func.count(), func.count(distinct(Decision.author_user_id)))
        .where(*in_period).group_by(Decision.department)
    )}  # fmt: skip
    impacts: dict[str, dict[str, int]] = {}
    for name, impact, count in session.execute(
        select(Decision.department, Decision.impact, func.count()).where(*in_period)
        .group_by(Decision.department, Decision.impact)
    ):  # fmt: skip
        impacts.setdefault(name, {})[impact] = count
    linked = dict(session.execute(
        select(Decision.department, func.count(distinct(DecisionLink.feedback_id)))
        .join(DecisionLink, DecisionLink.decision_id == Decision.id)
        .where(*in_period).group_by(Decision.department)
    ).all())  # fmt: skip
    current = [d.name for d in admin.departments(session, workspace_id)]
    names = current + sorted((set(prompted) | set(logged)) - set(current), key=str.lower)
    return [
        Participation(
            department=name, prompted=prompted.get(name, 0), logged=logged.get(name, (0, 0))[0],
            authors=logged.get(name, (0, 0))[1],
            impact={impact.value: impacts.get(name, {}).get(impact.value, 0) for impact in Impact},
            feedback_linked=linked.get(name, 0),
        )
        for name in names
    ]  # fmt: skip


def decisions_since(session: Session, workspace_id: int, since: datetime) -> list[DecisionSummary]:
    """Decisions logged since `since`, oldest first, with the feedback each links (the
    digest's `related_decisions` come from these)."""
    rows = list(session.scalars(
        select(Decision).where(Decision.workspace_id == workspace_id, Decision.logged_at >= since)
        .order_by(Decision.logged_at, Decision.id)
    ))  # fmt: skip
    links: dict[int, list[str]] = {}
    if rows:
        for decision_id, feedback_id in session.execute(
            select(DecisionLink.decision_id, DecisionLink.feedback_id)
            .where(DecisionLink.decision_id.in_([d.id for d in rows])).order_by(DecisionLink.id)
        ):  # fmt: skip
            links.setdefault(decision_id, []).append(str(feedback_id))
    return [DecisionSummary(str(d.id), d.department, d.title, d.impact, d.logged_at, tuple(links.get(d.id, ())))
            for d in rows]  # fmt: skip
