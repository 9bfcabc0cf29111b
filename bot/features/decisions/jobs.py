"""The decisions room's recurring jobs: `decision-prompts` and `decision-nudges` (default
cadences in schedules/). Both count in weeks: a prompt and its nudge share the period."""

from __future__ import annotations

from bot.db.models import Workspace
from bot.features.decisions import members, service
from bot.scheduler.registry import JobContext, JobSpec


def decision_prompts(job: JobContext) -> str:
    """Ask every department to log a decision (once per department and period)."""
    workspace = job.session.get(Workspace, job.workspace_id)
    report = service.send_prompts(job.session, workspace, job.period, command=job.settings.heard_slash_command,
                                  now=job.now)  # fmt: skip
    return str(report)


def decision_nudges(job: JobContext) -> str:
    """Remind the departments that logged nothing since this period's prompt (once)."""
    workspace = job.session.get(Workspace, job.workspace_id)
    report = service.send_nudges(
        job.session, workspace, job.period, command=job.settings.heard_slash_command, now=job.now,
        members=lambda group: members.group_members(job.client, group),
    )  # fmt: skip
    return str(report)


JOBS = (
    JobSpec(name="decision-prompts", run=decision_prompts, period="week",
            description="Ask every department to log a decision"),
    JobSpec(name="decision-nudges", run=decision_nudges, period="week",
            description="Nudge departments that have not logged yet"),
)  # fmt: skip
