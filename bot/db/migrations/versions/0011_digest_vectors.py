"""digest vectors: each feedback item's sentence embedding (heard[embeddings]), stored once

Revision ID: 0011_digest_vectors
Revises: 0010_outbox_claim_token_parked
Create Date: 2026-11-29 13:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_digest_vectors"
down_revision = "0010_outbox_claim_token_parked"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_vectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback_items.id"],
            name=op.f("fk_digest_vectors_feedback_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_digest_vectors_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_vectors")),
        sa.UniqueConstraint(
            "feedback_id", "model", name=op.f("uq_digest_vectors_feedback_id_model")
        ),
    )


def downgrade() -> None:
    op.drop_table("digest_vectors")
