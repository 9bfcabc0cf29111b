"""The stories room as the tests drive it: Heard served against the fake Slack, Acme with
one Heard admin (Priya) and #customer-stories as the stories channel, a frozen clock, and
helpers that act as Slack's people do.

Import the fixture (`stories`) into a test module or conftest to use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db.models import OutboxMessage, Workspace
from bot.features.stories import service, views
from bot.features.stories.models import Reflection, Story, StoryEngagement, StoryPost
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due
from bot.workspace_settings import STORIES_CHANNEL, change_setting
from tests.people import ACME, GENERAL, HEARD, STORIES

# Monday 30 November 2026, 10:00 UTC: ISO week 2026-W49.
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)

STORY = {
    "title": "The night shift that stopped losing parcels",
    "customer": "Northwind Logistics",
    "what_happened": "Their night shift lost a parcel a week until the dock alerts reached the floor.",
    "learned": "Alerts belong where the work happens, not on a dashboard.",
}


@dataclass
class Stories:
    heard: object
    slack: object

    @property
    def runtime(self):
        return self.heard.runtime

    def at(self, moment: datetime) -> None:
        self.runtime.clock = lambda: moment

    # -- people acting in Slack ----------------------------------------------------------------

    def command(self, text: str, *, user: str, channel_id: str = GENERAL) -> dict:
        url = self.slack.response_url(ACME)
        response = self.heard.sender.command(text, team_id=ACME, user_id=user, channel_id=channel_id,
                                             response_url=url)  # fmt: skip
        assert response.status == 200, response.text
        self.heard.listeners.drain()
        return self.slack.slash_reply(response, url)

    def open_story_form(self, user: str) -> dict:
        before = len(self.slack.opened_views())
        self.command("story add", user=user)
        opened = self.slack.opened_views()
        assert len(opened) == before + 1
        return opened[-1]

    def submit(self, view: dict, *, user: str, anonymous: bool = False, **fields) -> dict:
        """Submit a story modal with STORY's fields, overridden by `fields`."""
        values = {name: {name: {"type": "plain_text_input", "value": value}}
                  for name, value in (STORY | {"link": ""} | fields).items()}  # fmt: skip
        values[views.ANONYMOUS] = {views.ANONYMOUS: {"type": "checkboxes", "selected_options": (
            [{"value": "yes", "text": {"type": "plain_text", "text": "Post without naming me"}}] if anonymous else [])}}
        return self._submit(view, user, values)

    def _submit(self, view: dict, user: str, values: dict) -> dict:
        payload = self.heard.sender.view_submission_payload(team_id=ACME, user_id=user, view=view, values=values)
        response = self.heard.sender.interaction(payload)
        self.heard.listeners.drain()
        assert response.status == 200, response.text
        return response.json() if response.body else {}

    def add_story(self, *, user: str, **fields) -> dict:
        return self.submit(self.open_story_form(user), user=user, **fields)

    def press(self, action_id: str, value, *, user: str, channel: str = STORIES, message: dict | None = None):
        message = message or {"ts": "1700000000.000100", "text": "story"}
        payload = self.heard.sender.block_actions_payload(
            team_id=ACME, user_id=user, channel_id=channel, message=message,
            action={"action_id": action_id, "block_id": "b", "type": "button", "value": str(value)},
        )  # fmt: skip
        response = self.heard.sender.interaction(payload)
        assert response.status == 200, response.text
        self.heard.listeners.drain()
        return self.slack.responses(payload["response_url"])

    def reflect(self, post_id: int, *, user: str, text: str, share: bool, view_changes: dict | None = None) -> dict:
        """Press Reflect and submit the modal it opens; `view_changes` alter what Slack sends
        back of the view (`{"id": None}`: a malformed submission without its id)."""
        before = len(self.slack.opened_views())
        self.press(views.REFLECT_ACTION, post_id, user=user)
        opened = self.slack.opened_views()
        assert len(opened) == before + 1
        values = {
            views.REFLECTION: {views.REFLECTION: {"type": "plain_text_input", "value": text}},
            views.SHARE: {views.SHARE: {"type": "checkboxes", "selected_options": (
                [{"value": "yes", "text": {"type": "plain_text", "text": "share"}}] if share else [])}},
        }  # fmt: skip
        return self._submit(opened[-1] | (view_changes or {}), user, values)

    def event(self, event: dict) -> None:
        response = self.heard.sender.event(event, team_id=ACME)
        assert response.status == 200, response.text
        self.heard.listeners.drain()

    def react(self, user: str, ts: str, name: str = "heart", *, removed: bool = False) -> None:
        kind = "reaction_removed" if removed else "reaction_added"
        self.event({"type": kind, "user": user, "reaction": name,
                    "item": {"type": "message", "channel": STORIES, "ts": ts}})  # fmt: skip

    def reply(self, user: str, thread_ts: str, text: str) -> dict:
        message = self.slack.post_as(user, STORIES, text, thread_ts=thread_ts)
        self.event({"type": "message", "channel": STORIES, "user": user, "text": text, "ts": message["ts"],
                    "thread_ts": thread_ts, "channel_type": "channel"})  # fmt: skip
        return message

    def delete_reply(self, ts: str, thread_ts: str) -> None:
        self.event({"type": "message", "subtype": "message_deleted", "channel": STORIES, "deleted_ts": ts,
                    "hidden": True, "previous_message": {"type": "message", "ts": ts, "thread_ts": thread_ts}})

    def home(self, user: str) -> dict:
        """Open the App Home as `user`; returns the view Heard published."""
        event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
        assert self.heard.sender.event(event, team_id=ACME).status == 200
        self.heard.listeners.drain()
        call = [c for c in self.slack.calls_to("views.publish") if c.args["user_id"] == user][-1]
        assert call.ok, call.error  # the fake validates the view against Block Kit
        return self.slack.published_home(user)

    # -- Heard's side ----------------------------------------------------------------------------

    def run_weekly(self, trigger: str = "schedule"):
        outcome = run_job(self.runtime, self.runtime.rooms.registry, "weekly-story", ACME, trigger=trigger)
        deliver_due(self.runtime)
        return outcome

    def set_channel(self, channel: str | None) -> None:
        with self.runtime.sessions.begin() as session:
            workspace = session.scalar(select(Workspace).where(Workspace.team_id == ACME))
            change_setting(session, workspace.id, STORIES_CHANNEL, channel, by=None, now=self.runtime.clock(),
                           action="test")  # fmt: skip

    # -- reading what happened ---------------------------------------------------------------------

    def stories(self) -> list[Story]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(Story).order_by(Story.id)))

    def posts(self) -> list[StoryPost]:
        """The week posts, with what Slack answered taken from the outbox (as Heard does
        before it reads them)."""
        with self.runtime.sessions.begin() as session:
            workspace = session.scalar(select(Workspace).where(Workspace.team_id == ACME))
            service.settle_posts(session, workspace, now=self.runtime.clock())
            return list(session.scalars(select(StoryPost).order_by(StoryPost.id)))

    def reflections(self) -> list[Reflection]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(Reflection).order_by(Reflection.id)))

    def engagements(self) -> list[tuple]:
        with self.runtime.sessions() as session:
            return list(session.execute(select(StoryEngagement.kind, StoryEngagement.user_id, StoryEngagement.ref)
                                        .order_by(StoryEngagement.id)).all())  # fmt: skip

    def posted(self) -> list[dict]:
        """Heard's top-level posts in #customer-stories."""
        return [m for m in self.slack.messages(STORIES) if m.get("user") == HEARD and m.get("thread_ts") in (None, m["ts"])]

    def dms(self, user: str) -> list[dict]:
        return [m for m in self.slack.messages(user) if m.get("user") == HEARD]

    def outbox(self, prefix: str = "") -> list[OutboxMessage]:
        with self.runtime.sessions() as session:
            return [m for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                    if m.idempotency_key.startswith(prefix)]  # fmt: skip


@pytest.fixture
def stories(workspace, heard_server, fake_slack) -> Stories:
    """Heard serving Acme: Priya is a Heard admin, #customer-stories the stories channel,
    the clock frozen on Monday 30 November 2026, 10:00 UTC."""
    workspace(admins=1)
    room = Stories(heard_server(), fake_slack)
    room.at(MONDAY)
    room.set_channel(STORIES)
    return room
