"""The decisions room as the tests drive it: Heard served against the fake Slack with two
departments (Support in #general with the @support group, Product in #leadership without
one) and #customer-feedback tracked, and one-line ways to act as Slack's people do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db import session_factory
from bot.features import load_rooms
from bot.features.admin.service import add_department
from bot.features.decisions import views
from bot.features.decisions.kinds import Field
from bot.features.decisions.models import Decision, DecisionLink, DecisionNudge, DecisionPrompt
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due
from tests.features.feedback.room import Feedback
from tests.people import ACME, FEEDBACK, GENERAL, HEARD, LEADERS, SUPPORT_GROUP

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 2026-W48, the default prompt time
SUPPORT, PRODUCT = "Support", "Product"


@dataclass
class Decisions(Feedback):
    """Heard with departments; `Feedback`'s helpers (post, react, command…) and more."""

    workspace_id: int = 0

    def at(self, moment: datetime) -> None:
        self.runtime.clock = lambda: moment

    def run(self, job: str, *, team_id: str = ACME, trigger: str = "schedule"):
        outcome = run_job(self.runtime, load_rooms().registry, job, team_id, trigger=trigger)
        deliver_due(self.runtime)
        return outcome

    def heard_posts(self, channel: str) -> list[dict]:
        return [m for m in self.slack.messages(channel) if m.get("user") == HEARD]

    # -- the modal --------------------------------------------------------------------------------

    def open_modal(self, *, user: str, channel: str = GENERAL) -> dict:
        """`/heard decision` in `channel`; returns the modal Heard opened."""
        before = len(self.slack.opened_views())
        reply = self.command("decision", user=user, channel_id=channel)
        opened = self.slack.opened_views()
        assert len(opened) == before + 1, reply
        return opened[-1]

    def press_log(self, department: str, *, user: str, channel: str = GENERAL) -> dict:
        """Press "Log a decision" on a prompt; returns the modal."""
        before = len(self.slack.opened_views())
        self.interact(self.heard.sender.block_actions_payload(
            team_id=ACME, user_id=user, channel_id=channel, message={"ts": "1700000000.000200", "text": "prompt"},
            action={"action_id": views.LOG_ACTION, "block_id": "decision_prompt", "type": "button",
                    "value": department},
        ))  # fmt: skip
        opened = self.slack.opened_views()
        assert len(opened) == before + 1
        return opened[-1]

    def submit(self, view: dict, *, user: str, department: str | None = SUPPORT, decided: str | None = "Ship it",
               impact: str | None = "helped", affected: str = "", evidence: str = "",
               links: tuple[str, ...] = (), name: str | None = None) -> dict:  # fmt: skip
        """Submit the modal as Slack would; returns Heard's answer to the submission."""
        values = {
            Field.DEPARTMENT: {Field.DEPARTMENT: {"type": "static_select", "selected_option":
                               {"value": department, "text": {"type": "plain_text", "text": department}}
                               if department else None}},
            Field.DECIDED: {Field.DECIDED: {"type": "plain_text_input", "value": decided}},
            Field.IMPACT: {Field.IMPACT: {"type": "radio_buttons", "selected_option":
                           {"value": impact} if impact else None}},
            Field.AFFECTED: {Field.AFFECTED: {"type": "plain_text_input", "value": affected}},
            Field.EVIDENCE: {Field.EVIDENCE: {"type": "plain_text_input", "value": evidence}},
            Field.LINKS: {views.LINKS_ACTION: {"type": "multi_external_select", "selected_options": [
                {"value": str(i), "text": {"type": "plain_text", "text": f"#{i}"}} for i in links]}},
        }  # fmt: skip
        payload = self.heard.sender.view_submission_payload(team_id=ACME, user_id=user, view=view, values=values)
        if name:
            payload["user"]["name"] = name
        response = self.heard.sender.interaction(payload)
        assert response.status == 200, response.text
        self.heard.listeners.drain()
        deliver_due(self.runtime)
        return response.json() if response.body else {}

    def options(self, query, *, user: str, team_id: str = ACME):
        """The linked-feedback picker asks Heard for options; returns the HTTP response."""
        return self.heard.sender.interaction({
            "type": "block_suggestion", "user": {"id": user, "name": user.lower(), "team_id": team_id},
            "team": {"id": team_id, "domain": team_id.lower()}, "api_app_id": "A0HEARD",
            "token": "fake-verification-token", "action_id": views.LINKS_ACTION, "block_id": Field.LINKS,
            "value": query, "container": {"type": "view", "view_id": "V0MODAL"},
            "view": {"id": "V0MODAL", "type": "modal", "callback_id": views.LOG_MODAL},
        })  # fmt: skip

    # -- reading what happened -----------------------------------------------------------------------

    def decisions(self) -> list[Decision]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(Decision).order_by(Decision.id)))

    def links(self) -> list[tuple[int, int]]:
        with self.runtime.sessions() as session:
            return list(session.execute(select(DecisionLink.decision_id, DecisionLink.feedback_id)
                                        .order_by(DecisionLink.id)).all())  # fmt: skip

    def prompts(self) -> list[tuple[str, str]]:
        with self.runtime.sessions() as session:
            return list(session.execute(select(DecisionPrompt.department, DecisionPrompt.period)
                                        .order_by(DecisionPrompt.id)).all())  # fmt: skip

    def nudges(self) -> list[tuple[str, str, str]]:
        with self.runtime.sessions() as session:
            return list(session.execute(select(DecisionNudge.department, DecisionNudge.period, DecisionNudge.via)
                                        .order_by(DecisionNudge.id)).all())  # fmt: skip


@pytest.fixture
def decisions(workspace, heard_server, fake_slack, engine) -> Decisions:
    """Heard serving Acme: Support (#general, @support) and Product (#leadership), feedback
    tracked in #customer-feedback, Maya an admin."""
    built = workspace(feedback_channels=[FEEDBACK], admins=[])
    with session_factory(engine).begin() as session:
        add_department(session, built.id, SUPPORT, GENERAL, SUPPORT_GROUP, by=None, now=TUESDAY)
        add_department(session, built.id, PRODUCT, LEADERS, None, by=None, now=TUESDAY)
    return Decisions(heard_server(), fake_slack, workspace_id=built.id)
