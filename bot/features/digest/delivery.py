"""The digest's delivery rules: who gets this period's digest, once, and what a leader's
buttons record. No Slack calls here: posts are queued in the outbox under keys.

- **Once per recipient and period.** Each leader (by DM) and the digest channel, when
  set, get one digest per period (the job's week). A `digest_deliveries` row, unique per
  workspace, period and recipient, is written in the transaction that queues the post
  (`digest:T:R:2026-W48`) and its chart (`digest-chart:T:R:2026-W48`, shared 30 seconds
  later by `files.completeUploadExternal`); a retried, re-run or concurrent job finds the
  row or the keys and queues nothing. The chart is a post of its own so that a chart
  Slack refuses never takes the digest with it.
- **A leader who left** (deactivated, or unknown to Slack) is skipped; Heard's admins are
  told once per leader (`digest-left:T:U:ADMIN`), not every week.
- **Assign to department** records who asked which department to look at an item, and
  where they pressed the button; the department's channel gets the item once per
  department (`digest-assign:T:ITEM:DEPARTMENT`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.admin import queries as admin
from bot.features.digest import views
from bot.features.digest.models import DigestAssignment, DigestDelivery
from bot.features.digest.service import Digest
from bot.features.feedback import queries as feedback
from bot.roles import known_admins
from bot.rooms import ExportFile, ForgetRequest, Forgotten
from bot.slack.blocks import channel_link, escape, mention
from bot.slack.outbox import enqueue
from bot.workspace_settings import load_config

CHART_TITLE = "Customer feedback: received vs ignored, last 12 weeks"
CHART_COMMENT = "The digest's trend: customer feedback received vs ignored per week, last 12 weeks."
CHART_AFTER = timedelta(seconds=30)  # after its digest, which goes first


class DigestError(Exception):
    """A digest request that cannot be done; the message is one line for a person."""


@dataclass(frozen=True)
class Recipient:
    id: str  # a user id (a leader's DM) or a channel id
    kind: str  # leader | channel


@dataclass
class DeliveryReport:
    queued: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"digest queued for {len(self.queued)} recipient(s)"]
        if self.already:
            parts.append(f"{len(self.already)} already had this period's")
        if self.left:
            parts.append(f"{len(self.left)} leader(s) who left skipped")
        return "; ".join(parts)


def recipients(session: Session, workspace_id: int) -> list[Recipient]:
    """The workspace's leaders (by DM), then the digest channel when one is set."""
    found = [Recipient(user, "leader") for user in admin.leaders(session, workspace_id)]
    channel = load_config(session, workspace_id).digest_channel
    if channel:
        found.append(Recipient(channel, "channel"))
    return found


def delivered(session: Session, workspace_id: int, period: str) -> set[str]:
    """Recipients this period's digest was already queued for."""
    return set(session.scalars(select(DigestDelivery.recipient).where(
        DigestDelivery.workspace_id == workspace_id, DigestDelivery.period == period)))  # fmt: skip


def digest_key(team_id: str, recipient: str, period: str) -> str:
    return f"digest:{team_id}:{recipient}:{period}"


def chart_key(team_id: str, recipient: str, period: str) -> str:
    return f"digest-chart:{team_id}:{recipient}:{period}"


def queue_digest(session: Session, workspace: Workspace, period: str, digest: Digest, recipient: Recipient, *,
                 chart: tuple[str, str] | None, command: str, now: datetime) -> bool:  # fmt: skip
    """Queue `digest` for `recipient`, once per period, with its chart when `chart` (an
    uploaded file's id and the conversation to share it in) is given. False when this
    period's digest was already queued for them."""
    try:
        with session.begin_nested():
            session.add(DigestDelivery(workspace_id=workspace.id, period=period, recipient=recipient.id,
                                       kind=recipient.kind, queued_at=now))  # fmt: skip
    except IntegrityError:
        return False
    text, blocks = views.render_blocks(digest, command=command)
    _, created = enqueue(
        session, workspace_id=workspace.id, key=digest_key(workspace.team_id, recipient.id, period),
        method="chat.postMessage",
        payload={"channel": recipient.id, "text": text, "blocks": blocks, "unfurl_links": False,
                 "unfurl_media": False},
        now=now,
    )  # fmt: skip
    if chart is not None and created:
        # Its own post, a little later: a chart Slack no longer accepts (an upload left
        # too long by an outage) can fail without taking the digest with it.
        file_id, conversation = chart
        enqueue(
            session, workspace_id=workspace.id, key=chart_key(workspace.team_id, recipient.id, period),
            method="files.completeUploadExternal",
            payload={"files": [{"id": file_id, "title": CHART_TITLE}], "channel_id": conversation,
                     "initial_comment": CHART_COMMENT},
            now=now, not_before=now + CHART_AFTER,
        )  # fmt: skip
    return created


def tell_admins_leader_left(session: Session, workspace: Workspace, leader: str, *, command: str,
                            now: datetime) -> int:  # fmt: skip
    """Tell each of Heard's admins, once ever per leader, that a leader who left the
    workspace is not getting the digest. Returns how many messages were queued."""
    text = (f"{mention(leader)} is a digest leader but is no longer in this workspace, so Heard skipped "
            f"their leadership digest. `{escape(command)} leader remove` them, or add who should get it "
            f"with `{escape(command)} leader add @person`.")  # fmt: skip
    queued = 0
    for admin_id in known_admins(session, workspace.id):
        _, created = enqueue(
            session, workspace_id=workspace.id, key=f"digest-left:{workspace.team_id}:{leader}:{admin_id}",
            method="chat.postMessage", payload={"channel": admin_id, "text": text}, now=now,
        )  # fmt: skip
        queued += created
    return queued


# -- buttons -----------------------------------------------------------------------------------------


def department_names(session: Session, workspace_id: int) -> list[str]:
    return [d.name for d in admin.departments(session, workspace_id)]


@dataclass(frozen=True)
class Assigned:
    department: str
    channel_id: str | None
    created: bool  # False: it was already assigned to that department


def assign_to_department(session: Session, workspace: Workspace, item_id: str, department: str, *, by: str,
                         where: str | None, now: datetime) -> Assigned:  # fmt: skip
    """Record that `by` asked `department` to look at the item (pressed in `where`) and
    post the item in the department's channel, once per item and department."""
    found = next((d for d in admin.departments(session, workspace.id) if d.name == department), None)
    if found is None:
        raise DigestError(f"There is no department called {escape(department[:80])} any more.")
    [item] = feedback.by_ids(session, workspace.id, [item_id]) or [None]
    if item is None:
        raise DigestError("That feedback item does not exist any more.")
    try:
        with session.begin_nested():
            session.add(DigestAssignment(workspace_id=workspace.id, feedback_id=int(item.id), department=found.name,
                                         assigned_by=by, channel_id=where, assigned_at=now))  # fmt: skip
    except IntegrityError:
        return Assigned(found.name, found.channel_id, False)
    if found.channel_id:
        text, blocks = views.assignment_post(item.text, item.permalink, found.name, by, item.id)
        enqueue(
            session, workspace_id=workspace.id, key=f"digest-assign:{workspace.team_id}:{item.id}:{found.name}",
            method="chat.postMessage",
            payload={"channel": found.channel_id, "text": text, "blocks": blocks, "unfurl_links": False},
            now=now,
        )  # fmt: skip
    return Assigned(found.name, found.channel_id, True)


def assigned_reply(assigned: Assigned) -> str:
    where = f" and posted it in {channel_link(assigned.channel_id)}" if assigned.channel_id else ""
    if not assigned.created:
        return f"It was already assigned to *{escape(assigned.department)}*."
    return f"Assigned to *{escape(assigned.department)}*{where}."


def forget(request: ForgetRequest) -> list[Forgotten]:
    """Assignments stay (the department was asked) without naming who asked; the ledger
    rows of the person's digests are deleted."""
    anonymised = request.session.execute(
        update(DigestAssignment)
        .where(DigestAssignment.workspace_id == request.workspace_id, DigestAssignment.assigned_by == request.user_id)
        .values(assigned_by=None).execution_options(synchronize_session=False)
    ).rowcount or 0  # fmt: skip
    deleted = request.session.execute(
        delete(DigestDelivery).where(DigestDelivery.workspace_id == request.workspace_id,
                                     DigestDelivery.recipient == request.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount or 0  # fmt: skip
    return [Forgotten("digest_assignments_anonymised", anonymised, "digest assignment", "digest assignments",
                      "anonymised"),
            Forgotten("digest_deliveries_deleted", deleted, "digest delivery record", "digest delivery records",
                      "deleted")]  # fmt: skip


def _assignment_rows(session: Session, team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.scalars(
        select(DigestAssignment).where(DigestAssignment.workspace_id.in_(list(team_of)))
        .order_by(DigestAssignment.workspace_id, DigestAssignment.assigned_at, DigestAssignment.id)
    )  # fmt: skip
    for a in rows:
        yield (a.feedback_id, team_of[a.workspace_id], a.department, a.assigned_by, a.assigned_at, a.channel_id)


ASSIGNMENTS_EXPORT = ExportFile(
    "digest_assignments.csv",
    ("feedback_id", "team_id", "department", "assigned_by", "assigned_at", "channel"),
    _assignment_rows,
)
