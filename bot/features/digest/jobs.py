"""The digest room's recurring job: `leadership-digest` (default Friday 16:00, schedules/)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.digest import delivery, service, slack_calls
from bot.features.digest.chart import trend_png
from bot.scheduler.registry import JobContext, JobSpec

log = logging.getLogger(__name__)


def leadership_digest(job: JobContext) -> str:
    """DM each leader this period's digest and post it in the digest channel when one is
    set, each once per period (`delivery`), with the trend chart; a leader who left is
    skipped and the admins told once. An empty backlog still gets its short digest."""
    workspace = job.session.get(Workspace, job.workspace_id)
    report = delivery.DeliveryReport()
    done = delivery.delivered(job.session, workspace.id, job.period)
    due = []
    for recipient in delivery.recipients(job.session, workspace.id):
        if recipient.id in done:
            report.already.append(recipient.id)
        elif recipient.kind == "leader" and slack_calls.has_left(job.client, recipient.id):
            report.left.append(recipient.id)
        else:
            due.append(recipient)
    # Built before anything is written: the LLM may take a while, and the run's
    # transaction then holds no write (on SQLite, no lock the inbox would wait for).
    digest = None
    if due:
        encode_vectors(job)
        digest = service.build_digest(job.session, workspace.id, end=job.now, settings=job.settings)
    for leader in report.left:
        delivery.tell_admins_leader_left(job.session, workspace, leader, command=job.settings.heard_slash_command,
                                         now=job.now)  # fmt: skip
    if digest is None:
        return str(report) if (report.already or report.left) else "no leaders and no digest channel; nothing sent"
    png = trend_png(digest.trend)
    for recipient in due:
        chart = None
        conversation = slack_calls.conversation_for(job.client, recipient.id) if png else None
        if conversation:
            file_id = slack_calls.upload_file(job.client, png, filename=f"heard-trend-{job.period}.png",
                                              alt_text=delivery.CHART_TITLE)  # fmt: skip
            chart = (file_id, conversation) if file_id else None
        if delivery.queue_digest(job.session, workspace, job.period, digest, recipient, chart=chart,
                                 command=job.settings.heard_slash_command, now=job.now):  # fmt: skip
            report.queued.append(recipient.id)
        else:
            report.already.append(recipient.id)
    return str(report)


def encode_vectors(job: JobContext) -> None:
    """With the `heard[embeddings]` extra: encode the backlog's missing vectors, at most
    `service.ENCODE_BUDGET`, and commit them in a transaction of their own (kept even if
    the run fails later, and never held open while the LLM answers). Trouble with the
    model costs only the embeddings: the digest's themes come from TF-IDF then."""
    try:
        with Session(job.session.get_bind()) as session, session.begin():
            encoded = service.store_vectors(session, job.workspace_id, end=job.now)
    except Exception:  # the digest goes out without embeddings
        log.warning("Could not encode the digest's vectors; themes from TF-IDF", exc_info=True)
        return
    if encoded:
        log.info("Encoded %d feedback vector(s) for the digest", encoded)


JOBS = (
    JobSpec(name="leadership-digest", run=leadership_digest, period="week",
            description="Send leaders the weekly digest"),
)  # fmt: skip
