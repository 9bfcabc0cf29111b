"""Pure parsers of the feedback room: Slack's message events, and what people type."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.features.feedback import events
from bot.features.feedback.commands import (
    BadValue,
    parse_duration,
    parse_emoji_name,
    parse_feedback_text,
)
from bot.features.feedback.importer import parse_created_at
from tests.people import SLACKBOT

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(["type", "subtype", "channel", "user", "text", "ts", "thread_ts", "bot_id", "blocks",
                        "message", "previous_message", "deleted_ts", "files", "item", "reaction"])  # fmt: skip


@given(st.dictionaries(KEYS, JSONISH, max_size=8))
def test_classify_and_reaction_never_raise(event):
    assert events.classify(event) is not None
    events.reaction(event)


@given(st.lists(JSONISH, max_size=5))
def test_blocks_text_never_raises(blocks):
    assert isinstance(events.blocks_text(blocks), str)


def test_classify_names_what_a_message_event_is():
    base = {"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.000001"}
    assert isinstance(events.classify(base), events.Post)
    assert isinstance(events.classify(base | {"thread_ts": "0.000001"}), events.Reply)
    assert isinstance(events.classify(base | {"thread_ts": "1.000001"}), events.Post)  # a parent carries its own ts
    assert isinstance(events.classify(base | {"subtype": "thread_broadcast", "thread_ts": "0.000001"}), events.Reply)
    assert isinstance(events.classify(base | {"bot_id": "B1"}), events.Ignored)
    assert isinstance(events.classify(base | {"user": SLACKBOT, "thread_ts": "0.000001"}), events.Ignored)
    assert isinstance(events.classify(base | {"subtype": "channel_join"}), events.Ignored)
    assert isinstance(events.classify(base | {"text": "  "}), events.Ignored)
    assert isinstance(events.classify({"type": "message", "subtype": "message_deleted", "channel": "C1",
                                       "deleted_ts": "1.000001"}), events.Deleted)  # fmt: skip


def test_feedback_is_stored_as_people_read_it():
    # Slack's markup itself is read by bot.slack.markup (tests/slack/test_markup.py).
    event = {"type": "message", "channel": "C1", "user": "U1", "ts": "1.000001",
             "text": "<@U123|maya> says &lt;3 <https://x.example|docs>"}  # fmt: skip
    assert events.classify(event).text == "@maya says <3 docs (https://x.example)"
    blocks = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "user", "user_id": "U123"}, {"type": "text", "text": " says <3"}]}]}]  # fmt: skip
    assert events.classify(event | {"text": "", "blocks": blocks}).text == "@U123 says <3"


def test_ts_time_is_exact():
    assert events.ts_time("1795600000.000100") == datetime(2026, 11, 25, 9, 46, 40, 100, tzinfo=UTC)


@given(st.integers(min_value=1, max_value=2160))
def test_any_whole_number_of_hours_in_range_is_a_duration(hours):
    assert parse_duration(f"{hours}h") == timedelta(hours=hours)


@given(st.text(max_size=30))
def test_parse_duration_accepts_only_what_it_understands(text):
    try:
        span = parse_duration(text)
    except BadValue as exc:
        assert "<" not in str(exc)  # the echo of bad input is escaped
    else:
        assert timedelta(hours=1) <= span <= timedelta(days=90)


@given(st.text(max_size=120))
def test_emoji_names_have_slack_s_shape(text):
    try:
        name = parse_emoji_name(text)
    except BadValue:
        return
    assert name == name.lower() and ":" not in name and " " not in name and 0 < len(name) <= 100


@pytest.mark.parametrize(("raw", "text", "customer", "origin"), [
    ("Globex wants Spanish", "Globex wants Spanish", None, None),
    ('Globex wants Spanish customer:"Globex Corp" source:phone', "Globex wants Spanish", "Globex Corp", "phone"),
    ("source:email customer:Acme The invoice is wrong", "The invoice is wrong", "Acme", "email"),
    ("Customer:Acme  slow\nexport", "slow\nexport", "Acme", None),
    ("the customer: said so", "the customer: said so", None, None),
])  # fmt: skip
def test_feedback_text_tokens(raw, text, customer, origin):
    parsed = parse_feedback_text(raw)
    assert (parsed.text, parsed.customer, parsed.origin) == (text, customer, origin)


@given(st.text(max_size=200))
def test_parse_feedback_text_never_raises(raw):
    parsed = parse_feedback_text(raw)
    assert isinstance(parsed.text, str)


NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
    ("2026-11-20T14:30:00Z", datetime(2026, 11, 20, 14, 30, tzinfo=UTC)),
    ("2026-11-20 14:30+01:00", datetime(2026, 11, 20, 13, 30, tzinfo=UTC)),
    ("1795000000", datetime.fromtimestamp(1795000000, UTC)),
])  # fmt: skip
def test_created_at_formats(value, expected):
    assert parse_created_at(value, NOW) == expected


@pytest.mark.parametrize("value", ["", "yesterday", "2026-02-30", "20/11/2026", "2027-01-01", "9" * 30])
def test_bad_created_at_says_why(value):
    with pytest.raises(ValueError, match="created_at"):
        parse_created_at(value, NOW)
