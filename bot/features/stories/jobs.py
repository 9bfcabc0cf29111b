"""The stories room's recurring job: `weekly-story` (default Monday 10:00, schedules/)."""

from __future__ import annotations

from bot.db.models import Workspace
from bot.features.stories import drafts, service
from bot.features.stories.channel import channel_problem
from bot.scheduler.registry import JobContext, JobSpec
from bot.workspace_settings import load_config


def weekly_story(job: JobContext) -> str:
    """Queue this week's story in the stories channel (once per workspace and week, however
    often it runs); with no usable channel, tell the admins once; with no approved story,
    ask them for one and send them a draft written from recent feedback to review."""
    workspace = job.session.get(Workspace, job.workspace_id)
    outcome = service.post_week(
        job.session, workspace, week=job.period, channel=load_config(job.session, job.workspace_id).stories_channel,
        check_channel=lambda channel: channel_problem(job.client, channel), now=job.now,
        command=job.settings.heard_slash_command,
    )  # fmt: skip
    if outcome.kind == "empty":
        drafted = drafts.draft_from_feedback(job.session, workspace, drafts.llm_for(job.settings), week=job.period,
                                             now=job.now)  # fmt: skip
        if drafted is not None:
            return f"{outcome}; a draft from recent feedback sent for review"
    return str(outcome)


JOBS = (
    JobSpec(
        name="weekly-story",
        run=weekly_story,
        period="week",
        description="Post this week's customer story to the stories channel",
    ),
)
