"""feedback origin, logger, note and confirmation card

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:25:06.647804
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('logged_by_user_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('card_channel_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('card_ts', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_feedback_items_card', ['workspace_id', 'card_channel_id', 'card_ts'], unique=False)
        batch_op.create_index('ix_feedback_items_workspace_reporter', ['workspace_id', 'reporter_user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_items_workspace_reporter')
        batch_op.drop_index('ix_feedback_items_card')
        batch_op.drop_column('card_ts')
        batch_op.drop_column('card_channel_id')
        batch_op.drop_column('note')
        batch_op.drop_column('logged_by_user_id')
        batch_op.drop_column('origin')

