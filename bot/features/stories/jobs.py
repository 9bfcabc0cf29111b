"""The stories room's recurring jobs: `weekly-story` (default Monday 10:00) and
`story-draft` (default daily 10:00: on the day before the weekly story, a draft when the
bank has no approved story). Their default cadences are in schedules/."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.db.models import Workspace
from bot.features.stories import drafts, service
from bot.features.stories.channel import channel_problem
from bot.scheduler.catalog import job_catalog
from bot.scheduler.registry import JobContext, JobRegistry, JobSpec, period_key
from bot.scheduler.runner import effective_cadence
from bot.workspace_settings import load_config

WEEKLY_STORY = "weekly-story"


def weekly_story(job: JobContext) -> str:
    """Queue this week's story in the stories channel (once per workspace and week, however
    often it runs); with no usable channel, tell the admins once; with no approved story,
    ask them for one and send them a draft written from recent feedback to review (unless
    `story-draft` did the day before)."""
    workspace = job.session.get(Workspace, job.workspace_id)
    outcome = service.post_week(
        job.session, workspace, week=job.period, channel=load_config(job.session, job.workspace_id).stories_channel,
        check_channel=lambda channel: channel_problem(job.client, channel), now=job.now,
        command=job.settings.heard_slash_command,
    )  # fmt: skip
    if outcome.kind == "empty":
        drafted = drafts.draft_from_feedback(job.session, workspace, drafts.llm_for(job.settings), week=job.period,
                                             now=job.now)  # fmt: skip
        if drafted is not None and drafted.created:
            return f"{outcome}; a draft from recent feedback sent for review{drafted.how()}"
        if drafted is not None:
            return f"{outcome}; this week's draft from recent feedback waits for review"
    return str(outcome)


def next_weekly_story(job: JobContext, workspace: Workspace) -> datetime | None:
    """When `weekly-story` next fires for this workspace (its cadence in force: the
    workspace's `/heard schedule` override, else schedules/), or None when it is off."""
    default = job_catalog(job.settings.heard_schedules_dir, JobRegistry()).defaults.get(WEEKLY_STORY)
    cadence, _ = effective_cadence(job.session, workspace, WEEKLY_STORY, default)
    trigger = cadence.trigger(job.time_zone) if cadence is not None else None
    return trigger.get_next_fire_time(None, job.now) if trigger is not None else None


def story_draft(job: JobContext) -> str:
    """On the day before the weekly story (in the workspace's zone), with no approved story
    in the bank, draft one from recent feedback and send it to the admins to review, so
    the post has a story when it runs. Once per week: the draft's key is the post's week."""
    workspace = job.session.get(Workspace, job.workspace_id)
    fires = next_weekly_story(job, workspace)
    if fires is None:
        return f"{WEEKLY_STORY} is off; nothing to prepare"
    zone = ZoneInfo(job.time_zone)
    if fires.astimezone(zone).date() != job.now.astimezone(zone).date() + timedelta(days=1):
        return f"the next story is posted on {fires.astimezone(zone):%a %d %b}, not tomorrow; nothing to prepare"
    week = period_key("week", fires, job.time_zone)
    return drafts.prepare_week(job.session, workspace, drafts.llm_for(job.settings), week=week, now=job.now)


JOBS = (
    JobSpec(
        name=WEEKLY_STORY,
        run=weekly_story,
        period="week",
        description="Post this week's customer story to the stories channel",
    ),
    JobSpec(
        name="story-draft",
        run=story_draft,
        period="day",
        description="The day before the weekly story, draft one from recent feedback if none is approved",
    ),
)
