"""What other rooms may read of the stories room: a period's story engagement (the
leadership digest's `stories` section). Plain values, never rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.stories.service import engagement_of, posts_between, settle_posts


def story_engagement(session: Session, workspace_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Stories posted in [start, end) and how people engaged with them:
    {posted, reactions, replies, reflections, people} (people: distinct, over all posts)."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is not None:  # posts Slack answered since the last run: their time and ts
        settle_posts(session, workspace, now=end)
    posts = posts_between(session, workspace_id, start, end)
    return engagement_of(session, [post.id for post in posts]).as_dict()


__all__ = ["story_engagement"]
