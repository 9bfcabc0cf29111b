"""Authorization (issue 20): every admin command, admin button and admin modal, tried by a
user of another workspace, by the same user id that is an admin in another workspace
(an Enterprise Grid id), and by a non-admin: refused, nothing changed in the database,
nothing written to Slack but the refusal.

Heard runs multi-workspace (OAuth) with Acme and Globex installed on one database.
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from bot.db.models import Workspace
from bot.features.admin import views as admin_views
from bot.features.admin.handlers import SETTINGS
from bot.features.feedback.setup import SETUP_ACTION, SETUP_MODAL
from bot.features.stories import views as story_views
from bot.features.stories.models import Story
from bot.sandbox.workspace import SeedUser, demo_workspace
from tests.features.admin.helpers import WRITES, shown, slash, state
from tests.features.admin.test_commands import ADMIN_ONLY, EXAMPLES
from tests.people import ACME, GLOBEX, HANK, MAYA, PRIYA
from tests.sandbox.test_oauth import install

SHARED = "W0SHARED01"  # one Enterprise Grid person: an admin in Globex, a member in Acme


def member(admin: bool) -> SeedUser:
    return SeedUser(SHARED, "grid", "Grid Person", is_admin=admin, email="grid@example.com")


@pytest.fixture
def acme(seed_now):
    seed = demo_workspace(seed_now)
    return dataclasses.replace(seed, users=(*seed.users, member(False)))


@pytest.fixture
def heard(heard_server, fake_slack, acme, globex):
    fake_slack.add_workspace(dataclasses.replace(globex, users=(*globex.users, member(True))))
    heard = heard_server(oauth=True)
    assert install(heard, fake_slack, acme, MAYA).status == 200
    assert install(heard, fake_slack, globex, HANK).status == 200
    return heard


def snapshot(runtime) -> dict:
    found = state(runtime)
    found.pop("outbox")  # a refusal made after the ack is a DM, through the outbox
    with runtime.sessions() as session:
        found["stories"] = sorted(session.execute(select(Story.id, Story.state, Story.title)).all())
    return found


def writes(fake_slack) -> list[str]:
    return [c.method for c in fake_slack.calls if c.method in WRITES]


CALLERS = [
    pytest.param(HANK, id="globex-owner-in-acme"),
    pytest.param(SHARED, id="same-id-admin-only-in-globex"),
    pytest.param(PRIYA, id="acme-non-admin"),
]


@pytest.mark.parametrize("caller", CALLERS)
def test_every_admin_command_is_refused(heard, fake_slack, caller):
    slash(heard, "help")  # Maya, Acme's installer and primary owner
    slash(heard, "pause", user_id=HANK, team_id=GLOBEX)  # Globex's admin is one there
    before = snapshot(heard.runtime)
    for name in ADMIN_ONLY:
        fake_slack.reset_calls()
        reply = shown(slash(heard, EXAMPLES[name], user_id=caller, team_id=ACME))
        assert "Only Heard admins" in reply or "not" in reply.lower(), (name, reply)
        assert snapshot(heard.runtime) == before, name
        assert writes(fake_slack) == [], (name, writes(fake_slack))


def button(heard, caller: str, action_id: str, value: str = "") -> None:
    payload = heard.sender.block_actions_payload(
        team_id=ACME, user_id=caller, view={"id": "V0HOME0001", "type": "home"},
        action={"action_id": action_id, "block_id": "b", "type": "button", "value": value})  # fmt: skip
    assert heard.sender.interaction(payload).status == 200
    heard.listeners.drain()


def modal(heard, caller: str, callback_id: str, values: dict):
    view = {"id": "V0FORGED09", "type": "modal", "callback_id": callback_id, "hash": "1.x", "blocks": [],
            "private_metadata": "{}"}  # fmt: skip
    payload = heard.sender.view_submission_payload(team_id=ACME, user_id=caller, view=view, values=values)
    response = heard.sender.interaction(payload)
    heard.listeners.drain()
    assert response.status == 200, response.text


VALUES = {"channel": {"pick": {"type": "conversations_select", "selected_conversation": "C0GENERAL1"}},
          "people": {"pick": {"type": "multi_users_select", "selected_users": [PRIYA, HANK, SHARED]}},
          "name": {"name": {"type": "plain_text_input", "value": "Support"}},
          "job": {"job": {"type": "static_select", "selected_option": {"value": "weekly-story"}}},
          "when": {"when": {"type": "plain_text_input", "value": "tue 09:30"}}}  # fmt: skip


@pytest.mark.parametrize("caller", CALLERS)
def test_every_admin_button_and_modal_is_refused(heard, fake_slack, caller):
    slash(heard, "help")
    before = snapshot(heard.runtime)
    for setting in SETTINGS:
        fake_slack.reset_calls()
        button(heard, caller, admin_views.setup_action(setting), setting)
        modal(heard, caller, admin_views.setting_callback(setting), VALUES)
        assert fake_slack.calls_to("views.open") == [], setting
        assert snapshot(heard.runtime) == before, setting
        assert set(writes(fake_slack)) <= {"views.publish", "chat.postMessage"}, (setting, writes(fake_slack))
        for call in fake_slack.calls_to("chat.postMessage"):  # only the refusal, by DM, to someone in Acme
            assert caller != HANK and call.args["channel"] == caller, call.args
            assert "Only Heard admins" in call.args["text"], call.args
    fake_slack.reset_calls()
    button(heard, caller, SETUP_ACTION)
    modal(heard, caller, SETUP_MODAL, {"channel": VALUES["channel"]})
    assert fake_slack.calls_to("views.open") == [] and fake_slack.calls_to("conversations.join") == []
    assert snapshot(heard.runtime) == before
    assert all(call.args["channel"] == caller for call in fake_slack.calls_to("chat.postMessage"))


@pytest.mark.parametrize("caller", CALLERS)
def test_story_review_buttons_are_refused(heard, fake_slack, caller):
    slash(heard, "help")
    with heard.runtime.sessions.begin() as session:
        acme_id = session.scalar(select(Workspace.id).where(Workspace.team_id == ACME))
        story = Story(workspace_id=acme_id, title="Saved a launch", customer="Globex", what_happened="x",
                      learned="y", anonymous=False, submitted_by=PRIYA, source="command", state="pending",
                      created_at=heard.runtime.clock())  # fmt: skip
        session.add(story)
        session.flush()
        story_id = story.id
    before = snapshot(heard.runtime)
    for action in (story_views.APPROVE_ACTION, story_views.DISCARD_ACTION, story_views.EDIT_ACTION):
        fake_slack.reset_calls()
        url = fake_slack.response_url(ACME)
        payload = heard.sender.block_actions_payload(
            team_id=ACME, user_id=caller, channel_id="D0PRIYADM1", message={"ts": "1764000000.000100", "text": "x"},
            action={"action_id": action, "block_id": "b", "type": "button", "value": str(story_id)})  # fmt: skip
        payload["response_url"] = url
        heard.sender.interaction(payload)
        heard.listeners.drain()
        [answer] = fake_slack.responses(url)
        assert answer["text"] == "Only Heard admins review stories.", (action, answer)
        assert fake_slack.calls_to("views.open") == []
        assert snapshot(heard.runtime) == before
