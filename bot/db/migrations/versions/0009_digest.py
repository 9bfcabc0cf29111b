"""digest: the digest room's tables (deliveries, one per recipient and period, and
feedback assigned to departments from a digest)

Revision ID: 0009_digest
Revises: 0008_decisions
Create Date: 2026-11-29 13:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_digest"
down_revision = "0008_decisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_digest_deliveries_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_deliveries")),
        sa.UniqueConstraint("workspace_id", "period", "recipient",
                            name=op.f("uq_digest_deliveries_workspace_id_period_recipient")),
    )
    op.create_table(
        "digest_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=80), nullable=False),
        sa.Column("assigned_by", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_digest_assignments_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_assignments")),
        sa.UniqueConstraint("workspace_id", "feedback_id", "department",
                            name=op.f("uq_digest_assignments_workspace_id_feedback_id_department")),
    )
    with op.batch_alter_table("digest_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_digest_assignments_workspace_feedback", ["workspace_id", "feedback_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("digest_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_digest_assignments_workspace_feedback")
    op.drop_table("digest_assignments")
    op.drop_table("digest_deliveries")
