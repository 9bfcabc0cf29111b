"""The App Home: what members and admins see, and the setup checklist's modals, which
save through the same service functions as `/heard`."""

import pytest
from sqlalchemy import select

from bot.db.models import AuditEntry
from bot.features import load_rooms
from tests.features.admin.helpers import (
    ACME,
    JONAS,
    MAYA,
    PRIYA,
    TOMAS,
    WRITES,
    channel,
    shown,
    slash,
    state,
)
from tests.people import HEARD


def open_home(heard, fake_slack, user_id: str) -> dict:
    event = {"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home"}
    assert heard.sender.event(event, team_id=ACME).status == 200
    heard.listeners.drain()
    call = [c for c in fake_slack.calls_to("views.publish") if c.args["user_id"] == user_id][-1]
    assert call.ok, call.error  # the fake validates the view against Block Kit
    return fake_slack.published_home(user_id)


def texts(view: dict) -> str:
    return shown({"blocks": view["blocks"]})


def action_ids(view: dict) -> list[str]:
    return [block["accessory"]["action_id"] for block in view["blocks"] if block.get("accessory")]


def click(heard, fake_slack, user_id: str, setting: str) -> dict | None:
    """Press a checklist button on the user's Home; returns the modal it opened, if any."""
    home = fake_slack.published_home(user_id)
    opened = len(fake_slack.calls_to("views.open"))
    buttons = {b["block_id"]: b["accessory"]["action_id"] for b in home["blocks"] if b.get("accessory")}
    action_id = buttons.get(f"setup:{setting}", f"admin_open:{setting}")  # a stale Home may lack it
    action = {"action_id": action_id, "block_id": f"setup:{setting}", "type": "button", "value": setting}
    payload = heard.sender.block_actions_payload(team_id=ACME, user_id=user_id, action=action, view=home)
    assert heard.sender.interaction(payload).status == 200
    heard.listeners.drain()
    calls = fake_slack.calls_to("views.open")[opened:]
    if not calls:
        return None
    assert calls[0].ok, calls[0].error
    return calls[0].response["view"]


def submit(heard, user_id: str, view: dict, values: dict) -> dict | None:
    """Submit the modal; returns Heard's response_action answer, or None when it closed."""
    payload = heard.sender.view_submission_payload(team_id=ACME, user_id=user_id, view=view, values=values)
    response = heard.sender.interaction(payload)
    heard.listeners.drain()
    assert response.status == 200
    return response.json() if response.body else None


def dms(fake_slack, user_id: str) -> list[str]:
    """The text of Heard's DMs to `user_id`: where a modal's refusal lands once Slack was asked."""
    return [m.get("text", "") for m in fake_slack.messages(user_id) if m.get("bot_id") or m.get("user") == HEARD]


def conversation(channel_id: str) -> dict:
    return {"channel": {"pick": {"type": "conversations_select", "selected_conversation": channel_id}}}


def people(*user_ids: str) -> dict:
    return {"people": {"pick": {"type": "multi_users_select", "selected_users": list(user_ids)}}}


def test_member_home_shows_how_heard_works_and_no_setup(heard_server, fake_slack):
    heard = heard_server()
    home = open_home(heard, fake_slack, PRIYA)
    assert "How Heard works" in texts(home)
    assert "Setup" not in texts(home) and action_ids(home) == []
    # Each installed room says what it does; nothing that is not built is promised.
    assert "*Customer feedback*" in texts(home) and "*Closing the loop*" in texts(home)
    assert "*Customer stories*" in texts(home) and "*Leadership digest*" in texts(home)


def test_admin_home_has_the_checklist_with_buttons_and_the_settings(heard_server, fake_slack):
    heard = heard_server()
    home = open_home(heard, fake_slack, MAYA)
    text = texts(home)
    assert "How Heard works" in text and "Setup (admins)" in text and "Settings" in text
    assert "4 steps left to set Heard up." in text
    expected = ["admin_open:stories_channel", "admin_open:departments", "admin_open:leaders",
                "admin_open:digest_channel", "admin_open:schedules", "admin_open:admins"]  # fmt: skip
    if "feedback-channel" in {c.name: c for c in load_rooms().router}:
        expected.insert(0, "feedback_setup_channel")
    assert action_ids(home) == expected

    slash(heard, f"channel stories {channel('C0STORIES1')}")
    slash(heard, f"leader add <@{JONAS}|jonas>")
    text = texts(open_home(heard, fake_slack, MAYA))
    assert "✅ *Stories channel*\n<#C0STORIES1>" in text
    assert "✅ *Leaders*\nThe weekly digest goes to <@U0JONAS002>" in text
    assert "⬜ *Departments*" in text
    assert "2 steps left" in text


def test_stories_channel_modal_saves_like_the_slash_command(heard_server, fake_slack):
    heard = heard_server()
    open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "stories_channel")
    assert modal["callback_id"] == "admin_modal:stories_channel"
    assert submit(heard, MAYA, modal, conversation("C0STORIES1")) is None
    assert "Stories: <#C0STORIES1>" in shown(slash(heard, "config"))
    assert "✅ *Stories channel*" in texts(fake_slack.published_home(MAYA))
    with heard.runtime.sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.actor_user_id, entry.old_value, entry.new_value) == (
        "channel stories", MAYA, None, "C0STORIES1"
    )


def test_modal_closes_at_once_and_a_refused_channel_is_explained_by_dm(heard_server, fake_slack):
    heard = heard_server()
    open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "digest_channel")
    before = {k: v for k, v in state(heard.runtime).items() if k != "outbox"}
    assert submit(heard, MAYA, modal, conversation("C0OLDARCH1")) is None  # acked before asking Slack
    assert dms(fake_slack, MAYA)[-1] == ("I couldn't save the digest channel: #old-archive is archived; "
                                        "pick another channel. Nothing was changed.")  # fmt: skip
    assert {k: v for k, v in state(heard.runtime).items() if k != "outbox"} == before


def test_leaders_modal_sets_exactly_the_people_picked(heard_server, fake_slack):
    heard = heard_server()
    open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "leaders")
    assert submit(heard, MAYA, modal, people(JONAS, PRIYA)) is None
    modal = click(heard, fake_slack, MAYA, "leaders")
    [picker] = [b for b in modal["blocks"] if b.get("block_id") == "people"]
    assert picker["element"]["initial_users"] == [JONAS, PRIYA]
    assert submit(heard, MAYA, modal, people(PRIYA)) is None
    assert "Leaders: <@U0PRIYA003>\n" in shown(slash(heard, "config"))
    with heard.runtime.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["leader add", "leader add", "leader remove"]
    assert submit(heard, MAYA, modal, people(PRIYA, "U0ZENDESK1")) is None
    assert "That is an app, not a person." in dms(fake_slack, MAYA)[-1]


def test_admins_modal_adds_an_admin(heard_server, fake_slack):
    heard = heard_server()
    open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "admins")
    assert submit(heard, MAYA, modal, people(TOMAS, MAYA)) is None  # the installer is always one
    assert "Admins: <@U0MAYA0001>, <@U0TOMAS004>, and every" in shown(slash(heard, "config"))
    assert "Setup (admins)" in texts(open_home(heard, fake_slack, TOMAS))


def test_department_modal_offers_user_groups_and_checks_the_name(heard_server, fake_slack):
    heard = heard_server()
    open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "departments")
    [group] = [b for b in modal["blocks"] if b.get("block_id") == "usergroup"]
    assert [o["value"] for o in group["element"]["options"]] == ["S0SUPPORT1"]
    values = {
        "name": {"value": {"type": "plain_text_input", "value": "<!channel> team"}},
        **conversation("C0PRODUCT1"),
        "usergroup": {"pick": {"type": "static_select", "selected_option": {"value": "S0SUPPORT1"}}},
    }
    answer = submit(heard, MAYA, modal, values)
    assert list(answer["errors"]) == ["name"]
    values["name"]["value"]["value"] = "Customer Success"
    assert submit(heard, MAYA, modal, values) is None
    listing = shown(slash(heard, "department list"))
    assert "*Customer Success* — <#C0PRODUCT1>, <!subteam^S0SUPPORT1>" in listing
    assert fake_slack.calls_to("conversations.join", ok=True)


def test_schedule_modal_validates_the_cadence(heard_server, fake_slack):
    heard = heard_server()
    open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "schedules")
    values = {"job": {"pick": {"type": "static_select", "selected_option": {"value": "weekly-story"}}},
              "when": {"value": {"type": "plain_text_input", "value": "xyz 99:99"}}}  # fmt: skip
    answer = submit(heard, MAYA, modal, values)
    assert list(answer["errors"]) == ["when"] and "not a schedule" in answer["errors"]["when"]
    values["when"]["value"]["value"] = "wed 08:15"
    assert submit(heard, MAYA, modal, values) is None
    assert "`weekly-story` wed 08:15 (custom)" in shown(slash(heard, "schedule"))


@pytest.mark.skipif("feedback-channel" not in {c.name: c for c in load_rooms().router}, reason="the feedback room is not installed")
def test_feedback_channel_modal_runs_the_feedback_rooms_command(heard_server, fake_slack):
    heard = heard_server()
    open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "feedback_channel")
    assert modal["callback_id"] == "feedback_setup_channel_modal"
    assert submit(heard, MAYA, modal, conversation("C0FEEDBACK")) is None
    assert "Feedback channels: <#C0FEEDBACK>" in shown(slash(heard, "config"))
    assert "✅ *Feedback channel*" in texts(fake_slack.published_home(MAYA))
    assert dms(fake_slack, MAYA)[-1].startswith("Backfilled <#C0FEEDBACK>")
    assert submit(heard, MAYA, modal, {}) == {"response_action": "errors", "errors": {"channel": "Pick a channel."}}
    assert submit(heard, MAYA, modal, conversation("C0OLDARCH1")) is None
    assert "archived" in dms(fake_slack, MAYA)[-1]


def test_a_non_admin_cannot_open_or_submit_the_modals(heard_server, fake_slack):
    heard = heard_server()
    admin_home = open_home(heard, fake_slack, MAYA)
    modal = click(heard, fake_slack, MAYA, "stories_channel")
    # Priya replays Maya's Home and modal (as a stale tab of a demoted admin would).
    open_home(heard, fake_slack, PRIYA)
    before = state(heard.runtime)
    fake_slack.reset_calls()
    action = {"action_id": "admin_open:leaders", "block_id": "setup:leaders", "type": "button", "value": "leaders"}
    payload = heard.sender.block_actions_payload(team_id=ACME, user_id=PRIYA, action=action, view=admin_home)
    heard.sender.interaction(payload)
    heard.listeners.drain()
    assert fake_slack.calls_to("views.open") == []
    assert "Setup" not in texts(fake_slack.published_home(PRIYA))  # refreshed instead
    assert submit(heard, PRIYA, modal, conversation("C0STORIES1")) is None
    assert "Only Heard admins can change this." in dms(fake_slack, PRIYA)[-1]
    assert {k: v for k, v in state(heard.runtime).items() if k != "outbox"} == {
        k: v for k, v in before.items() if k != "outbox"}
    assert [c.method for c in fake_slack.calls if c.method in WRITES] == ["views.publish", "chat.postMessage",
                                                                         "views.publish"]  # fmt: skip
