"""The digest room's tables: who was sent which period's digest, and feedback a leader
assigned to a department from a digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, utcnow


class DigestDelivery(Base):
    """A period's digest was queued for one recipient (a leader's user id, or the digest
    channel). The unique row is the ledger that makes it once per recipient and period,
    across retries, restarts and concurrent runs; the outbox key makes the post once."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("workspace_id", "period", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(32))  # the job's period, e.g. 2026-W48
    recipient: Mapped[str] = mapped_column(String(32))  # a user id (DM) or a channel id
    kind: Mapped[str] = mapped_column(String(16))  # leader | channel
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestAssignment(Base):
    """A feedback item a leader assigned to a department from a digest: who, to which
    department, and where they pressed the button (the digest's DM or channel). Deleting
    the item (its message was deleted) deletes its assignments: the foreign key cascades,
    as `DigestVector`'s does, so neither room needs to tell the other (migration 0013)."""

    __tablename__ = "digest_assignments"
    __table_args__ = (
        UniqueConstraint("workspace_id", "feedback_id", "department"),
        Index("ix_digest_assignments_workspace_feedback", "workspace_id", "feedback_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(80))
    assigned_by: Mapped[str | None] = mapped_column(String(32))  # None once forgotten
    channel_id: Mapped[str | None] = mapped_column(String(32))  # where the button was pressed
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestVector(Base):
    """A feedback item's sentence embedding (`heard[embeddings]`, see `embeddings.py`),
    computed once and reused by every digest. `text_sha256` is the hash of the text it was
    computed from, so an edited item is encoded again; deleting the item deletes its
    vector (the foreign key cascades), as a vector is derived from the customer's words."""

    __tablename__ = "digest_vectors"
    __table_args__ = (UniqueConstraint("feedback_id", "model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    text_sha256: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
