""""Turn into a story" on resolved feedback: a button the stories room adds to the feedback
room's card through the room contract (`CardButton`), which prefills the story modal from
the item. The feedback room never names the stories room: it renders what it is given."""

import json

import pytest

from bot.features.feedback import views as feedback_views
from bot.features.stories import views
from tests.features.feedback.helpers import texts
from tests.features.feedback.room import Feedback
from tests.features.stories.room import MONDAY, STORIES, Stories
from tests.people import ACME, FEEDBACK, HEARD, JONAS, LENA, PRIYA, SAM

SAID = 'feedback Dock alerts never reach the night shift <!channel> customer:"Northwind Logistics"'


@pytest.fixture
def rooms(workspace, heard_server, fake_slack) -> tuple[Stories, Feedback]:
    """Acme with Priya a Heard admin, #customer-feedback tracked and #customer-stories set."""
    workspace(admins=1, feedback_channels=[FEEDBACK])
    heard = heard_server()
    stories = Stories(heard, fake_slack)
    stories.at(MONDAY)
    stories.set_channel(STORIES)
    return stories, Feedback(heard, fake_slack)


def card(feedback: Feedback) -> dict:
    """Heard's card in #customer-feedback, as last posted or updated."""
    [found] = [m for m in feedback.slack.messages(FEEDBACK) if m.get("user") == HEARD]
    return found


def buttons(message: dict) -> dict[str, str]:
    """action_id -> value of every button in a message."""
    return {e["action_id"]: e.get("value") for b in message.get("blocks") or [] if b["type"] == "actions"
            for e in b["elements"]}  # fmt: skip


def resolve(feedback: Feedback, item_id: int, *, user: str, note: str) -> None:
    feedback.press(feedback_views.RESOLVE_ACTION, item_id, user=user)
    modal = feedback.slack.opened_views()[-1]
    values = {feedback_views.RESOLUTION_INPUT: {feedback_views.RESOLUTION_INPUT: {
        "type": "plain_text_input", "value": note}}}  # fmt: skip
    payload = feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=user, view=modal, values=values)
    assert feedback.heard.sender.interaction(payload).status == 200
    feedback.heard.listeners.drain()


def initial(modal: dict) -> dict[str, str | None]:
    return {b["block_id"]: b["element"].get("initial_value") for b in modal["blocks"]
            if b.get("type") == "input" and b["element"]["type"] == "plain_text_input"}  # fmt: skip


def test_a_resolved_items_card_offers_turn_into_a_story_which_prefills_the_modal(rooms):
    stories, feedback = rooms
    feedback.command(SAID, user=SAM)
    [item] = feedback.items()
    assert views.FROM_FEEDBACK_ACTION not in buttons(card(feedback))  # open: nothing to tell yet

    resolve(feedback, item.id, user=JONAS, note="Alerts now reach the floor tablets.")
    shown = card(feedback)  # the card, as Heard updated it
    assert "resolved" in texts(shown)
    assert buttons(shown) == {views.FROM_FEEDBACK_ACTION: str(item.id)}
    assert views.FROM_FEEDBACK_LABEL in texts(shown)

    before = len(stories.slack.opened_views())
    stories.press(views.FROM_FEEDBACK_ACTION, item.id, user=LENA, channel=FEEDBACK, message=shown)
    [modal] = stories.slack.opened_views()[before:]
    assert modal["callback_id"] == views.ADD_MODAL
    prefilled = initial(modal)
    assert prefilled[views.CUSTOMER] == "Northwind Logistics"
    assert prefilled[views.TITLE] == "What Northwind Logistics told us"
    assert "Dock alerts never reach the night shift" in prefilled[views.HAPPENED]
    assert prefilled[views.LEARNED] is None  # the submitter writes what we learned

    answer = stories.submit(modal, user=LENA, title=prefilled[views.TITLE], customer=prefilled[views.CUSTOMER],
                            what_happened=prefilled[views.HAPPENED])  # fmt: skip
    assert answer["response_action"] == "update"
    [story] = stories.stories()
    assert (story.source, story.feedback_item_id, story.state, story.submitted_by) == (
        "feedback", item.id, "pending", LENA)
    [review] = [m for m in stories.dms(PRIYA) if "waiting for approval" in m["text"]]
    assert "Dock alerts never reach the night shift" in texts(review)


def test_only_resolved_items_show_the_button_and_the_views_get_it_as_data():
    """The feedback room's card renders the buttons it is given, in the states they ask for."""
    from datetime import UTC, datetime

    from bot.features.feedback.models import FeedbackItem
    from bot.rooms import CardButton

    extra = (CardButton("feedback", "Do more", "other_room_action", states=("resolved",)),
             CardButton("feedback", "Always", "always_action"))  # fmt: skip
    item = FeedbackItem(id=7, text="t", status="open", source="command", reporter_user_id=SAM,
                        said_at=datetime(2026, 11, 30, tzinfo=UTC))  # fmt: skip
    blocks, _ = feedback_views.card(item, extra)
    assert set(buttons({"blocks": blocks})) == {feedback_views.ACKNOWLEDGE_ACTION, feedback_views.RESOLVE_ACTION,
                                                "always_action"}  # fmt: skip
    item.status, item.resolved_by = "resolved", JONAS
    blocks, _ = feedback_views.card(item, extra)
    assert buttons({"blocks": blocks}) == {"other_room_action": "7", "always_action": "7"}
    blocks, _ = feedback_views.card(item)
    assert buttons({"blocks": blocks}) == {}


def test_a_story_modal_naming_another_workspaces_item_links_nothing(rooms):
    """The modal's metadata comes back from Slack: an item id that is not this workspace's
    (or no item at all) stores a plain story, never a link to someone else's feedback."""
    stories, _ = rooms
    modal = views.story_modal(None, {"source": "draft", "item": 987654})
    assert json.loads(modal["private_metadata"])["item"] == 987654
    stories.submit(modal, user=SAM)
    [story] = stories.stories()
    assert (story.source, story.feedback_item_id) == ("command", None)


def test_pressing_it_on_feedback_that_is_gone_says_so(rooms):
    stories, _ = rooms
    before = len(stories.slack.opened_views())
    answers = stories.press(views.FROM_FEEDBACK_ACTION, 424242, user=LENA, channel=FEEDBACK)
    assert len(stories.slack.opened_views()) == before
    assert any("no longer in Heard" in answer.get("text", "") for answer in answers)


def test_channel_feedback_has_no_card_but_the_shortcuts_modal_offers_it_once_resolved(rooms):
    """Feedback posted in a feedback channel gets no card; "Log as customer feedback" on it
    shows what Heard tracks, and once resolved the button opens the story form over it."""
    stories, feedback = rooms
    said = feedback.post(SAM, "Northwind's night shift never sees the dock alerts")
    [item] = feedback.items()
    resolve(feedback, item.id, user=JONAS, note="Alerts moved to the floor tablets.")
    before = len(stories.slack.opened_views())
    feedback.interact(feedback.heard.sender.message_shortcut_payload(
        team_id=ACME, user_id=LENA, callback_id=feedback_views.LOG_SHORTCUT, channel_id=FEEDBACK, message=said,
    ))  # fmt: skip
    [tracked] = stories.slack.opened_views()[before:]
    assert tracked["title"]["text"] == "Already tracked"
    assert buttons(tracked) == {views.FROM_FEEDBACK_ACTION: str(item.id)}
    payload = stories.heard.sender.block_actions_payload(
        team_id=ACME, user_id=LENA, view=tracked,
        action={"action_id": views.FROM_FEEDBACK_ACTION, "block_id": f"feedback_actions_{item.id}",
                "type": "button", "value": str(item.id)},
    )  # fmt: skip
    feedback.interact(payload)
    [pushed] = [c for c in stories.slack.calls_to("views.push") if c.ok]
    assert pushed.args["view"]["callback_id"] == views.ADD_MODAL
    assert "night shift never sees the dock alerts" in initial(pushed.args["view"])[views.HAPPENED]
