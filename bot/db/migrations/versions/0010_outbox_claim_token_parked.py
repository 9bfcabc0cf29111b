"""outbox: a claim token per claim, and failed rows become parked (an operator can retry them)

Revision ID: 0010_outbox_claim_token_parked
Revises: 0009_digest
Create Date: 2026-11-29 13:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_outbox_claim_token_parked"
down_revision = "0009_digest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
    op.execute("UPDATE outbox SET status = 'parked' WHERE status = 'failed'")


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'failed' WHERE status IN ('parked', 'uncertain')")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
