"""The feedback room as the tests drive it: Heard served against the fake Slack, with Acme's
#customer-feedback tracked, and helpers that act as Slack's people do.

Import the fixtures (`feedback`, `untracked`) into a test module or conftest to use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.db.models import OutboxMessage, Workspace
from bot.features.feedback.config import FEEDBACK_CHANNELS
from bot.features.feedback.models import Acknowledgement, FeedbackItem
from bot.workspace_settings import change_setting
from tests.people import ACME, FEEDBACK, GENERAL, HEARD


@dataclass
class Feedback:
    """Heard with a feedback channel, and one-line ways to make Slack things happen."""

    heard: object
    slack: object

    @property
    def runtime(self):
        return self.heard.runtime

    def event(self, event: dict, **kwargs):
        response = self.heard.sender.event(event, team_id=kwargs.pop("team_id", ACME), **kwargs)
        assert response.status == 200, response.text
        self.heard.listeners.drain()
        return response

    def post(self, user: str, text: str, *, channel: str = FEEDBACK, thread_ts: str | None = None,
             **extra) -> dict:  # fmt: skip
        """A person posts (in a thread with `thread_ts`); Heard gets the event."""
        message = self.slack.post_as(user, channel, text, thread_ts=thread_ts)
        event = {"type": "message", "channel": channel, "user": user, "text": text,
                 "ts": message["ts"], "channel_type": "channel", "team": ACME, **extra}  # fmt: skip
        if thread_ts:
            event["thread_ts"] = thread_ts
        self.event(event)
        return message

    def react(self, user: str, ts: str, name: str = "eyes", *, channel: str = FEEDBACK,
              removed: bool = False, **kwargs):  # fmt: skip
        if not removed:
            try:
                self.slack.react_as(user, channel, ts, name)
            except KeyError:
                pass  # a reaction on a message the fake does not have: only the event matters
        kind = "reaction_removed" if removed else "reaction_added"
        return self.event({"type": kind, "user": user, "reaction": name,
                           "item": {"type": "message", "channel": channel, "ts": ts}}, **kwargs)  # fmt: skip

    def delete(self, ts: str, *, channel: str = FEEDBACK, thread_ts: str | None = None, **kwargs):
        previous = {"type": "message", "ts": ts, "text": "gone"}
        if thread_ts:
            previous["thread_ts"] = thread_ts
        return self.event({"type": "message", "subtype": "message_deleted", "channel": channel,
                           "deleted_ts": ts, "hidden": True, "previous_message": previous}, **kwargs)  # fmt: skip

    def command(self, text: str, *, user: str, team_id: str = ACME, channel_id: str = GENERAL) -> dict:
        url = self.slack.response_url(team_id)
        response = self.heard.sender.command(text, team_id=team_id, user_id=user, channel_id=channel_id,
                                             response_url=url)  # fmt: skip
        assert response.status == 200, response.text
        self.heard.listeners.drain()
        return self.slack.slash_reply(response, url)

    def interact(self, payload: dict):
        response = self.heard.sender.interaction(payload)
        assert response.status == 200, response.text
        self.heard.listeners.drain()
        return response

    def press(self, action_id: str, item_id: int, *, user: str, message: dict | None = None,
              channel: str = FEEDBACK):  # fmt: skip
        message = message or {"ts": "1700000000.000100", "text": "card"}
        payload = self.heard.sender.block_actions_payload(
            team_id=ACME, user_id=user, channel_id=channel, message=message,
            action={"action_id": action_id, "block_id": f"feedback_actions_{item_id}",
                    "type": "button", "value": str(item_id)},
        )  # fmt: skip
        return self.interact(payload)

    # -- reading what happened ---------------------------------------------------------------

    def items(self) -> list[FeedbackItem]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))

    def item(self, ts: str, channel: str = FEEDBACK) -> FeedbackItem | None:
        with self.runtime.sessions() as session:
            return session.scalar(select(FeedbackItem).where(FeedbackItem.channel_id == channel,
                                                             FeedbackItem.message_ts == ts))  # fmt: skip

    def acks(self) -> list[tuple]:
        with self.runtime.sessions() as session:
            return list(session.execute(select(Acknowledgement.kind, Acknowledgement.user_id, Acknowledgement.ref)
                                        .order_by(Acknowledgement.id)).all())  # fmt: skip

    def outbox(self, prefix: str = "") -> list[OutboxMessage]:
        with self.runtime.sessions() as session:
            return [m for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                    if m.idempotency_key.startswith(prefix)]  # fmt: skip

    def dms(self, user: str) -> list[dict]:
        return [m for m in self.slack.messages(user) if m.get("user") == HEARD]

    def track(self, *channels: str) -> None:
        """Make `channels` the feedback channels (none: no feedback channel at all)."""
        with self.runtime.sessions.begin() as session:
            workspace = session.scalar(select(Workspace).where(Workspace.team_id == ACME))
            change_setting(session, workspace.id, FEEDBACK_CHANNELS, list(channels), by=None,
                           now=self.runtime.clock(), action="test")  # fmt: skip


@pytest.fixture
def feedback(workspace, heard_server, fake_slack) -> Feedback:
    """Heard serving Acme, #customer-feedback tracked (no backfill: tests post what they need)."""
    workspace(feedback_channels=[FEEDBACK])
    return Feedback(heard_server(), fake_slack)


@pytest.fixture
def untracked(heard_server, fake_slack) -> Feedback:
    """Heard serving Acme with no feedback channel yet."""
    return Feedback(heard_server(), fake_slack)
