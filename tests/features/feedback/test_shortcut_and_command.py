"""Doors 2 and 3: the "Log as customer feedback" shortcut with its modal, and `/heard
feedback`; Heard's confirmation card; Resolve with a note."""

import json

import pytest

from bot.features.feedback import views
from bot.features.feedback.views import LOG_SHORTCUT as LOG_FEEDBACK_CALLBACK
from tests.features.feedback.helpers import pings, texts
from tests.people import (
    ACME,
    FEEDBACK,
    GENERAL,
    GLOBEX,
    GLOBEX_FEEDBACK,
    HANK,
    HEARD,
    JONAS,
    LEADERS,
    LENA,
    MAYA,
    PRIYA,
    SAM,
    TOMAS,
    ZENDESK_BOT,
)


def shortcut(feedback, message: dict, *, user: str, channel: str) -> dict:
    """Choose the shortcut on `message`; returns the modal Heard opened."""
    before = len(feedback.slack.opened_views())
    feedback.interact(feedback.heard.sender.message_shortcut_payload(
        team_id=ACME, user_id=user, callback_id=LOG_FEEDBACK_CALLBACK, channel_id=channel, message=message,
    ))  # fmt: skip
    opened = feedback.slack.opened_views()
    assert len(opened) == before + 1
    return opened[-1]


def submit(feedback, view: dict, *, user: str, customer="", origin="", note="", callback=None):
    values = {
        views.CUSTOMER_INPUT: {views.CUSTOMER_INPUT: {"type": "plain_text_input", "value": customer}},
        views.ORIGIN_INPUT: {views.ORIGIN_INPUT: {"type": "plain_text_input", "value": origin}},
        views.NOTE_INPUT: {views.NOTE_INPUT: {"type": "plain_text_input", "value": note}},
    }
    payload = feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=user, view=view, values=values)
    response = feedback.heard.sender.interaction(payload)
    feedback.heard.listeners.drain()
    assert response.status == 200
    return response.json() if response.body else {}


def cards(feedback) -> list[dict]:
    return [m for m in feedback.slack.messages(FEEDBACK)
            if m.get("user") == HEARD and m.get("thread_ts") in (None, m["ts"])]


# -- the shortcut ----------------------------------------------------------------------------


def test_shortcut_on_a_message_elsewhere_logs_its_author_text_ts_and_link(feedback):
    message = feedback.slack.post_as(SAM, GENERAL, "Fabrikam needs e-invoices or they leave at renewal.")
    modal = shortcut(feedback, message, user=TOMAS, channel=GENERAL)
    assert modal["callback_id"] == views.LOG_MODAL and "Fabrikam" in texts(modal)
    answer = submit(feedback, modal, user=TOMAS, customer="Fabrikam", origin="email", note="Renewal in March")
    assert answer["response_action"] == "update" and "Logged" in texts(answer["view"])
    [item] = feedback.items()
    assert (item.source, item.reporter_user_id, item.logged_by_user_id) == ("shortcut", SAM, TOMAS)
    assert (item.channel_id, item.message_ts) == (GENERAL, message["ts"])
    assert (item.customer, item.origin, item.note) == ("Fabrikam", "email", "Renewal in March")
    assert item.permalink.endswith(f"/archives/{GENERAL}/p{message['ts'].replace('.', '')}")
    [card] = cards(feedback)
    assert "Fabrikam" in texts(card) and "<@U0SAM00006>" in texts(card)


def test_a_reply_on_the_card_acknowledges_and_the_card_shows_it(feedback):
    message = feedback.slack.post_as(SAM, GENERAL, "Fabrikam needs e-invoices.")
    submit(feedback, shortcut(feedback, message, user=TOMAS, channel=GENERAL), user=TOMAS)
    [card] = cards(feedback)
    assert views.ACKNOWLEDGE_ACTION in json.dumps(card["blocks"])
    feedback.post(JONAS, "Finance is on it", channel=FEEDBACK, thread_ts=card["ts"])
    [item] = feedback.items()
    assert (item.status, item.acknowledged_by, item.card_ts) == ("acknowledged", JONAS, card["ts"])
    [card] = cards(feedback)
    assert "acknowledged by <@U0JONAS002>" in texts(card)
    assert views.ACKNOWLEDGE_ACTION not in json.dumps(card["blocks"])  # Resolve remains


def test_a_reply_on_the_original_message_acknowledges(feedback):
    message = feedback.slack.post_as(SAM, GENERAL, "Fabrikam needs e-invoices.")
    submit(feedback, shortcut(feedback, message, user=TOMAS, channel=GENERAL), user=TOMAS)
    feedback.post(LENA, "I'll ask finance", channel=GENERAL, thread_ts=message["ts"])
    assert feedback.items()[0].acknowledged_by == LENA


def test_a_submission_whose_metadata_was_changed_logs_nothing(feedback):
    message = feedback.slack.post_as(SAM, GENERAL, "Fabrikam needs e-invoices or they leave at renewal.")
    modal = shortcut(feedback, message, user=TOMAS, channel=GENERAL)
    payload, _, tag = modal["private_metadata"].rpartition(".")
    forged = json.loads(payload) | {"a": PRIYA}  # credit someone else as the reporter
    modal["private_metadata"] = json.dumps(forged, separators=(",", ":")) + "." + tag
    answer = submit(feedback, modal, user=TOMAS)
    assert "lost track of the message" in texts(answer["view"])
    assert feedback.items() == []


def test_shortcut_on_a_bot_message_makes_the_logger_the_reporter(feedback):
    zendesk = {"type": "message", "subtype": "bot_message", "bot_id": ZENDESK_BOT, "username": "Zendesk",
               "text": 'New ticket #48213 from Contoso: "Robot stops at aisle 7"', "ts": "1795000100.000100"}
    submit(feedback, shortcut(feedback, zendesk, user=PRIYA, channel=FEEDBACK), user=PRIYA)
    [item] = feedback.items()
    assert (item.reporter_user_id, item.reporter_name, item.logged_by_user_id) == (PRIYA, "Zendesk", PRIYA)
    assert cards(feedback) == []  # it is already a message in the feedback channel


def test_shortcut_on_a_tracked_message_says_so_and_logs_nothing(feedback):
    message = feedback.post(SAM, "Customer wants SSO.")
    modal = shortcut(feedback, message, user=PRIYA, channel=FEEDBACK)
    assert modal["title"]["text"] == "Already tracked" and not modal.get("submit")
    assert len(feedback.items()) == 1


def test_shortcut_on_a_files_only_message_explains_there_is_nothing_to_log(feedback):
    modal = shortcut(feedback, {"type": "message", "user": SAM, "text": "", "ts": "1795000200.000100",
                                "files": [{"id": "F0FILE0001"}]}, user=PRIYA, channel=GENERAL)  # fmt: skip
    assert modal["title"]["text"] == "Nothing to log" and feedback.items() == []


def test_a_long_message_is_reread_from_slack_and_kept_whole(feedback):
    text = "Long call notes. " * 1500
    message = feedback.slack.post_as(SAM, LEADERS, text)
    modal = shortcut(feedback, message, user=MAYA, channel=LEADERS)
    assert len(modal["private_metadata"]) <= 3000
    submit(feedback, modal, user=MAYA)
    [item] = feedback.items()
    assert item.text == text


@pytest.mark.timeout(30)  # a read slept out for Slack's Retry-After took a minute and more
def test_a_long_message_slack_will_not_let_heard_reread_now_is_refused_in_the_modal_at_once(feedback):
    # Slack waits three seconds for the modal's answer: a rate-limited read is not slept out.
    text = "Long call notes. " * 1500
    message = feedback.slack.post_as(SAM, LEADERS, text)
    modal = shortcut(feedback, message, user=MAYA, channel=LEADERS)
    feedback.slack.inject_fault("conversations.replies", status=429, retry_after=60)
    answer = submit(feedback, modal, user=MAYA)
    assert "could not read that message" in json.dumps(answer["view"])
    assert feedback.items() == []
    submit(feedback, modal, user=MAYA)  # pressed again once Slack allows it
    [item] = feedback.items()
    assert item.text == text


def test_the_same_message_logged_twice_is_one_item(feedback):
    message = feedback.slack.post_as(SAM, GENERAL, "Fabrikam needs e-invoices.")
    first = shortcut(feedback, message, user=TOMAS, channel=GENERAL)
    second = shortcut(feedback, message, user=PRIYA, channel=GENERAL)  # both modals open at once
    submit(feedback, first, user=TOMAS)
    answer = submit(feedback, second, user=PRIYA)
    assert "Already tracked" in json.dumps(answer)
    assert len(feedback.items()) == 1 and len(cards(feedback)) == 1


# -- /heard feedback ----------------------------------------------------------------------------


def test_heard_feedback_logs_what_the_caller_heard_and_posts_a_card(feedback):
    reply = feedback.command('feedback Globex wants the report in Spanish customer:"Globex Corp" source:phone', user=PRIYA)
    assert reply["response_type"] == "ephemeral" and "Logged" in reply["text"]
    [item] = feedback.items()
    assert (item.source, item.reporter_user_id, item.text) == ("command", PRIYA, "Globex wants the report in Spanish")
    assert (item.customer, item.origin) == ("Globex Corp", "phone")
    assert item.said_at == item.stored_at
    [card] = cards(feedback)
    assert "Globex Corp" in texts(card) and "phone" in texts(card) and "<@U0PRIYA003>" in texts(card)


@pytest.mark.parametrize("text", ["feedback", "feedback   ", "feedback customer:Acme source:phone"])
def test_heard_feedback_without_text_asks_for_it(feedback, text):
    reply = feedback.command(text, user=PRIYA)
    assert "Tell me what the customer said" in reply["text"] and "Usage: `/heard feedback TEXT" in reply["text"]
    assert feedback.items() == []


def test_without_a_feedback_channel_the_reply_says_only_the_digest_shows_it(feedback):
    feedback.track()
    reply = feedback.command("feedback They love the new dock", user=PRIYA)
    assert "No feedback channel is set up" in reply["text"]
    assert len(feedback.items()) == 1 and cards(feedback) == []


def test_a_reaction_on_the_card_acknowledges_the_command_item(feedback):
    feedback.command("feedback Globex wants Spanish reports", user=PRIYA)
    [card] = cards(feedback)
    feedback.react(JONAS, card["ts"], "eyes")
    [item] = feedback.items()
    assert item.status == "acknowledged"
    [dm] = feedback.dms(PRIYA)
    assert "<@U0JONAS002> reacted to" in texts(dm)


# -- buttons and resolving ------------------------------------------------------------------------


def press_resolve(feedback, item_id: int, *, user: str, note: str = "", card: dict | None = None):
    feedback.press(views.RESOLVE_ACTION, item_id, user=user, message=card)
    modal = feedback.slack.opened_views()[-1]
    assert modal["callback_id"] == views.RESOLVE_MODAL
    values = {views.RESOLUTION_INPUT: {views.RESOLUTION_INPUT: {"type": "plain_text_input", "value": note}}}
    payload = feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=user, view=modal, values=values)
    response = feedback.heard.sender.interaction(payload)
    feedback.heard.listeners.drain()
    return response


def test_resolving_with_a_note_closes_the_item_and_tells_the_reporter(feedback):
    feedback.command("feedback Globex wants Spanish reports", user=PRIYA)
    [card] = cards(feedback)
    [item] = feedback.items()
    response = press_resolve(feedback, item.id, user=JONAS, note="Shipped in 4.3 <!channel>", card=card)
    assert response.status == 200 and not response.body  # the modal closes
    [item] = feedback.items()
    assert (item.status, item.resolved_by, item.resolution_note) == ("resolved", JONAS, "Shipped in 4.3 <!channel>")
    assert (item.acknowledged_by, item.acknowledged_at is not None) == (JONAS, True)
    [dm] = feedback.dms(PRIYA)  # one DM: resolved (no separate "acknowledged" one)
    shown = texts(dm)
    assert "<@U0JONAS002> resolved" in shown and "Shipped in 4.3" in shown
    assert set(pings(shown)) == {"@U0JONAS002"}  # the note's <!channel> is escaped
    assert f"/archives/{FEEDBACK}/p{card['ts'].replace('.', '')}" in shown  # the card's link
    updated = feedback.slack.calls_to("chat.update", ok=True)[-1]
    assert "resolved" in texts(updated.args) and views.RESOLVE_ACTION not in json.dumps(updated.args["blocks"])


def test_resolving_twice_is_refused_in_the_modal(feedback):
    feedback.command("feedback Globex wants Spanish reports", user=PRIYA)
    [item] = feedback.items()
    press_resolve(feedback, item.id, user=JONAS)
    feedback.press(views.RESOLVE_ACTION, item.id, user=LENA)
    reply = feedback.slack.calls_to("response_url")[-1]
    assert "Already resolved by <@U0JONAS002>" in reply.args["text"]


def test_the_reporter_may_resolve_their_own_item_without_acknowledging_it(feedback):
    feedback.command("feedback Globex wants Spanish reports", user=PRIYA)
    [item] = feedback.items()
    press_resolve(feedback, item.id, user=PRIYA, note="They found the setting")
    [item] = feedback.items()
    assert (item.status, item.acknowledged_at) == ("resolved", None)
    assert feedback.dms(PRIYA) == []


def test_buttons_for_an_item_of_another_workspace_do_nothing(feedback, globex):
    feedback.command("feedback Globex wants Spanish reports", user=PRIYA)
    [item] = feedback.items()
    payload = feedback.heard.sender.block_actions_payload(
        team_id=GLOBEX, user_id=HANK, channel_id=GLOBEX_FEEDBACK, message={"ts": "1.000001"},
        action={"action_id": views.ACKNOWLEDGE_ACTION, "block_id": "b", "type": "button", "value": str(item.id)},
    )  # fmt: skip
    assert feedback.heard.sender.interaction(payload).status == 200  # Globex is not installed here
    feedback.heard.listeners.drain()
    assert feedback.items()[0].status == "open"


@pytest.mark.parametrize("value", ["999999", "not-a-number", "", "-1"])
def test_buttons_naming_no_item_answer_politely(feedback, value):
    payload = feedback.heard.sender.block_actions_payload(
        team_id=ACME, user_id=JONAS, channel_id=FEEDBACK, message={"ts": "1.000001"},
        action={"action_id": views.ACKNOWLEDGE_ACTION, "block_id": "b", "type": "button", "value": value},
    )  # fmt: skip
    feedback.interact(payload)
    [reply] = feedback.slack.calls_to("response_url")
    assert "does not exist" in reply.args["text"]


def test_a_used_up_trigger_is_a_log_line_not_a_listener_error(feedback, caplog):
    # Slack refuses a trigger used twice (or older than three seconds); the person sees
    # nothing open and can try again. Heard logs it; the listener does not fail.
    caplog.set_level("INFO")
    message = feedback.slack.post_as(SAM, GENERAL, "Acme wants SSO")
    payload = feedback.heard.sender.message_shortcut_payload(
        team_id=ACME, user_id=PRIYA, callback_id=LOG_FEEDBACK_CALLBACK, channel_id=GENERAL, message=message,
    )  # fmt: skip
    feedback.interact(payload)
    feedback.interact(payload)  # the same trigger again
    refused = [c for c in feedback.slack.calls_to("views.open") if not c.ok]
    assert [c.error for c in refused] == ["exchanged_trigger_id"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []  # Bolt's listener error
    assert "could not open a modal: exchanged_trigger_id" in caplog.text
