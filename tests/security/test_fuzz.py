"""Fuzz every door of every room (issue 20): slash-command text, event payloads and
interaction payloads, well-formed JSON with hostile values and shapes, signed as Slack
signs them. Zero 5xx, zero unhandled exceptions in the log, and Heard keeps answering.

Two depths, one budget:

- the edge, in process: every payload through what reads it first (the front's shape
  check, `bot.slack.requests.interaction`, `bot.slack.engagement`, the feedback room's
  `classify`, the command parser). `FUZZ_EDGE_EXAMPLES` (10,000 in CI) payloads in a
  couple of seconds: Hypothesis draws a seed and a text per example, and the seed
  mutates `PER_SEED` payloads (a failure names its seed and payload);
- the whole of Heard, over HTTP against the fake Slack, one server for every example, the
  listeners and the inbox drained after each: `FUZZ_EXAMPLES` (200 in CI).

`make fuzz` runs both with `HEARD_FUZZ_EXAMPLES` (default 5,000 whole-Heard examples, and
ten times that at the edge).
"""

from __future__ import annotations

import json
import logging
import os
import random

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bot.features import load_rooms
from bot.features.admin import views as admin_views
from bot.features.admin.handlers import SETTINGS
from bot.features.decisions import views as decision_views
from bot.features.digest import views as digest_views
from bot.features.feedback import events as feedback_events
from bot.features.feedback import views as feedback_views
from bot.features.feedback.setup import SETUP_ACTION, SETUP_MODAL
from bot.features.stories import views as story_views
from bot.slack import engagement
from bot.slack.front import Refused, check_shape
from bot.slack.requests import BadRequest, command_words, interaction
from tests.people import ACME, FEEDBACK, GENERAL, GLOBEX, MAYA, PRIYA, SAM, STORIES, SUPPORT_GROUP

_ASKED = int(os.environ.get("HEARD_FUZZ_EXAMPLES") or 0)
FUZZ_EXAMPLES = _ASKED or 200
FUZZ_EDGE_EXAMPLES = max(10 * _ASKED, 10_000)
JSON = "application/json"

HOSTILE_TEXT = [
    "<!channel>", "<!here>", "<!everyone>", f"<!subteam^{SUPPORT_GROUP}|@support>", f"<@{MAYA}>", "<#C0NOPE0001|x>",
    "'; DROP TABLE feedback_items;--", "\x00", "\u202e", "&lt;!channel&gt;", "<https://evil.example|x>", "9" * 40,
    "999999999999.999999", "-1", "1e308", "NaN", "null", "{}", "[]", "🙂" * 50, "x" * 5000,
    "\ud800", "half an emoji \ud83d", "\udfff\ud800", "\U0010ffff",
]  # fmt: skip
# Every code point, lone UTF-16 surrogates included: JSON can write one ("\ud800") and
# Python reads it into a str nothing can encode. Hypothesis leaves them out by default
# and draws them rarely from the whole range, so they are drawn on their own too.
ANY_CHARACTER = st.characters(exclude_categories=()) | st.characters(categories=["Cs"])
ANY_TEXT = st.text(ANY_CHARACTER, max_size=12)
LEAF = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(HOSTILE_TEXT) | ANY_TEXT
)  # fmt: skip
JUNK = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(ANY_CHARACTER, max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


def mutated(data, value, depth: int = 0):
    """`value` with one field somewhere inside it replaced by junk (a hostile string, a
    number, a list, an object…), or left as it is."""
    keys = sorted(value) if isinstance(value, dict) else []
    if keys and depth < 5 and data.draw(st.integers(0, 4)):
        key = data.draw(st.sampled_from(keys))
        return {**value, key: mutated(data, value[key], depth + 1)}
    if isinstance(value, list) and value and depth < 5 and data.draw(st.integers(0, 3)):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], mutated(data, value[index], depth + 1), *value[index + 1 :]]
    if depth == 0:
        return value
    return data.draw(JUNK)


# -- one of each request every room listens for, as Slack sends it ------------------------------------

TS, REPLY_TS = "1764000000.000100", "1764000000.000200"


def events() -> list[dict]:
    message = {"type": "message", "channel": FEEDBACK, "user": PRIYA, "text": "The export is slow", "ts": TS,
               "channel_type": "channel", "team": ACME}  # fmt: skip
    return [
        message,
        message | {"channel": STORIES},
        message | {"ts": REPLY_TS, "thread_ts": TS, "user": SAM, "text": "on it"},
        message | {"channel": STORIES, "ts": REPLY_TS, "thread_ts": TS, "user": SAM},
        {"type": "message", "subtype": "message_changed", "channel": FEEDBACK, "hidden": True, "ts": REPLY_TS,
         "message": {"type": "message", "user": PRIYA, "text": "The export is very slow", "ts": TS,
                     "edited": {"user": PRIYA, "ts": REPLY_TS}},
         "previous_message": {"type": "message", "user": PRIYA, "text": "The export is slow", "ts": TS}},
        {"type": "message", "subtype": "message_deleted", "channel": FEEDBACK, "hidden": True, "deleted_ts": TS,
         "previous_message": {"type": "message", "ts": TS, "thread_ts": TS, "text": "gone"}},
        {"type": "message", "subtype": "bot_message", "channel": FEEDBACK, "bot_id": "B0ZENDESK1", "ts": TS,
         "username": "Zendesk", "text": "Ticket", "blocks": [{"type": "rich_text", "elements": [
             {"type": "rich_text_section", "elements": [{"type": "text", "text": "Ticket"}]}]}]},
        {"type": "reaction_added", "user": SAM, "reaction": "eyes", "item_user": PRIYA, "event_ts": REPLY_TS,
         "item": {"type": "message", "channel": FEEDBACK, "ts": TS}},
        {"type": "reaction_removed", "user": SAM, "reaction": "+1::skin-tone-2", "event_ts": REPLY_TS,
         "item": {"type": "message", "channel": STORIES, "ts": TS}},
        {"type": "app_home_opened", "user": SAM, "channel": "D0SAMHOME1", "tab": "home"},
    ]  # fmt: skip


def interactions(sender) -> list[dict]:
    message = {"type": "message", "ts": TS, "text": "card", "user": PRIYA}

    def button(action_id: str, value: str = "1") -> dict:
        return sender.block_actions_payload(
            team_id=ACME, user_id=MAYA, channel_id=FEEDBACK, message=message,
            action={"action_id": action_id, "block_id": "b", "type": "button", "value": value})  # fmt: skip

    def submitted(callback_id: str, values: dict, metadata: str = "{}") -> dict:
        view = {"id": "V0FUZZ0001", "type": "modal", "callback_id": callback_id, "hash": "1.x", "blocks": [],
                "private_metadata": metadata, "team_id": ACME}  # fmt: skip
        return sender.view_submission_payload(team_id=ACME, user_id=MAYA, view=view, values=values)

    def text(block: str, value: str = "Globex") -> dict:
        return {block: {block: {"type": "plain_text_input", "value": value}}}

    admin_values = {"channel": {"pick": {"type": "conversations_select", "selected_conversation": GENERAL}},
                    "people": {"pick": {"type": "multi_users_select", "selected_users": [SAM]}},
                    "name": {"name": {"type": "plain_text_input", "value": "Support"}},
                    "job": {"job": {"type": "static_select", "selected_option": {"value": "weekly-story"}}},
                    "when": {"when": {"type": "plain_text_input", "value": "mon 10:00"}}}  # fmt: skip
    story = {**text(story_views.TITLE, "Saved a launch"), **text(story_views.CUSTOMER), **text(story_views.HAPPENED),
             **text(story_views.LEARNED), **text(story_views.LINK, "https://example.com")}  # fmt: skip
    decision = {"department": {"d": {"type": "static_select", "selected_option": {"value": "Support"}}},
                **text("decided", "Ship it"), "impact": {"i": {"type": "static_select",
                                                                "selected_option": {"value": "high"}}},
                "links": {"l": {"type": "multi_external_select", "selected_options": [{"value": "1"}]}}}  # fmt: skip
    found = [
        button(feedback_views.ACKNOWLEDGE_ACTION), button(feedback_views.RESOLVE_ACTION),
        button(digest_views.ACKNOWLEDGE_ACTION), button(digest_views.ASSIGN_ACTION), button(digest_views.OPEN_ACTION),
        submitted(digest_views.ASSIGN_MODAL, {digest_views.DEPARTMENT_INPUT: decision["department"]}, '{"item": 1}'),
        button(decision_views.LOG_ACTION, "Support"), button(SETUP_ACTION, ""),
        *(button(action) for action in (story_views.APPROVE_ACTION, story_views.DISCARD_ACTION,
                                        story_views.EDIT_ACTION, story_views.REFLECT_ACTION)),
        *(button(admin_views.setup_action(setting), "") for setting in SETTINGS),
        submitted(feedback_views.LOG_MODAL, text(feedback_views.CUSTOMER_INPUT)),
        submitted(feedback_views.RESOLVE_MODAL, text(feedback_views.RESOLUTION_INPUT, "done"), '{"item": 1}'),
        submitted(decision_views.LOG_MODAL, decision),
        submitted(story_views.ADD_MODAL, story, '{"source": "command"}'),
        submitted(story_views.REFLECT_MODAL, text(story_views.REFLECTION, "Lovely"), '{"post": 1}'),
        submitted(SETUP_MODAL, {"channel": admin_values["channel"]}),
        *(submitted(admin_views.setting_callback(setting), admin_values) for setting in SETTINGS),
        sender.message_shortcut_payload(team_id=ACME, user_id=MAYA, callback_id=feedback_views.LOG_SHORTCUT,
                                        channel_id=FEEDBACK, message=message),
        {"type": "block_suggestion", "user": {"id": MAYA, "team_id": ACME}, "team": {"id": ACME},
         "api_app_id": "A0HEARD", "action_id": decision_views.LINKS_ACTION, "block_id": "links", "value": "export",
         "view": {"id": "V0FUZZ0002", "callback_id": decision_views.LOG_MODAL, "type": "modal"}},
    ]  # fmt: skip
    return found


GRAMMAR = sorted({word for command in load_rooms().router for word in command.name.split()} | {
    "add", "remove", "list", "now", "on", "off", "help", "stories", "digest", "weekly-story", '"mon 10:00"', "72h",
    "eyes", f"<#{FEEDBACK}|customer-feedback>", f"<#{GENERAL}|general>", f"<@{SAM}|sam>", "customer:Globex",
    "source:email", '"', "'", "“",
} | set(HOSTILE_TEXT[:12]))  # fmt: skip
COMMAND_TEXT = st.one_of(st.text(max_size=80), st.lists(st.sampled_from(GRAMMAR) | st.text(max_size=8), max_size=6)
                         .map(" ".join))  # fmt: skip


# -- the edge, in process ------------------------------------------------------------------------------


class _Sender:  # the payload builders only; nothing is sent
    def __init__(self):
        from bot.sandbox import SlackRequestSender

        self._real = SlackRequestSender("http://127.0.0.1:9", "secret", bot_user_id="U0HEARDBOT",
                                        response_url_factory=lambda team: "https://hooks.slack.example/x")  # fmt: skip

    def __getattr__(self, name):
        return getattr(self._real, name)


EDGE_INTERACTIONS = interactions(_Sender())
EDGE_EVENTS = [{"type": "event_callback", "team_id": ACME, "event_id": "Ev1", "event": event} for event in events()]


def junk(rng: random.Random, depth: int = 0):
    """A hostile value of any JSON type, drawn from a seeded `random.Random` (ten times
    cheaper per example than Hypothesis' own strategies, which is what lets the edge
    take 10,000 examples in a few seconds)."""
    kind = rng.randrange(9 if depth < 2 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, 10**40, -(10**40)])
    if kind == 3:
        return rng.choice([0.5, float("inf"), float("-inf"), float("nan"), 1e308])
    if kind in (4, 5):
        return rng.choice(HOSTILE_TEXT)
    if kind == 6:  # ASCII, any code point, or a lone surrogate
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x110000), rng.randrange(0xD800, 0xE000)]))
                       for _ in range(rng.randrange(8)))  # fmt: skip
    if kind == 7:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(["id", "type", "value", "ts", "text", "values", "x"]): junk(rng, depth + 1)
            for _ in range(rng.randrange(3))}  # fmt: skip


def mutated_by(rng: random.Random, value, depth: int = 0):
    """`mutated`, with a seeded `random.Random` for its choices."""
    if isinstance(value, dict) and value and depth < 5 and rng.randrange(5):
        key = rng.choice(sorted(value))
        return {**value, key: mutated_by(rng, value[key], depth + 1)}
    if isinstance(value, list) and value and depth < 5 and rng.randrange(4):
        index = rng.randrange(len(value))
        return [*value[:index], mutated_by(rng, value[index], depth + 1), *value[index + 1 :]]
    return value if depth == 0 else junk(rng)


PER_SEED = 1  # payloads per Hypothesis example: CI runs 10,000 examples, as issue 20 asks


@settings(max_examples=FUZZ_EDGE_EXAMPLES // PER_SEED, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**64 - 1), text=st.text(ANY_CHARACTER, max_size=60))
def test_the_edge_reads_any_payload_without_raising(seed, text):
    rng = random.Random(seed)
    assert all(isinstance(word, str) for word in command_words(text))
    for _ in range(PER_SEED):
        kind = rng.choice(["event", "interaction", "command"])
        if kind == "command":
            words = command_words(" ".join(rng.choices(GRAMMAR + HOSTILE_TEXT, k=rng.randrange(6))))
            assert all(isinstance(word, str) for word in words)
            continue
        body = mutated_by(rng, rng.choice(EDGE_EVENTS if kind == "event" else EDGE_INTERACTIONS))
        note(f"payload: {body!r}")
        read_at_the_edge(kind, body)


def read_at_the_edge(kind: str, body: dict) -> None:
    try:
        check_shape(body)
    except Refused:
        return  # what the front (and Socket Mode) refuse never reaches anything else
    # What passes can be stored, logged and sent: no lone surrogate is left in it.
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    if kind == "event":
        event = body["event"]
        engagement.engagement(event)
        if event.get("type") == "message":
            feedback_events.classify(event)
        return
    try:
        interaction(body)
    except BadRequest:
        return


# -- the whole of Heard --------------------------------------------------------------------------------


@pytest.fixture
def heard(heard_server, workspace, caplog):
    workspace(feedback_channels=[FEEDBACK])
    caplog.set_level(logging.INFO)
    return heard_server()


def assert_quiet(caplog, capsys) -> None:
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, tracebacks
    assert "Traceback" not in capsys.readouterr().err


# SQLite only, and one server for every example (the `heard` fixture is shared on purpose).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_heard_answers_any_request_of_any_room_without_a_500_or_a_traceback(heard, caplog, capsys, data):
    caplog.clear()
    kind = data.draw(st.sampled_from(["event", "interaction", "command"]))
    user = data.draw(st.sampled_from([MAYA, SAM]))
    if kind == "command":
        text = data.draw(COMMAND_TEXT)
        team = data.draw(st.sampled_from([ACME, ACME, GLOBEX]))
        response = heard.sender.command(text, team_id=team, user_id=user,
                                        channel_id=data.draw(st.sampled_from([GENERAL, FEEDBACK])))  # fmt: skip
    elif kind == "event":
        event = mutated(data, data.draw(st.sampled_from(events())))
        response = heard.sender.event(event, team_id=ACME)
    else:
        payload = mutated(data, data.draw(st.sampled_from(interactions(heard.sender))))
        response = heard.sender.interaction(payload)
    heard.listeners.drain()  # the listeners after the ack, and the inbox's pass over the event

    assert response.status < 500, response.text
    assert_quiet(caplog, capsys)
    still = heard.sender.url_verification("still-here")
    assert still.status == 200 and "still-here" in still.text
