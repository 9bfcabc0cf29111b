"""Acknowledgement through Heard's real endpoint: each kind, who does not count, and undoing it."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db.models import InboxEvent
from bot.features.feedback.views import ACKNOWLEDGE_ACTION
from tests.features.feedback.helpers import texts
from tests.people import (
    FEEDBACK,
    GENERAL,
    HEARD,
    HEARD_BOT_ID,
    JONAS,
    LENA,
    MAYA,
    PRIYA,
    SAM,
    ZENDESK_BOT,
)


@pytest.fixture
def posted(feedback):
    return feedback.post(SAM, "Brightline says the CSV export drops the time zone.")


def status(feedback, message):
    return feedback.item(message["ts"]).status


def test_a_reply_by_someone_else_acknowledges(feedback, posted):
    reply = feedback.post(PRIYA, "Opened SUP-2231, told them we're on it.", thread_ts=posted["ts"])
    item = feedback.item(posted["ts"])
    assert (item.status, item.acknowledged_by) == ("acknowledged", PRIYA)
    assert item.acknowledged_at is not None
    assert feedback.acks() == [("reply", PRIYA, reply["ts"])]


def test_the_reporter_replying_does_not_acknowledge(feedback, posted):
    feedback.post(SAM, "More detail: it's the night shift report.", thread_ts=posted["ts"])
    assert status(feedback, posted) == "open" and feedback.acks() == []


def test_a_reply_sent_to_the_channel_too_acknowledges(feedback, posted):
    feedback.post(PRIYA, "Looking", thread_ts=posted["ts"], subtype="thread_broadcast")
    assert status(feedback, posted) == "acknowledged"
    assert len(feedback.items()) == 1  # the broadcast reply is not a second item


def test_bots_replies_do_not_acknowledge(feedback, posted):
    for author in ({"user": HEARD, "bot_id": HEARD_BOT_ID}, {"bot_id": ZENDESK_BOT, "subtype": "bot_message"}):
        feedback.event({"type": "message", "channel": FEEDBACK, "text": "Auto-reply", "thread_ts": posted["ts"],
                        "ts": f"{int(posted['ts'].split('.')[0]) + 5}.000001", **author})
    assert status(feedback, posted) == "open"


@pytest.mark.parametrize("emoji", ["eyes", "white_check_mark", "heavy_check_mark"])
def test_each_default_ack_reaction_acknowledges(feedback, posted, emoji):
    feedback.react(JONAS, posted["ts"], emoji)
    assert status(feedback, posted) == "acknowledged"
    assert feedback.acks() == [("reaction", JONAS, emoji)]


def test_a_reaction_with_a_skin_tone_counts_as_the_emoji(feedback, posted):
    feedback.command("ack-emoji add +1", user=MAYA)
    feedback.react(JONAS, posted["ts"], "+1::skin-tone-3")
    assert status(feedback, posted) == "acknowledged"


def test_other_reactions_do_not_acknowledge(feedback, posted):
    feedback.react(JONAS, posted["ts"], "tada")
    assert status(feedback, posted) == "open"


def test_self_and_heard_reactions_do_not_count(feedback, posted):
    feedback.react(SAM, posted["ts"], "eyes")
    feedback.react(HEARD, posted["ts"], "eyes")
    assert status(feedback, posted) == "open" and feedback.acks() == []


def test_removing_the_only_ack_reaction_unacknowledges(feedback, posted):
    feedback.react(JONAS, posted["ts"], "eyes")
    feedback.react(JONAS, posted["ts"], "eyes", removed=True)
    item = feedback.item(posted["ts"])
    assert (item.status, item.acknowledged_at, item.acknowledged_by) == ("open", None, None)


def test_removing_one_of_two_acknowledgements_keeps_it_acknowledged_by_the_other(feedback, posted):
    feedback.react(JONAS, posted["ts"], "eyes")
    feedback.post(PRIYA, "On it", thread_ts=posted["ts"])
    feedback.react(JONAS, posted["ts"], "eyes", removed=True)
    item = feedback.item(posted["ts"])
    assert (item.status, item.acknowledged_by) == ("acknowledged", PRIYA)


def test_deleting_the_only_acknowledging_reply_unacknowledges(feedback, posted):
    reply = feedback.post(PRIYA, "On it", thread_ts=posted["ts"])
    feedback.delete(reply["ts"], thread_ts=posted["ts"])
    assert status(feedback, posted) == "open" and feedback.acks() == []
    assert len(feedback.items()) == 1


def test_removing_a_reaction_nobody_counted_changes_nothing(feedback, posted):
    feedback.react(SAM, posted["ts"], "eyes", removed=True)
    feedback.react(JONAS, posted["ts"], "tada", removed=True)
    assert status(feedback, posted) == "open"


def test_reactions_on_messages_heard_never_stored_change_nothing(feedback):
    general = feedback.slack.post_as(SAM, GENERAL, "lunch?")
    feedback.react(JONAS, general["ts"], "eyes", channel=GENERAL)
    feedback.react(JONAS, "1600000000.000100", "eyes")  # years old, not in the fake either
    assert feedback.items() == []


def test_a_reaction_that_arrives_before_its_message_is_not_lost(feedback):
    message = feedback.slack.post_as(SAM, FEEDBACK, "Customer wants SAML.")
    feedback.react(JONAS, message["ts"], "eyes")  # the message event is late (a retry)
    feedback.event({"type": "message", "channel": FEEDBACK, "user": SAM, "text": message["text"], "ts": message["ts"]})
    [item] = feedback.items()
    assert (item.status, item.acknowledged_by) == ("acknowledged", JONAS)


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now


@pytest.mark.timeout(60)  # the old processor slept each 429 out: a minute and more
def test_a_rate_limited_read_holds_back_only_the_reaction_that_needed_it(feedback):
    # Slack lets apps outside the Marketplace call conversations.history once a minute. A
    # reaction on a message Heard has no item for reads it (the post's own event may be
    # late): Priya reacting to three replies spends the minute's call on the first, and the
    # others meet a 429 asking for a minute. Sleeping that out held every event behind them.
    feedback.runtime.clock = clock = Clock()
    feedback.slack.limit_rate("conversations.history", per_minute=1)
    parent = feedback.post(SAM, "The export is broken for Initech.")
    for n in range(3):
        reply = feedback.post(LENA, f"reply {n}", thread_ts=parent["ts"])
        feedback.react(PRIYA, reply["ts"])  # drains the processor, or times out
    late = feedback.slack.post_as(SAM, FEEDBACK, "Customer wants SAML.")
    feedback.react(JONAS, late["ts"])  # before its message event: read from history, later
    notes = [feedback.post(SAM, f"Customer note {n}") for n in range(20)]
    assert all(feedback.item(note["ts"]) for note in notes)  # at once, not minutes later
    assert feedback.item(late["ts"]) is None
    with feedback.runtime.sessions() as session:
        waiting = session.scalars(select(InboxEvent).where(InboxEvent.status == "pending")).all()
    assert len(waiting) == 3 and {row.attempts for row in waiting} == {0}
    assert all(row.not_before >= clock.now + timedelta(seconds=50) for row in waiting)  # Slack's Retry-After

    feedback.slack.limit_rate("conversations.history", per_minute=100)  # the minute has passed
    clock.now += timedelta(seconds=61)
    feedback.runtime.inbox.wake()
    feedback.heard.listeners.drain()
    assert (status(feedback, late), feedback.item(late["ts"]).acknowledged_by) == ("acknowledged", JONAS)


def test_a_duplicate_reaction_delivery_counts_once(feedback, posted):
    event_id = feedback.heard.sender.next_event_id()
    feedback.react(JONAS, posted["ts"], event_id=event_id)
    feedback.react(JONAS, posted["ts"], removed=True)
    feedback.react(JONAS, posted["ts"], event_id=event_id, retry_num=2)  # Slack retries the add
    assert status(feedback, posted) == "open"
    assert len(feedback.dms(SAM)) == 1


def test_the_acknowledge_button_acknowledges_and_says_so(feedback, posted):
    item = feedback.item(posted["ts"])
    feedback.press(ACKNOWLEDGE_ACTION, item.id, user=LENA)
    assert status(feedback, posted) == "acknowledged"
    assert feedback.acks() == [("button", LENA, "acknowledge")]
    [reply] = feedback.slack.calls_to("response_url")
    assert reply.args["response_type"] == "ephemeral" and "you acknowledged" in reply.args["text"]


def test_the_reporter_pressing_acknowledge_is_told_it_does_not_count(feedback, posted):
    item = feedback.item(posted["ts"])
    feedback.press(ACKNOWLEDGE_ACTION, item.id, user=SAM)
    assert status(feedback, posted) == "open"
    [reply] = feedback.slack.calls_to("response_url")
    assert "your own feedback" in reply.args["text"]


def test_the_reporter_is_told_once_who_acknowledged_with_a_link(feedback, posted):
    feedback.post(PRIYA, "On it", thread_ts=posted["ts"])
    feedback.react(JONAS, posted["ts"], "eyes")
    [dm] = feedback.dms(SAM)
    shown = texts(dm)
    assert "<@U0PRIYA003> replied to the customer feedback you shared" in shown
    assert feedback.item(posted["ts"]).permalink in shown
    assert "Brightline" in shown


def test_unacknowledging_and_acknowledging_again_does_not_dm_twice(feedback, posted):
    feedback.react(JONAS, posted["ts"], "eyes")
    feedback.react(JONAS, posted["ts"], "eyes", removed=True)
    feedback.react(MAYA, posted["ts"], "eyes")
    assert status(feedback, posted) == "acknowledged"
    assert len(feedback.dms(SAM)) == 1
    assert [m.idempotency_key.split(":")[-1] for m in feedback.outbox("loop:")] == ["acknowledged"]


def test_a_dm_slack_refuses_for_now_is_retried_by_the_outbox(feedback, posted):
    from datetime import timedelta

    from bot.slack.outbox import deliver_due

    feedback.slack.inject_fault("chat.postMessage", status=403)  # not retried by the client; the outbox retries
    feedback.react(JONAS, posted["ts"], "eyes")
    [queued] = feedback.outbox("loop:")
    assert queued.status == "pending" and feedback.dms(SAM) == []
    later = queued.not_before + timedelta(seconds=1)
    feedback.runtime.clock = lambda: later
    deliver_due(feedback.runtime)
    assert len(feedback.dms(SAM)) == 1
