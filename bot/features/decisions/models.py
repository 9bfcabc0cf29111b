"""The decisions room's tables: decisions, the feedback they link, and the prompts and
nudges sent to departments (one each per department and period, by unique constraint)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, utcnow


class Decision(Base):
    """A decision a department logged. The department is kept by its name at the time, so
    removing a department keeps its decisions under the name they were logged with."""

    __tablename__ = "decisions"
    __table_args__ = (
        # A modal submitted twice (a double click, Slack's retry) is one decision.
        UniqueConstraint("workspace_id", "submission_key"),
        Index("ix_decisions_workspace_logged", "workspace_id", "logged_at"),
        Index("ix_decisions_workspace_author", "workspace_id", "author_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(80))
    channel_id: Mapped[str | None] = mapped_column(String(32))  # the department's, when logged
    author_user_id: Mapped[str | None] = mapped_column(String(32))  # None once forgotten
    title: Mapped[str] = mapped_column(String(255))  # the start of `decided`, for lists
    decided: Mapped[str] = mapped_column(Text)
    impact: Mapped[str] = mapped_column(String(16))
    affected: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    logged_at: Mapped[datetime] = mapped_column(default=utcnow)
    submission_key: Mapped[str | None] = mapped_column(String(64))  # the modal's view id


class DecisionLink(Base):
    """Feedback a decision links (the feedback room's item id). When the item is deleted
    with its message, the link goes and the decision stays: a foreign key with ON DELETE
    CASCADE settles it in the statement that deletes the item, so the feedback room need
    not know that decisions link its items, nor this room hear of a deletion (the room
    contract would have needed a hook for that, and a hook could be forgotten by a future
    path that deletes items; the database cannot). Migration 0013."""

    __tablename__ = "decision_links"
    __table_args__ = (UniqueConstraint("decision_id", "feedback_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class DecisionPrompt(Base):
    """A department was asked to log a decision in a period (the job's ledger period)."""

    __tablename__ = "decision_prompts"
    __table_args__ = (UniqueConstraint("workspace_id", "department", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(80))
    channel_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(32))
    prompted_at: Mapped[datetime] = mapped_column(default=utcnow)


class DecisionNudge(Base):
    """A silent department was reminded in a period."""

    __tablename__ = "decision_nudges"
    __table_args__ = (UniqueConstraint("workspace_id", "department", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(32))
    via: Mapped[str] = mapped_column(String(16))
    nudged_at: Mapped[datetime] = mapped_column(default=utcnow)
