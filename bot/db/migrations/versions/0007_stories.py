"""stories: the story bank, the weekly posts, reflections and engagement

Revision ID: 0007_stories
Revises: 0006
Create Date: 2026-11-29 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_stories'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=150), nullable=False),
    sa.Column('customer', sa.String(length=255), nullable=False),
    sa.Column('what_happened', sa.Text(), nullable=False),
    sa.Column('learned', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('submitted_by', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('feedback_item_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('submit_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_stories_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories')),
    sa.UniqueConstraint('workspace_id', 'submit_key', name=op.f('uq_stories_workspace_id_submit_key'))
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index('ix_stories_workspace_state', ['workspace_id', 'state', 'created_at'], unique=False)

    op.create_table('story_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=10), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.Column('requested_by', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_story_posts_story_id_stories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_story_posts_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_posts')),
    sa.UniqueConstraint('workspace_id', 'week', name=op.f('uq_story_posts_workspace_id_week'))
    )
    with op.batch_alter_table('story_posts', schema=None) as batch_op:
        batch_op.create_index('ix_story_posts_message', ['workspace_id', 'channel_id', 'message_ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_story_posts_story_id'), ['story_id'], unique=False)

    op.create_table('story_reflections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('submit_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['story_posts.id'], name=op.f('fk_story_reflections_post_id_story_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_reflections')),
    sa.UniqueConstraint('post_id', 'submit_key', name=op.f('uq_story_reflections_post_id_submit_key'))
    )
    with op.batch_alter_table('story_reflections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_story_reflections_post_id'), ['post_id'], unique=False)

    op.create_table('story_engagements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['story_posts.id'], name=op.f('fk_story_engagements_post_id_story_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_engagements')),
    sa.UniqueConstraint('post_id', 'kind', 'user_id', 'ref', name=op.f('uq_story_engagements_post_id_kind_user_id_ref'))
    )
    with op.batch_alter_table('story_engagements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_story_engagements_post_id'), ['post_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('story_engagements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_story_engagements_post_id'))
    op.drop_table('story_engagements')
    with op.batch_alter_table('story_reflections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_story_reflections_post_id'))
    op.drop_table('story_reflections')
    with op.batch_alter_table('story_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_story_posts_story_id'))
        batch_op.drop_index('ix_story_posts_message')
    op.drop_table('story_posts')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index('ix_stories_workspace_state')
    op.drop_table('stories')
