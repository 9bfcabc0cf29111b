"""rooms own their tables: drop the unused story and decision tables of 0001

The first schema created tables for rooms that did not exist yet. Nothing ever wrote to
them; the stories and decisions rooms bring their own tables with their own migrations.
A table that somehow holds rows is left alone and the upgrade stops, naming it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = ('decision_feedback_links', 'story_engagements', 'decisions', 'stories')


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        if bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None:
            raise RuntimeError(f"table {table} holds rows; export them (heard export) before upgrading")
    op.drop_table('decision_feedback_links')
    with op.batch_alter_table('story_engagements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_story_engagements_story_id'))
    op.drop_table('story_engagements')
    op.drop_table('decisions')
    op.drop_table('stories')


def downgrade() -> None:
    op.create_table('stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('customer', sa.String(length=255), nullable=True),
    sa.Column('submitted_by', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channel_id', sa.String(length=32), nullable=True),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_stories_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories'))
    )
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('author_user_id', sa.String(length=32), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('impact', sa.String(length=16), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_decisions_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_decisions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    op.create_table('story_engagements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_story_engagements_story_id_stories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_engagements')),
    sa.UniqueConstraint('story_id', 'kind', 'user_id', 'ref', name=op.f('uq_story_engagements_story_id_kind_user_id_ref'))
    )
    with op.batch_alter_table('story_engagements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_story_engagements_story_id'), ['story_id'], unique=False)
    op.create_table('decision_feedback_links',
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('feedback_item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_decision_feedback_links_decision_id_decisions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feedback_item_id'], ['feedback_items.id'], name=op.f('fk_decision_feedback_links_feedback_item_id_feedback_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('decision_id', 'feedback_item_id', name=op.f('pk_decision_feedback_links'))
    )
