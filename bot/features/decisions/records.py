"""What the decisions room holds about people, and what it exports: its `/heard forget`
and `heard export` parts (see `bot.rooms`)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.decisions import views
from bot.features.decisions.models import Decision, DecisionLink
from bot.rooms import ExportFile, ForgetRequest, Forgotten
from bot.slack.outbox import rewrite_payloads

DECISION_COLUMNS = ("id", "team_id", "department", "author", "logged_at", "impact", "decision",
                    "affected", "evidence", "linked_feedback")  # fmt: skip
LINK_COLUMNS = ("decision_id", "team_id", "feedback_id", "linked_at")
# Columns of words people wrote in the decision modal, which may mention someone.
DECISION_TEXT_COLUMNS = ("title", "decided", "affected", "evidence")
BATCH = 500


def forget(request: ForgetRequest) -> list[Forgotten]:
    """A decision belongs to its department and stays; it no longer names its author,
    who becomes the stand-in (so "distinct authors" still counts them once), nor mentions
    them in its words (anyone's decision: `ForgetRequest.forget_mentions`), and the channel
    summaries of their decisions Heard still holds no longer name them either."""
    _unname_summaries(request.session, request.workspace_id, request.user_id)
    anonymised = request.session.execute(
        update(Decision)
        .where(Decision.workspace_id == request.workspace_id, Decision.author_user_id == request.user_id)
        .values(author_user_id=request.stand_in)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    mentioned = request.forget_mentions(Decision, DECISION_TEXT_COLUMNS, Decision.workspace_id == request.workspace_id)
    return [
        Forgotten("decisions_anonymised", anonymised, "decision", "decisions", "anonymised"),
        Forgotten("decision_mentions_anonymised", mentioned, "decision mentioning them", "decisions mentioning them",
                  "anonymised"),
    ]  # fmt: skip


def _unname_summaries(session: Session, workspace_id: int, user_id: str) -> None:
    team_id = session.scalar(select(Workspace.team_id).where(Workspace.id == workspace_id))
    authored = {
        f"decision-summary:{team_id}:{decision.id}": decision
        for decision in session.scalars(
            select(Decision).where(Decision.workspace_id == workspace_id, Decision.author_user_id == user_id))
    }  # fmt: skip
    if not authored:
        return
    linked = dict(session.execute(
        select(DecisionLink.decision_id, func.count()).where(
            DecisionLink.decision_id.in_([d.id for d in authored.values()])).group_by(DecisionLink.decision_id)
    ).all())  # fmt: skip

    def unnamed(key: str, payload: dict) -> dict:
        decision = authored[key]
        text, blocks = views.summary(decision, linked.get(decision.id, 0), None)
        return {**payload, "text": text, "blocks": blocks}

    rewrite_payloads(session, authored, unnamed)


def _decision_rows(session: Session, team_of: dict[int, str]) -> Iterator[tuple]:
    links: dict[int, list[str]] = {}
    for decision_id, feedback_id in session.execute(
        select(DecisionLink.decision_id, DecisionLink.feedback_id)
        .join(Decision, Decision.id == DecisionLink.decision_id)
        .where(Decision.workspace_id.in_(list(team_of)))
        .order_by(DecisionLink.decision_id, DecisionLink.id)
    ):
        links.setdefault(decision_id, []).append(str(feedback_id))
    rows = session.scalars(
        select(Decision).where(Decision.workspace_id.in_(list(team_of)))
        .order_by(Decision.workspace_id, Decision.logged_at, Decision.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for d in rows:
        yield (d.id, team_of[d.workspace_id], d.department, d.author_user_id, d.logged_at, d.impact,
               d.decided, d.affected, d.evidence, " ".join(links.get(d.id, [])))  # fmt: skip


def _link_rows(session: Session, team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.execute(
        select(DecisionLink.decision_id, Decision.workspace_id, DecisionLink.feedback_id, DecisionLink.linked_at)
        .join(Decision, Decision.id == DecisionLink.decision_id)
        .where(Decision.workspace_id.in_(list(team_of)))
        .order_by(Decision.workspace_id, DecisionLink.decision_id, DecisionLink.id)
    )  # fmt: skip
    for decision_id, workspace_id, feedback_id, linked_at in rows:
        yield (decision_id, team_of[workspace_id], feedback_id, linked_at)


DECISIONS_EXPORT = ExportFile("decisions.csv", DECISION_COLUMNS, _decision_rows)
LINKS_EXPORT = ExportFile("decision_links.csv", LINK_COLUMNS, _link_rows)
