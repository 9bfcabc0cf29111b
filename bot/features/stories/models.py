"""The stories room's tables: the story bank, the weekly posts, reflections and engagement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, utcnow


class Story(Base):
    """A customer story in the bank. `state` is pending (waiting for an admin), approved
    (in the bank, may be posted) or discarded; how often it was posted is its posts."""

    __tablename__ = "stories"
    __table_args__ = (
        # A modal submitted twice (a double click) carries one view id: one story.
        UniqueConstraint("workspace_id", "submit_key"),
        Index("ix_stories_workspace_state", "workspace_id", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(150))
    customer: Mapped[str] = mapped_column(String(255))  # a customer or a segment
    what_happened: Mapped[str] = mapped_column(Text)
    learned: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)  # "post without naming me"
    submitted_by: Mapped[str | None] = mapped_column(String(32))  # None once forgotten or a draft
    source: Mapped[str] = mapped_column(String(16))  # command | feedback | draft
    # The feedback it came from; None once that item is deleted with its message (the
    # story keeps its words: the foreign key sets this to NULL, migration 0013).
    feedback_item_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_items.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    submit_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(32))


class StoryPost(Base):
    """The week's post: one row per workspace and ISO week, whoever asks for it (the job,
    a second process, `/heard story now`). A post Slack refused (`failed`) frees the week
    again; `attempt` keeps each try's outbox key apart."""

    __tablename__ = "story_posts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "week"),
        Index("ix_story_posts_message", "workspace_id", "channel_id", "message_ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(String(10))  # 2026-W48, in the workspace's zone
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | posted | failed
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(32))  # `/heard story now`, else the job


class Reflection(Base):
    """An answer to "What would you change in your work because of this story?"."""

    __tablename__ = "story_reflections"
    __table_args__ = (UniqueConstraint("post_id", "submit_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("story_posts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))  # a stand-in once forgotten
    text: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    submit_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoryEngagement(Base):
    """A reaction or a thread reply by a person on a story post; removing it removes the row."""

    __tablename__ = "story_engagements"
    __table_args__ = (UniqueConstraint("post_id", "kind", "user_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("story_posts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reaction | reply
    user_id: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64), default="")  # emoji name or reply ts
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
