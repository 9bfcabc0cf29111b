"""bot.slack.engagement: what a message or reaction event does to engagement with a
message, read once for the feedback and stories rooms."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.engagement import Deleted, Reaction, Reply, engagement, ts_time, valid_ts
from tests.people import SLACKBOT

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
KEYS = st.sampled_from(["type", "channel", "user", "ts", "thread_ts", "subtype", "bot_id", "message",
                        "previous_message", "deleted_ts", "item", "reaction"])  # fmt: skip


@given(st.dictionaries(KEYS, JSONISH, max_size=8))
def test_engagement_never_raises_on_odd_payloads(event):
    assert engagement(event) is None or isinstance(engagement(event), Reply | Deleted | Reaction)


def test_a_persons_reply_counts_and_a_bots_never_does():
    reply = {"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "2.000001", "thread_ts": "1.000001"}
    assert engagement(reply) == Reply("C1", "2.000001", "1.000001", "U1")
    assert engagement(reply | {"subtype": "thread_broadcast"}) == Reply("C1", "2.000001", "1.000001", "U1")
    assert engagement(reply | {"bot_id": "B1"}) is None
    assert engagement(reply | {"user": SLACKBOT}) is None
    assert engagement(reply | {"thread_ts": "2.000001"}) is None  # a thread's parent is not a reply
    assert engagement(reply | {"subtype": "channel_join"}) is None


def test_deletions_of_replies_and_parents():
    deleted = {"type": "message", "subtype": "message_deleted", "channel": "C1", "deleted_ts": "2.000001",
               "previous_message": {"ts": "2.000001", "thread_ts": "1.000001"}}  # fmt: skip
    assert engagement(deleted) == Deleted("C1", "2.000001", "1.000001")
    tombstone = {"type": "message", "subtype": "message_changed", "channel": "C1",
                 "message": {"ts": "1.000001", "subtype": "tombstone"}}  # fmt: skip
    assert engagement(tombstone) == Deleted("C1", "1.000001", None)


def test_reactions_added_and_removed_without_skin_tone():
    event = {"type": "reaction_added", "user": "U1", "reaction": "+1::skin-tone-2",
             "item": {"type": "message", "channel": "C1", "ts": "1.000001"}}  # fmt: skip
    assert engagement(event) == Reaction("C1", "1.000001", "U1", "+1", added=True)
    assert engagement(event | {"type": "reaction_removed"}) == Reaction("C1", "1.000001", "U1", "+1", added=False)
    assert engagement(event | {"item": {"type": "file", "file": "F1"}}) is None



@given(st.integers(0, 9_999_999_999), st.integers(0, 999_999))
def test_an_instant_has_one_ts_slacks_own_spelling(seconds, micros):
    """A ts is a message's key wherever it is stored: only Slack's spelling (all six digits
    of the microseconds, no leading zeros) is a ts, so one instant is one key."""
    slack = f"{seconds}.{micros:06d}"
    assert valid_ts(slack) and ts_time(slack) == datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    for other in (f"0{slack}", f"{slack}0", f"{seconds}.{micros}", slack.rstrip("0")):
        assert other == slack or not valid_ts(other), other
    assert not valid_ts("1795900000.1") and not valid_ts("0179590000.100000")
