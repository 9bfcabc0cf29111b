"""The feedback room's tables: feedback items and the acts that acknowledge them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, utcnow


class FeedbackItem(Base):
    """Customer feedback said inside the company. `said_at` is when it was said, not stored."""

    __tablename__ = "feedback_items"
    __table_args__ = (
        # One item per Slack message; a re-delivered or re-imported message adds nothing.
        UniqueConstraint("workspace_id", "channel_id", "message_ts"),
        UniqueConstraint("workspace_id", "import_key"),
        Index("ix_feedback_items_workspace_status_said", "workspace_id", "status", "said_at"),
        # Only the rows that have a card, or a reporter's user id: every query through these
        # indexes asks for a value, and an import writes neither (migration 0012).
        Index("ix_feedback_items_card", "workspace_id", "card_channel_id", "card_ts",
              sqlite_where=text("card_channel_id IS NOT NULL"), postgresql_where=text("card_channel_id IS NOT NULL")),
        Index("ix_feedback_items_workspace_reporter", "workspace_id", "reporter_user_id",
              sqlite_where=text("reporter_user_id IS NOT NULL"),
              postgresql_where=text("reporter_user_id IS NOT NULL")),
        # An item's id lives on in Slack (card buttons, modal metadata) after its message is
        # deleted: SQLite must never give it to another item, as it would without
        # AUTOINCREMENT (migration 0013). A migration that recreates this table on SQLite
        # must pass the option again: Alembic's batch mode does not read it back.
        {"sqlite_autoincrement": True},
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    reporter_user_id: Mapped[str | None] = mapped_column(String(32))  # None once forgotten
    reporter_name: Mapped[str | None] = mapped_column(String(255))  # CSV authors outside Slack
    customer: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32))  # channel | shortcut | command | import
    # Where the customer said it, in the reporter's words: phone, email, meeting, zendesk…
    origin: Mapped[str | None] = mapped_column(String(64))
    logged_by_user_id: Mapped[str | None] = mapped_column(String(32))  # shortcut/command user
    note: Mapped[str | None] = mapped_column(Text)  # the logger's note from the shortcut modal
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(Text)
    # An imported row's identity: the UTC second it was said, then the SHA-256 of its values
    # in base64 (`importer.import_key`), so an import's keys go into their index in order.
    import_key: Mapped[str | None] = mapped_column(String(64))
    said_at: Mapped[datetime]
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    ignored_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Heard's confirmation card for feedback that has no message in a feedback channel;
    # replies and reactions there acknowledge the item like on the original message.
    card_channel_id: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))


class Acknowledgement(Base):
    """One act that acknowledges a feedback item; removing it may un-acknowledge the item."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("feedback_item_id", "kind", "user_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # reply | reaction | decision | button
    user_id: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64), default="")  # reply ts, emoji name, decision id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
