"""decisions: the decisions room's tables (decisions, their feedback links, and the
prompts and nudges sent to departments, one each per department and period)

Revision ID: 0008_decisions
Revises: 0007_stories
Create Date: 2026-11-29 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_decisions"
down_revision = "0007_stories"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=80), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("author_user_id", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("decided", sa.Text(), nullable=False),
        sa.Column("impact", sa.String(length=16), nullable=False),
        sa.Column("affected", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_decisions_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("workspace_id", "submission_key",
                            name=op.f("uq_decisions_workspace_id_submission_key")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_workspace_logged", ["workspace_id", "logged_at"], unique=False)
        batch_op.create_index("ix_decisions_workspace_author", ["workspace_id", "author_user_id"], unique=False)
    op.create_table(
        "decision_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"],
                                name=op.f("fk_decision_links_decision_id_decisions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_links")),
        sa.UniqueConstraint("decision_id", "feedback_id", name=op.f("uq_decision_links_decision_id_feedback_id")),
    )
    with op.batch_alter_table("decision_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decision_links_decision_id"), ["decision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_decision_links_feedback_id"), ["feedback_id"], unique=False)
    op.create_table(
        "decision_prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=80), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("prompted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_decision_prompts_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_prompts")),
        sa.UniqueConstraint("workspace_id", "department", "period",
                            name=op.f("uq_decision_prompts_workspace_id_department_period")),
    )
    op.create_table(
        "decision_nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_decision_nudges_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_nudges")),
        sa.UniqueConstraint("workspace_id", "department", "period",
                            name=op.f("uq_decision_nudges_workspace_id_department_period")),
    )


def downgrade() -> None:
    op.drop_table("decision_nudges")
    op.drop_table("decision_prompts")
    with op.batch_alter_table("decision_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_links_feedback_id"))
        batch_op.drop_index(batch_op.f("ix_decision_links_decision_id"))
    op.drop_table("decision_links")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_workspace_author")
        batch_op.drop_index("ix_decisions_workspace_logged")
    op.drop_table("decisions")
