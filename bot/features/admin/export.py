"""`heard export`: a workspace's data as CSV files, for BI tools and for leaving Heard.

UTF-8, a header row, one file per table, written with the csv module. Cells are
the stored values verbatim (ids as strings, times ISO 8601 in UTC, JSON for audit
values): a spreadsheet opening them should be told the columns are text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import (
    AuditEntry,
    Decision,
    DecisionFeedbackLink,
    Department,
    FeedbackItem,
    Story,
    StoryEngagement,
    Workspace,
)

FEEDBACK_COLUMNS = ("id", "team_id", "text", "reporter", "created_at", "source", "channel", "ts",
                    "permalink", "status", "acknowledged_at", "acknowledged_by")  # fmt: skip
DECISION_COLUMNS = ("id", "team_id", "department", "author", "title", "description", "impact",
                    "decided_at", "created_at", "feedback_ids")  # fmt: skip
STORY_COLUMNS = ("id", "team_id", "title", "body", "customer", "submitted_by", "created_at",
                 "posted_at", "channel", "ts")  # fmt: skip
ENGAGEMENT_COLUMNS = ("id", "team_id", "story_id", "kind", "user", "ref", "text", "created_at")
AUDIT_COLUMNS = ("id", "team_id", "at", "actor", "action", "old_value", "new_value")
BATCH = 500


def write_export(session: Session, directory: Path, *, team_id: str | None = None) -> dict[str, int]:
    """Write the five CSV files into `directory` (created if missing) for one workspace
    or all of them; returns rows written per file name."""
    directory.mkdir(parents=True, exist_ok=True)
    teams = select(Workspace.id, Workspace.team_id)
    if team_id is not None:
        teams = teams.where(Workspace.team_id == team_id)
    team_of = dict(session.execute(teams).all())
    ids = list(team_of)
    files = {
        "feedback.csv": (FEEDBACK_COLUMNS, _feedback(session, ids, team_of)),
        "decisions.csv": (DECISION_COLUMNS, _decisions(session, ids, team_of)),
        "stories.csv": (STORY_COLUMNS, _stories(session, ids, team_of)),
        "engagement.csv": (ENGAGEMENT_COLUMNS, _engagement(session, ids, team_of)),
        "audit.csv": (AUDIT_COLUMNS, _audit(session, ids, team_of)),
    }
    return {name: _write(directory / name, columns, rows) for name, (columns, rows) in files.items()}


def _write(path: Path, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(_cell(value) for value in row)
            count += 1
    return count


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _feedback(session: Session, ids: list[int], team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.scalars(
        select(FeedbackItem).where(FeedbackItem.workspace_id.in_(ids))
        .order_by(FeedbackItem.workspace_id, FeedbackItem.said_at, FeedbackItem.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for item in rows:
        # `source` says where the customer said it (phone, email: the CSV import's column)
        # when known, else how Heard heard of it (channel, shortcut, command, import),
        # so an export imports back with the same meaning.
        yield (item.id, team_of[item.workspace_id], item.text, item.reporter_user_id or item.reporter_name,
               item.said_at, item.origin or item.source, item.channel_id, item.message_ts, item.permalink, item.status,
               item.acknowledged_at, item.acknowledged_by)  # fmt: skip


def _decisions(session: Session, ids: list[int], team_of: dict[int, str]) -> Iterator[tuple]:
    departments = dict(session.execute(select(Department.id, Department.name).where(Department.workspace_id.in_(ids))).all())
    links: dict[int, list[int]] = {}
    for decision_id, item_id in session.execute(
        select(DecisionFeedbackLink.decision_id, DecisionFeedbackLink.feedback_item_id)
        .join(Decision, Decision.id == DecisionFeedbackLink.decision_id)
        .where(Decision.workspace_id.in_(ids))
        .order_by(DecisionFeedbackLink.feedback_item_id)
    ):
        links.setdefault(decision_id, []).append(item_id)
    rows = session.scalars(
        select(Decision).where(Decision.workspace_id.in_(ids))
        .order_by(Decision.workspace_id, Decision.decided_at, Decision.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for d in rows:
        yield (d.id, team_of[d.workspace_id], departments.get(d.department_id), d.author_user_id, d.title,
               d.description, d.impact, d.decided_at, d.created_at,
               " ".join(str(i) for i in links.get(d.id, [])))  # fmt: skip


def _stories(session: Session, ids: list[int], team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.scalars(
        select(Story).where(Story.workspace_id.in_(ids))
        .order_by(Story.workspace_id, Story.created_at, Story.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for s in rows:
        yield (s.id, team_of[s.workspace_id], s.title, s.body, s.customer, s.submitted_by, s.created_at,
               s.posted_at, s.channel_id, s.message_ts)  # fmt: skip


def _engagement(session: Session, ids: list[int], team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.execute(
        select(StoryEngagement, Story.workspace_id).join(Story, Story.id == StoryEngagement.story_id)
        .where(Story.workspace_id.in_(ids))
        .order_by(Story.workspace_id, StoryEngagement.created_at, StoryEngagement.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for e, workspace_id in rows:
        yield (e.id, team_of[workspace_id], e.story_id, e.kind, e.user_id, e.ref, e.text, e.created_at)


def _audit(session: Session, ids: list[int], team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.workspace_id.in_(ids))
        .order_by(AuditEntry.workspace_id, AuditEntry.at, AuditEntry.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for a in rows:
        yield (a.id, team_of[a.workspace_id], a.at, a.actor_user_id, a.action, _json(a.old_value),
               _json(a.new_value))  # fmt: skip
