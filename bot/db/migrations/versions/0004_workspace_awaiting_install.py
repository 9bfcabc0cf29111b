"""workspace awaiting installation: installed_at may be null

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.alter_column('installed_at', existing_type=sa.DateTime(timezone=True), nullable=True)


def downgrade() -> None:
    # A workspace still awaiting installation becomes an uninstalled one: the older
    # schema cannot say "never installed", and uninstalled keeps it unserved with its data.
    op.execute(
        "UPDATE workspaces SET installed_at = CURRENT_TIMESTAMP, "
        "uninstalled_at = COALESCE(uninstalled_at, CURRENT_TIMESTAMP) WHERE installed_at IS NULL"
    )
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.alter_column('installed_at', existing_type=sa.DateTime(timezone=True), nullable=False)
