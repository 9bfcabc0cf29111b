"""What the stories room holds about people, and what it exports: its `/heard forget`
and `heard export` parts (see `bot.rooms`)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.features.stories.models import Reflection, Story, StoryEngagement, StoryPost
from bot.features.stories.service import PostStatus, engagement_of
from bot.rooms import ExportFile, ForgetRequest, Forgotten

STORY_COLUMNS = ("id", "team_id", "title", "customer", "what_happened", "learned", "link", "submitted_by",
                 "anonymous", "source", "state", "created_at", "reviewed_by", "times_posted",
                 "last_posted_at")  # fmt: skip
ENGAGEMENT_COLUMNS = ("post_id", "team_id", "story_id", "title", "week", "channel", "ts", "posted_at",
                      "reactions", "replies", "reflections", "people")  # fmt: skip
# Columns of words people wrote (or a draft quoted from feedback), which may mention someone,
# and the story's link (a profile's address names the person: it then links nowhere useful).
STORY_TEXT_COLUMNS = ("title", "customer", "what_happened", "learned", "link")
BATCH = 500


def forget(request: ForgetRequest) -> list[Forgotten]:
    """A story a person submitted stays (it is the customer's story) but no longer names
    them, nor does the wording of any story or of others' reflections mention them (a
    draft quotes feedback word for word: `ForgetRequest.forget_mentions`); their
    reflections (their own words) are deleted; their reactions and replies keep counting
    under the stand-in id."""
    session, workspace_id, user_id = request.session, request.workspace_id, request.user_id

    def run(statement) -> int:
        return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0

    in_workspace = Story.workspace_id == workspace_id
    submitted = run(update(Story).where(in_workspace, Story.submitted_by == user_id).values(submitted_by=None))
    run(update(Story).where(in_workspace, Story.reviewed_by == user_id).values(reviewed_by=None))
    run(update(StoryPost).where(StoryPost.workspace_id == workspace_id, StoryPost.requested_by == user_id)
        .values(requested_by=None))  # fmt: skip
    posts = select(StoryPost.id).where(StoryPost.workspace_id == workspace_id)
    reflections = run(delete(Reflection).where(Reflection.post_id.in_(posts), Reflection.user_id == user_id))
    mentioned = request.forget_mentions(Story, STORY_TEXT_COLUMNS, in_workspace)
    reflected = request.forget_mentions(Reflection, ("text",), Reflection.post_id.in_(posts))
    engaged = run(update(StoryEngagement).where(StoryEngagement.post_id.in_(posts), StoryEngagement.user_id == user_id)
                  .values(user_id=request.stand_in))  # fmt: skip
    return [
        Forgotten("stories_anonymised", submitted, "story", "stories", "anonymised"),
        Forgotten("story_mentions_anonymised", mentioned, "story mentioning them", "stories mentioning them",
                  "anonymised"),
        Forgotten("reflections_deleted", reflections, "reflection", "reflections", "deleted"),
        Forgotten("reflection_mentions_anonymised", reflected, "reflection mentioning them",
                  "reflections mentioning them", "anonymised"),
        Forgotten("story_engagement_anonymised", engaged, "story reaction or reply", "story reactions and replies",
                  "anonymised"),
    ]  # fmt: skip


def _story_rows(session: Session, team_of: dict[int, str]) -> Iterator[tuple]:
    posted = {
        story_id: (count, last)
        for story_id, count, last in session.execute(
            select(StoryPost.story_id, func.count(), func.max(StoryPost.posted_at))
            .where(StoryPost.workspace_id.in_(list(team_of)), StoryPost.status == PostStatus.POSTED)
            .group_by(StoryPost.story_id)
        )
    }
    stories = session.scalars(
        select(Story).where(Story.workspace_id.in_(list(team_of)))
        .order_by(Story.workspace_id, Story.created_at, Story.id).execution_options(yield_per=BATCH)
    )  # fmt: skip
    for story in stories:
        count, last = posted.get(story.id, (0, None))
        yield (story.id, team_of[story.workspace_id], story.title, story.customer, story.what_happened, story.learned,
               story.link, None if story.anonymous else story.submitted_by, story.anonymous, story.source,
               story.state, story.created_at, story.reviewed_by, count, last)  # fmt: skip


def _engagement_rows(session: Session, team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.execute(
        select(StoryPost, Story.title).join(Story, Story.id == StoryPost.story_id)
        .where(StoryPost.workspace_id.in_(list(team_of)), StoryPost.status == PostStatus.POSTED)
        .order_by(StoryPost.workspace_id, StoryPost.posted_at, StoryPost.id)
    ).all()  # fmt: skip
    for post, title in rows:
        counts = engagement_of(session, [post.id])
        yield (post.id, team_of[post.workspace_id], post.story_id, title, post.week, post.channel_id, post.message_ts,
               post.posted_at, counts.reactions, counts.replies, counts.reflections, counts.people)  # fmt: skip


STORIES_EXPORT = ExportFile("stories.csv", STORY_COLUMNS, _story_rows)
ENGAGEMENT_EXPORT = ExportFile("engagement.csv", ENGAGEMENT_COLUMNS, _engagement_rows)
