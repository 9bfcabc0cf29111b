"""Decision-log rules: logging a decision, prompting departments, nudging silent ones.

- A decision is stored once per modal (its view id is the submission key), with its
  author, time, department (by name: removing the department later keeps the decision
  under the name it was logged with) and the feedback it links. Linking an item
  acknowledges it through the feedback room (`feedback.queries.acknowledge_by_decision`),
  which tells its reporter.
- `decision-prompts` asks each department once per period: a unique
  (workspace, department, period) row decides, whatever retries, clocks, manual runs
  or concurrent processes do, and the post's outbox key says the same.
- `decision-nudges` reminds, once per period, a department prompted this period that
  has logged nothing since the prompt: in its channel, or by DM to its user group.

Posts go through the outbox in the same transaction as the row that causes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.admin import queries as admin
from bot.features.decisions import views
from bot.features.decisions.config import nudge_via
from bot.features.decisions.kinds import Field, Impact, NudgeVia
from bot.features.decisions.models import Decision, DecisionLink, DecisionNudge, DecisionPrompt
from bot.features.feedback import queries as feedback
from bot.slack.blocks import truncate
from bot.slack.markup import is_conversation_id, is_user_id
from bot.slack.outbox import enqueue

log = logging.getLogger(__name__)

TITLE_LIMIT = 150
MAX_DM_NUDGES = 50  # a user group larger than this is nudged in its channel instead


class DecisionError(Exception):
    """A decision that cannot be logged as submitted; `errors` maps a modal field to a
    one-line message for a person (shown inline, nothing stored)."""

    def __init__(self, errors: dict[Field, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Submission:
    """What the decision modal submitted, as text (validated by `log_decision`)."""

    author_user_id: str
    department: str | None
    decided: str | None
    impact: str | None
    affected: str | None = None
    evidence: str | None = None
    feedback_ids: tuple[str, ...] = ()
    submission_key: str | None = None  # the modal's view id: a second submit is the same decision
    author_name: str | None = None  # shown in the channel summary (a name, never a mention)
    # The departments' channels when the modal opened, so a department removed before the
    # submit still has its decision logged under its name.
    known_channels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Logged:
    decision: Decision
    created: bool
    linked: tuple[str, ...]  # feedback ids
    acknowledged: tuple[str, ...]  # those the link acknowledged (their reporters are told)


def clean(text: str | None) -> str:
    """Text as stored: NULs dropped, lone surrogates replaced, ends trimmed."""
    text = (text or "").replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text.strip()


def log_decision(session: Session, workspace: Workspace, submission: Submission, *, now: datetime) -> Logged:
    """Store a decision once, link its feedback (acknowledging each item and telling its
    reporter) and queue the compact summary for the department's channel.

    Refuses with `DecisionError` (nothing stored): a missing department, decision or
    impact; text over its limit; a department Heard never offered; a linked feedback id
    that does not exist in this workspace. A submission already stored (same key) returns
    the stored decision, `created=False`, and changes nothing.
    """
    errors: dict[Field, str] = {}
    decided, affected, evidence = clean(submission.decided), clean(submission.affected), clean(submission.evidence)
    if not decided:
        errors[Field.DECIDED] = "Say what was decided."
    elif len(decided) > views.MAX_DECIDED:
        errors[Field.DECIDED] = f"Keep it to {views.MAX_DECIDED} characters (this is {len(decided)})."
    if submission.impact not in set(Impact):
        errors[Field.IMPACT] = "Choose how the decision affects customers."
    if len(affected) > views.MAX_AFFECTED:
        errors[Field.AFFECTED] = f"Keep it to {views.MAX_AFFECTED} characters (this is {len(affected)})."
    if len(evidence) > views.MAX_EVIDENCE:
        errors[Field.EVIDENCE] = f"Keep it to {views.MAX_EVIDENCE} characters (this is {len(evidence)})."
    department, channel = _department(session, workspace.id, submission, errors)
    items = _linkable(session, workspace.id, submission.feedback_ids, errors)
    if errors:
        raise DecisionError(errors)
    key = (submission.submission_key or "")[:64] or None
    if key is not None:
        existing = _submitted(session, workspace.id, key)
        if existing is not None:
            return Logged(existing, False, _links_of(session, existing.id), ())
    decision = Decision(
        workspace_id=workspace.id, department=department, channel_id=channel,
        author_user_id=submission.author_user_id, title=truncate(" ".join(decided.split()), TITLE_LIMIT),
        decided=decided, impact=Impact(submission.impact), affected=affected or None,
        evidence=evidence or None, logged_at=now, submission_key=key,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(decision)
    except IntegrityError:  # the same modal submitted twice at once: the other one stored it
        existing = _submitted(session, workspace.id, key) if key else None
        if existing is None:
            raise
        return Logged(existing, False, _links_of(session, existing.id), ())
    acknowledged = []
    for item in items:
        session.add(DecisionLink(decision_id=decision.id, feedback_id=int(item.id), linked_at=now))
        if feedback.acknowledge_by_decision(session, workspace.id, item.id, user_id=submission.author_user_id,
                                            decision_ref=f"decision:{decision.id}", now=now):  # fmt: skip
            acknowledged.append(item.id)
    session.flush()
    if channel:
        text, blocks = views.summary(decision, len(items), submission.author_name)
        enqueue(
            session, workspace_id=workspace.id, key=f"decision-summary:{workspace.team_id}:{decision.id}",
            method="chat.postMessage",
            payload={"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False,
                     "unfurl_media": False},
            now=now,
        )  # fmt: skip
    return Logged(decision, True, tuple(item.id for item in items), tuple(acknowledged))


def _department(session: Session, workspace_id: int, submission: Submission,
                errors: dict[Field, str]) -> tuple[str, str | None]:  # fmt: skip
    """The department's name and channel: one that exists now, else one the modal
    offered that was removed since (kept under its name, posted where it was)."""
    name = " ".join((submission.department or "").split())
    if not name:
        errors[Field.DEPARTMENT] = "Choose the department that decided."
        return "", None
    for known in admin.departments(session, workspace_id):
        if known.name.lower() == name.lower():
            return known.name, known.channel_id
    if name in submission.known_channels:
        channel = submission.known_channels[name]
        return name, channel if is_conversation_id(channel) else None
    errors[Field.DEPARTMENT] = "There is no such department; choose one from the list."
    return name, None


def _linkable(session: Session, workspace_id: int, ids: tuple[str, ...],
              errors: dict[Field, str]) -> list[feedback.FeedbackSummary]:  # fmt: skip
    wanted = list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))
    if len(wanted) > views.MAX_LINKS:
        errors[Field.LINKS] = f"Link at most {views.MAX_LINKS} pieces of feedback."
        return []
    found = feedback.by_ids(session, workspace_id, wanted)
    missing = sorted(set(wanted) - {item.id for item in found})
    if missing:
        shown = ", ".join(f"#{truncate(i, 20)}" for i in missing[:3])
        errors[Field.LINKS] = f"Feedback {shown} is not in this workspace's Heard (it may have been deleted)."
        return []
    return found


def _submitted(session: Session, workspace_id: int, key: str) -> Decision | None:
    return session.scalar(select(Decision).where(Decision.workspace_id == workspace_id, Decision.submission_key == key))


def _links_of(session: Session, decision_id: int) -> tuple[str, ...]:
    ids = session.scalars(select(DecisionLink.feedback_id).where(DecisionLink.decision_id == decision_id)
                          .order_by(DecisionLink.id))  # fmt: skip
    return tuple(str(i) for i in ids)


# -- prompts and nudges ---------------------------------------------------------------------------


@dataclass
class PromptReport:
    prompted: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{len(self.prompted)} department(s) prompted"
        return text + (f", {len(self.already)} already prompted this period" if self.already else "")


def send_prompts(session: Session, workspace: Workspace, period: str, *, command: str, now: datetime) -> PromptReport:
    """Ask each department, in its channel, to log a decision: once per department and
    period. The (workspace, department, period) row is inserted first; whoever fails to
    insert it (a retry, a second process, a manual run) posts nothing."""
    report = PromptReport()
    if workspace.paused:
        return report
    for department in admin.departments(session, workspace.id):
        row = DecisionPrompt(workspace_id=workspace.id, department=department.name,
                             channel_id=department.channel_id, period=period, prompted_at=now)  # fmt: skip
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            report.already.append(department.name)
            continue
        text, blocks = views.prompt(department.name, command)
        enqueue(
            session, workspace_id=workspace.id, method="chat.postMessage", now=now,
            key=f"decision-prompt:{workspace.team_id}:{period}:{department.name.lower()}",
            payload={"channel": department.channel_id, "text": text, "blocks": blocks,
                     "unfurl_links": False, "unfurl_media": False},
        )  # fmt: skip
        report.prompted.append(department.name)
    return report


@dataclass(frozen=True)
class Silent:
    """A department prompted this period that has logged nothing since."""

    department: str
    channel_id: str
    usergroup_id: str | None
    prompted_at: datetime


def silent_departments(session: Session, workspace_id: int, period: str) -> list[Silent]:
    """Departments that exist, were prompted in `period`, and logged no decision since."""
    current = {d.name: d for d in admin.departments(session, workspace_id)}
    prompts = session.scalars(
        select(DecisionPrompt).where(DecisionPrompt.workspace_id == workspace_id, DecisionPrompt.period == period)
        .order_by(DecisionPrompt.department)
    )  # fmt: skip
    silent = []
    for row in prompts:
        department = current.get(row.department)
        if department is None:
            continue
        logged = session.scalar(
            select(func.count()).select_from(Decision).where(
                Decision.workspace_id == workspace_id, func.lower(Decision.department) == row.department.lower(),
                Decision.logged_at >= row.prompted_at,
            )
        )  # fmt: skip
        if not logged:
            silent.append(Silent(department.name, department.channel_id, department.usergroup_id, row.prompted_at))
    return silent


@dataclass
class NudgeReport:
    in_channel: list[str] = field(default_factory=list)
    by_dm: dict[str, int] = field(default_factory=dict)  # department -> people
    already: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{len(self.in_channel) + len(self.by_dm)} silent department(s) nudged"]
        if self.by_dm:
            parts.append(f"{sum(self.by_dm.values())} DM(s)")
        if self.already:
            parts.append(f"{len(self.already)} already nudged this period")
        return ", ".join(parts)


GroupMembers = Callable[[str], "list[str] | None"]
"""A user group's member ids, or None when Slack would not say."""


def send_nudges(session: Session, workspace: Workspace, period: str, *, command: str, now: datetime,
                members: GroupMembers) -> NudgeReport:  # fmt: skip
    """Remind each silent department once per period: in its channel, or, when the
    workspace chose DMs, each member of its user group (a department without a readable
    user group is nudged in its channel). A department that logged gets nothing."""
    report = NudgeReport()
    if workspace.paused:
        return report
    via = nudge_via(session, workspace.id)
    for silent in silent_departments(session, workspace.id, period):
        people = None
        if via == NudgeVia.DM and silent.usergroup_id:
            found = members(silent.usergroup_id)
            if found:
                people = [user for user in dict.fromkeys(found) if is_user_id(user)][:MAX_DM_NUDGES]
        row = DecisionNudge(workspace_id=workspace.id, department=silent.department, period=period,
                            via=NudgeVia.DM if people else NudgeVia.CHANNEL, nudged_at=now)  # fmt: skip
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            report.already.append(silent.department)
            continue
        key = f"decision-nudge:{workspace.team_id}:{period}:{silent.department.lower()}"
        if people:
            text, blocks = views.nudge(silent.department, command, direct=True)
            for user in people:
                enqueue(session, workspace_id=workspace.id, method="chat.postMessage", now=now, key=f"{key}:{user}",
                        payload={"channel": user, "text": text, "blocks": blocks})  # fmt: skip
            report.by_dm[silent.department] = len(people)
        else:
            text, blocks = views.nudge(silent.department, command, direct=False)
            enqueue(session, workspace_id=workspace.id, method="chat.postMessage", now=now, key=key,
                    payload={"channel": silent.channel_id, "text": text, "blocks": blocks})  # fmt: skip
            report.in_channel.append(silent.department)
    return report


# -- reading -------------------------------------------------------------------------------------------


def recent_decisions(session: Session, workspace_id: int, departments: list[str], *, limit: int = 5) -> list[Decision]:
    """The newest decisions of these departments (by name, any case)."""
    if not departments:
        return []
    names = [name.lower() for name in departments]
    return list(session.scalars(
        select(Decision).where(Decision.workspace_id == workspace_id, func.lower(Decision.department).in_(names))
        .order_by(Decision.logged_at.desc(), Decision.id.desc()).limit(limit)
    ))  # fmt: skip


def department_names(session: Session, workspace_id: int) -> list[str]:
    return [d.name for d in admin.departments(session, workspace_id)]
