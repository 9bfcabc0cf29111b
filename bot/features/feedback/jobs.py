"""The feedback room's recurring job: `feedback-sweep` (default hourly, schedules/)."""

from __future__ import annotations

from bot.db.models import Workspace
from bot.features.feedback import service
from bot.scheduler.registry import JobContext, JobSpec


def feedback_sweep(job: JobContext) -> str:
    """Mark what nobody acknowledged within ignore-after as ignored; queue the once-only
    reminders (the scheduler's outbox delivery sends them within seconds)."""
    workspace = job.session.get(Workspace, job.workspace_id)
    return str(service.sweep(job.session, workspace, now=job.now))


JOBS = (
    JobSpec(
        name="feedback-sweep",
        run=feedback_sweep,
        period="hour",
        description="Flag unacknowledged feedback as ignored; remind once in its thread",
    ),
)
