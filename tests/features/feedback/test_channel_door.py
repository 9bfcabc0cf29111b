"""Door 1: top-level posts by people in a feedback channel, through Heard's real endpoint."""

from datetime import UTC, datetime

from bot.db.models import InboxEvent
from bot.features.feedback.views import ACKNOWLEDGE_ACTION
from tests.people import (
    FEEDBACK,
    GENERAL,
    GLOBEX,
    HEARD,
    HEARD_BOT_ID,
    LENA,
    PRIYA,
    PRODUCT,
    SAM,
    ZENDESK,
    ZENDESK_BOT,
)


def test_a_post_in_a_feedback_channel_becomes_an_open_item(feedback):
    message = feedback.post(PRIYA, "Northwind says the arm needs recalibration after every swap.")
    [item] = feedback.items()
    assert (item.source, item.status, item.reporter_user_id) == ("channel", "open", PRIYA)
    assert (item.channel_id, item.message_ts) == (FEEDBACK, message["ts"])
    assert item.text.startswith("Northwind says")
    # When it was said is the message's ts, not when Heard stored it.
    assert item.said_at == datetime.fromtimestamp(int(message["ts"].split(".")[0]), UTC).replace(
        microsecond=int(message["ts"].split(".")[1]))
    assert item.permalink == f"https://acme-robotics.slack.com/archives/{FEEDBACK}/p{message['ts'].replace('.', '')}"


def test_heard_posts_nothing_for_channel_feedback(feedback):
    feedback.slack.reset_calls()
    feedback.post(PRIYA, "The dashboard is slow on Mondays.")
    posted = [c for c in feedback.slack.calls if c.method.startswith("chat.")]
    assert posted == []  # no thread reply: it would look like someone answered


def test_posts_elsewhere_are_not_feedback(feedback):
    feedback.post(PRIYA, "Lunch at noon?", channel=GENERAL)
    assert feedback.items() == []


def test_replies_bots_joins_and_other_subtypes_are_not_items(feedback):
    parent = feedback.post(PRIYA, "Customer wants SSO.")
    feedback.post(SAM, "On it", thread_ts=parent["ts"])
    for event in (
        {"subtype": "bot_message", "bot_id": ZENDESK_BOT, "text": "New ticket #4821", "ts": "1795000000.000100"},
        {"bot_id": ZENDESK_BOT, "user": ZENDESK, "text": "Ticket", "ts": "1795000000.000200"},
        {"subtype": "channel_join", "user": SAM, "text": "<@U0SAM00006> has joined", "ts": "1795000000.000300"},
        {"subtype": "channel_topic", "user": SAM, "text": "set the topic", "ts": "1795000000.000400"},
        {"subtype": "me_message", "user": SAM, "text": "waves", "ts": "1795000000.000500"},
        {"user": HEARD, "bot_id": HEARD_BOT_ID, "text": "Heard's own post", "ts": "1795000000.000600"},
    ):
        feedback.event({"type": "message", "channel": FEEDBACK, **event})
    assert [i.text for i in feedback.items()] == ["Customer wants SSO."]


def test_files_only_is_not_feedback_but_files_with_text_are(feedback):
    files = [{"id": "F0FILE0001", "name": "screenshot.png"}]
    feedback.event({"type": "message", "subtype": "file_share", "channel": FEEDBACK, "user": SAM,
                    "text": "", "files": files, "ts": "1795000001.000100"})
    feedback.event({"type": "message", "subtype": "file_share", "channel": FEEDBACK, "user": SAM,
                    "text": "Their error screen, see attached", "files": files, "ts": "1795000001.000200"})
    assert [i.text for i in feedback.items()] == ["Their error screen, see attached"]


def test_a_blocks_only_message_keeps_its_words(feedback):
    blocks = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "Customer asked about "},
        {"type": "link", "url": "https://acme.example/sso", "text": "SSO"},
        {"type": "emoji", "name": "pray"},
    ]}]}]  # fmt: skip
    feedback.event({"type": "message", "channel": FEEDBACK, "user": SAM, "text": "", "blocks": blocks,
                    "ts": "1795000002.000100"})
    [item] = feedback.items()
    assert item.text == "Customer asked about SSO:pray:"


def test_a_huge_text_is_kept_in_full(feedback):
    text = "The export is slow. " * 2000  # 40,000 characters, Slack's maximum
    feedback.post(SAM, text)
    [item] = feedback.items()
    assert item.text == text.replace("\x00", "")


def test_slack_markup_is_stored_as_people_read_it(feedback):
    feedback.post(SAM, "Ask <@U0PRIYA003|priya> &amp; see <https://x.example/a|the ticket> &lt;urgent&gt; <!here>")
    [item] = feedback.items()
    assert item.text == "Ask @priya & see the ticket (https://x.example/a) <urgent> @here"


def test_the_same_event_delivered_twice_is_one_item(feedback):
    message = feedback.slack.post_as(SAM, FEEDBACK, "Customer can't log in with SSO.")
    event = {"type": "message", "channel": FEEDBACK, "user": SAM, "text": message["text"], "ts": message["ts"]}
    event_id = feedback.heard.sender.next_event_id()
    feedback.event(event, event_id=event_id)
    feedback.event(event, event_id=event_id, retry_num=1)
    # A different event id for the same message (a second app process, a backfill) adds nothing either.
    feedback.event(event)
    assert len(feedback.items()) == 1
    with feedback.runtime.sessions() as session:
        assert session.query(InboxEvent).count() == 2


def test_deleting_a_feedback_message_removes_its_item(feedback):
    message = feedback.post(SAM, "Customer can't export.")
    feedback.react(PRIYA, message["ts"])
    feedback.delete(message["ts"])
    assert feedback.items() == [] and feedback.acks() == []


def test_a_deleted_items_card_button_acts_on_no_other_item(feedback):
    """The deleted item's id lives on in its card's buttons: it is never given to the next
    item (SQLite reused the highest id), so an old Acknowledge finds nothing."""
    gone = feedback.post(SAM, "Customer A: invoices arrive twice")
    gone_id = feedback.item(gone["ts"]).id
    feedback.delete(gone["ts"])
    feedback.post(LENA, "Customer B: the Android app crashes on login")
    [item] = feedback.items()
    assert item.id != gone_id
    feedback.press(ACKNOWLEDGE_ACTION, gone_id, user=PRIYA)
    assert (feedback.items()[0].status, feedback.acks(), feedback.dms(LENA)) == ("open", [], [])


def test_a_ts_spelt_another_way_is_not_a_second_message(feedback):
    """Slack writes a ts with all six digits; the same instant written short is refused
    rather than stored as another message."""
    for ts in ("1795900000.1", "1795900000.100000", "01795900000.100000"):
        feedback.event({"type": "message", "channel": FEEDBACK, "user": PRIYA, "text": "The label printer jams",
                        "ts": ts, "channel_type": "channel"})  # fmt: skip
    assert [item.message_ts for item in feedback.items()] == ["1795900000.100000"]


def test_a_deleted_parent_with_replies_becomes_a_tombstone_and_its_item_goes(feedback):
    message = feedback.post(SAM, "Customer can't export.")
    feedback.post(PRIYA, "Looking", thread_ts=message["ts"])
    feedback.event({"type": "message", "subtype": "message_changed", "channel": FEEDBACK, "hidden": True,
                    "message": {"type": "message", "subtype": "tombstone", "ts": message["ts"],
                                "text": "This message was deleted.", "thread_ts": message["ts"]}})  # fmt: skip
    assert feedback.items() == []


def test_an_edit_updates_the_text_and_adds_no_item(feedback):
    message = feedback.post(SAM, "Custmer wants SSO")
    feedback.event({"type": "message", "subtype": "message_changed", "channel": FEEDBACK, "hidden": True,
                    "message": {"type": "message", "user": SAM, "text": "Customer wants SSO",
                                "ts": message["ts"], "edited": {"user": SAM, "ts": "1795000009.000000"}},
                    "previous_message": {"type": "message", "user": SAM, "text": "Custmer wants SSO",
                                         "ts": message["ts"]}})  # fmt: skip
    [item] = feedback.items()
    assert item.text == "Customer wants SSO"


def test_events_from_unknown_workspaces_and_channels_are_answered_and_ignored(feedback):
    unknown_channel = {"type": "message", "channel": "C0NOWHERE1", "user": SAM, "text": "hi", "ts": "1795000003.000100"}
    assert feedback.heard.sender.event(unknown_channel, team_id=GLOBEX).status == 200
    feedback.event(unknown_channel)
    feedback.event({"type": "reaction_added", "user": SAM, "reaction": "eyes",
                    "item": {"type": "message", "channel": "C0NOWHERE1", "ts": "1795000003.000100"}})
    feedback.event({"type": "reaction_added", "user": SAM, "reaction": "eyes",
                    "item": {"type": "file", "file": "F0FILE0001"}})
    feedback.event({"type": "message", "channel": FEEDBACK})  # malformed: no user, no ts
    assert feedback.items() == []


def test_a_post_in_a_channel_that_stopped_being_tracked_is_not_an_item(feedback):
    feedback.post(SAM, "First")
    feedback.track(PRODUCT)
    feedback.post(SAM, "Second")
    assert [i.text for i in feedback.items()] == ["First"]
