"""Every value of a payload is read once, at the edge, into typed fields (issue 20).

`bot.slack.requests.interaction` turns an interaction payload into an `Interaction` whose
fields are what they say, or refuses it (`BadRequest`) when it names no person; the
front app's middleware does that for every interaction, over HTTP and Socket Mode, and
listeners read nothing else. These are the values that used to raise inside Heard: a
`ts` that overflows the year, view values that are not a dict, a state block that is a
string, a user id that is a list, a shortcut whose channel is not an object, a 40-digit
id. Each is a clear answer or a logged skip, never a traceback.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt import BoltRequest

from bot.features.admin import views as admin_views
from bot.features.admin.handlers import SETTINGS
from bot.features.decisions import views as decision_views
from bot.features.digest import views as digest_views
from bot.features.feedback import views as feedback_views
from bot.features.feedback.setup import SETUP_MODAL
from bot.features.stories import views as story_views
from bot.slack.engagement import ts_time, valid_ts
from bot.slack.requests import (
    MAX_ID,
    BadRequest,
    FormValues,
    Interaction,
    View,
    interaction,
    record_id,
)
from tests.features.feedback.room import feedback  # noqa: F401  (the fixture)
from tests.people import ACME, FEEDBACK, GENERAL, MAYA, PRIYA

OVERFLOWING_TS = "999999999999.999999"


def submission(callback_id: str, *, state=None, metadata="{}", user=None, view_id="V0TYPED001") -> dict:
    view = {"id": view_id, "type": "modal", "callback_id": callback_id, "hash": "1.x", "blocks": [],
            "private_metadata": metadata, "state": state if state is not None else {"values": {}}}  # fmt: skip
    return {"type": "view_submission", "team": {"id": ACME}, "user": user if user is not None else {"id": MAYA},
            "api_app_id": "A0HEARD", "trigger_id": "1.2.3", "view": view}  # fmt: skip


# -- the parser, alone ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [["U0MAYA0001"], "U0MAYA0001", {"id": ["U0MAYA0001"]}, {"id": ""}, {}, 7,
                                  {"id": "U" + "9" * 40}])  # fmt: skip
def test_an_interaction_that_names_no_person_is_a_bad_request(user):
    with pytest.raises(BadRequest):
        interaction(submission(feedback_views.LOG_MODAL, user=user))


@pytest.mark.parametrize("body", [None, [], "view_submission", {"type": "event_callback", "user": {"id": MAYA}}])
def test_what_is_not_an_interaction_is_a_bad_request(body):
    with pytest.raises(BadRequest):
        interaction(body)


def test_a_view_submission_without_a_view_is_a_bad_request():
    with pytest.raises(BadRequest):
        interaction({"type": "view_submission", "user": {"id": MAYA}, "view": "V1"})


@pytest.mark.parametrize("state", [
    {"values": []}, {"values": "x"}, {"values": None}, "state", [], {"values": {"customer": "a string"}},
    {"values": {"customer": ["x"]}}, {"values": {"customer": {"input": "a string"}}},
    {"values": {"customer": {"input": {"value": ["not", "text"]}}}},
])  # fmt: skip
def test_values_of_any_other_shape_read_as_nothing_entered(state):
    view = interaction(submission(feedback_views.LOG_MODAL, state=state)).view
    assert view.values.text("customer") is None
    assert view.values.selected("customer") is None
    assert view.values.selected_values("customer") == ()
    assert view.values.conversation("customer") is None
    assert view.values.users("customer") == []


def test_values_shaped_as_slack_sends_them_are_read():
    values = {"t": {"a": {"type": "plain_text_input", "value": "  hello "}},
              "s": {"a": {"type": "static_select", "selected_option": {"value": "high"}}},
              "m": {"a": {"type": "multi_static_select", "selected_options": [{"value": "1"}, {"value": 2}, "x"]}},
              "c": {"a": {"type": "conversations_select", "selected_conversation": FEEDBACK}},
              "u": {"a": {"type": "multi_users_select", "selected_users": [MAYA, 5, PRIYA]}},
              "bad": {"a": {"type": "conversations_select", "selected_conversation": "<!channel>"}}}  # fmt: skip
    form = FormValues.of({"values": values})
    assert form.text("t") == "  hello " and form.filled("t") == "hello"
    assert form.selected("s") == "high"
    assert form.selected_values("m") == ("1", "2") and form.checked("m")
    assert form.conversation("c") == FEEDBACK and form.conversation("bad") is None
    assert form.users("u") == [MAYA, PRIYA]


@pytest.mark.parametrize("channel", ["C0FEEDBACK", 5, ["C0FEEDBACK"], {"id": 5}, {"id": "<!here>"}, None])
def test_a_channel_that_is_not_an_object_with_a_conversation_id_is_no_channel(channel):
    body = {"type": "message_action", "user": {"id": MAYA}, "channel": channel, "callback_id": "log_feedback",
            "message": {"ts": "1764000000.000100", "text": "x"}}  # fmt: skip
    assert interaction(body).channel_id is None


@pytest.mark.parametrize("metadata", [5, ["x"], {"item": 1}, None, "x" * 10_000])
def test_metadata_that_is_not_json_text_reads_as_empty(metadata):
    view = interaction(submission(feedback_views.RESOLVE_MODAL, metadata=metadata)).view
    assert isinstance(view.private_metadata, str) and view.metadata() == {}


def test_an_oversize_view_id_is_no_id():
    assert interaction(submission(story_views.ADD_MODAL, view_id="V" * 65)).view.id is None
    assert interaction(submission(story_views.ADD_MODAL, view_id="V0TYPED001")).view.id == "V0TYPED001"


@pytest.mark.parametrize(("value", "expected"), [
    ("12", 12), (12, 12), (" 7 ", 7), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), ("9" * 40, None),
    ("0", None), ("-1", None), (-1, None), (True, None), ("1.5", None), (1.5, None), ("١٢", None), ("", None),
    (None, None), (["1"], None), ("1e3", None),
])  # fmt: skip
def test_record_ids_are_positive_64_bit_numbers(value, expected):
    assert record_id(value) == expected


def test_a_ts_whose_year_overflows_is_not_a_ts():
    assert not valid_ts(OVERFLOWING_TS)
    assert not valid_ts("1764000000.000100\n") and not valid_ts("١٧٦٤٠٠٠٠٠٠.1")
    assert valid_ts("1764000000.000100") and valid_ts("9999999999.999999")


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\A[0-9]{1,14}\.[0-9]{1,8}\Z"))
def test_every_valid_ts_has_a_time(ts):
    if valid_ts(ts):
        assert ts_time(ts).year >= 1970


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def mutated(data, value, depth=0):
    keys = sorted(value) if isinstance(value, dict) else []
    if keys and depth < 5 and data.draw(st.integers(0, 3)):
        key = data.draw(st.sampled_from(keys))
        return {**value, key: mutated(data, value[key], depth + 1)}
    if isinstance(value, list) and value and depth < 5 and data.draw(st.integers(0, 3)):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], mutated(data, value[index], depth + 1), *value[index + 1 :]]
    return data.draw(JUNK)


REAL = [
    submission(feedback_views.LOG_MODAL, state={"values": {"customer": {"customer": {"value": "Globex"}}}}),
    {"type": "block_actions", "user": {"id": MAYA, "name": "maya"}, "team": {"id": ACME}, "trigger_id": "1.2",
     "container": {"type": "message", "channel_id": FEEDBACK, "message_ts": "1764000000.000100"},
     "channel": {"id": FEEDBACK}, "message": {"ts": "1764000000.000100", "user": PRIYA, "text": "hi"},
     "response_url": "https://hooks.slack.example/1", "actions": [{"action_id": "feedback_acknowledge", "value": "3"}]},
    {"type": "message_action", "user": {"id": MAYA}, "channel": {"id": FEEDBACK}, "callback_id": "log_feedback",
     "message_ts": "1764000000.000100", "message": {"ts": "1764000000.000100", "text": "x", "user": PRIYA,
                                                     "bot_profile": {"name": "Zendesk"}}},
    {"type": "block_suggestion", "user": {"id": MAYA}, "action_id": "decision_links", "value": "export"},
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_payload_is_an_interaction_with_typed_fields_or_a_bad_request(data):
    body = mutated(data, data.draw(st.sampled_from(REAL)))
    try:
        found = interaction(body)
    except BadRequest:
        return
    assert isinstance(found, Interaction) and isinstance(found.user_id, str) and found.user_id
    for name in ("user_name", "team_id", "trigger_id", "response_url", "channel_id", "container_type",
                 "callback_id", "action_id", "value", "message_ts"):  # fmt: skip
        assert isinstance(getattr(found, name), str | None), name
    assert found.message_ts is None or valid_ts(found.message_ts)
    assert found.action_record_id is None or 0 < found.action_record_id <= MAX_ID
    if found.view is not None:
        assert isinstance(found.view, View) and isinstance(found.view.private_metadata, str)
        assert isinstance(found.view.metadata(), dict)
        for block in found.view.values.blocks.values():
            assert all(isinstance(element, dict) for element in block.values())
    if found.message is not None:
        assert isinstance(found.message.user, str | None) and isinstance(found.message.bot_name, str | None)


# -- through Heard: a clear answer or a logged skip ---------------------------------------------------


@pytest.fixture
def quiet(caplog):
    caplog.set_level(logging.INFO)

    def check():
        tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
        assert not tracebacks, tracebacks

    return check


def test_a_message_whose_ts_overflows_the_year_is_skipped(feedback, quiet):  # noqa: F811 - the fixture
    event = {"type": "message", "channel": FEEDBACK, "user": PRIYA, "text": "the export is slow",
             "ts": OVERFLOWING_TS, "channel_type": "channel"}  # fmt: skip
    feedback.event(event)
    feedback.event({"type": "message", "channel": FEEDBACK, "user": MAYA, "text": "on it", "ts": "1764000000.000200",
                    "thread_ts": OVERFLOWING_TS})  # fmt: skip
    feedback.react(MAYA, OVERFLOWING_TS)
    feedback.delete(OVERFLOWING_TS)
    quiet()
    # The reply whose thread is no message reads as a post of its own; nothing has the bad ts.
    assert [(item.text, item.message_ts) for item in feedback.items()] == [("on it", "1764000000.000200")]
    feedback.post(PRIYA, "A real one still counts")
    assert [item.text for item in feedback.items()][-1] == "A real one still counts"


MODALS = [feedback_views.LOG_MODAL, feedback_views.RESOLVE_MODAL, decision_views.LOG_MODAL, story_views.ADD_MODAL,
          story_views.REFLECT_MODAL, SETUP_MODAL, *(admin_views.setting_callback(s) for s in SETTINGS)]  # fmt: skip
BAD_STATES = {
    "values-a-list": {"values": [1, 2]},
    "values-a-string": {"values": "x"},
    "state-a-string": "state",
    "block-a-string": {"values": {"customer": "x", "channel": "x", "title": "x", "decided": "x", "name": "x"}},
    "element-a-list": {"values": {"customer": {"customer": [1]}, "channel": {"pick": ["C0GENERAL1"]}}},
    "value-a-list": {"values": {"channel": {"pick": {"type": "conversations_select", "selected_conversation": [1]}}}},
}


@pytest.mark.parametrize("callback_id", MODALS)
def test_a_modal_submitted_with_values_of_the_wrong_shape_gets_an_answer(feedback, quiet, callback_id):  # noqa: F811 - the fixture
    metadata = json.dumps({"item": "9" * 40, "post": "9" * 40, "edit": "9" * 40, "source": ["x"]})
    for name, state in BAD_STATES.items():
        response = feedback.heard.sender.interaction(submission(callback_id, state=state, metadata=metadata))
        feedback.heard.listeners.drain()
        assert response.status == 200, (name, response.text)
        if response.text:  # inline errors, or the modal turned into an answer
            assert response.json()["response_action"] in ("errors", "update"), name
    quiet()
    assert feedback.items() == []


@pytest.mark.parametrize("action_id", [feedback_views.ACKNOWLEDGE_ACTION, feedback_views.RESOLVE_ACTION,
                                       story_views.APPROVE_ACTION, story_views.DISCARD_ACTION,
                                       story_views.EDIT_ACTION, story_views.REFLECT_ACTION])  # fmt: skip
def test_a_button_carrying_a_forged_id_is_told_it_does_not_exist(feedback, quiet, action_id):  # noqa: F811 - the fixture
    for value in ("9" * 40, "-1", "١", "1e9", ""):
        url = feedback.slack.response_url(ACME)
        payload = feedback.heard.sender.block_actions_payload(
            team_id=ACME, user_id=MAYA, channel_id=FEEDBACK, message={"ts": "1764000000.000100", "text": "card"},
            action={"action_id": action_id, "block_id": "b", "type": "button", "value": value})  # fmt: skip
        payload["response_url"] = url
        feedback.interact(payload)
        [answer] = feedback.slack.responses(url)
        assert "exist" in answer["text"], (value, answer)
    quiet()


# -- Bolt's own door (Socket Mode has no HTTP front): the middleware reads every interaction ----------


def bolt_dispatch(heard, payload: dict):
    """`payload` handed to the Bolt app as Socket Mode would, past the HTTP front's checks."""
    body = "payload=" + quote(json.dumps(payload))
    stamp = str(int(time.time()))
    headers = {"content-type": ["application/x-www-form-urlencoded"], "x-slack-request-timestamp": [stamp],
               "x-slack-signature": [heard.sender.signature_for(stamp, body.encode())]}  # fmt: skip
    response = heard.app.dispatch(BoltRequest(body=body, headers=headers))
    heard.listeners.drain()
    return response


@pytest.mark.parametrize("user", [["U0MAYA0001"], {"id": ["U0MAYA0001"]}, {"id": 5}])
def test_a_user_id_that_is_not_a_string_is_skipped_with_one_line(feedback, caplog, quiet, user):  # noqa: F811 - the fixture
    payload = submission(feedback_views.LOG_MODAL, user=user)
    response = bolt_dispatch(feedback.heard, payload)
    assert response.status == 200 and response.body == ""
    assert "skipped an interaction" in caplog.text
    quiet()


# A number or a list never gets this far: the HTTP front and Socket Mode refuse it
# (`bot.slack.front.check_shape`; tests/security/test_front_door.py).
@pytest.mark.parametrize("channel", ["C0FEEDBACK", {"id": 5}, {"name": "general"}, {"id": "<!here>"}])
def test_a_shortcut_whose_channel_is_not_an_object_with_an_id_says_it_cannot_log(feedback, quiet, channel):  # noqa: F811 - the fixture
    message = feedback.slack.post_as(PRIYA, GENERAL, "The export drops rows")
    payload = feedback.heard.sender.message_shortcut_payload(
        team_id=ACME, user_id=MAYA, callback_id=feedback_views.LOG_SHORTCUT, channel_id=GENERAL, message=message)
    payload["channel"] = channel
    assert bolt_dispatch(feedback.heard, payload).status == 200
    quiet()
    assert feedback.slack.opened_views()[-1]["title"]["text"] == "Can't log this"
    assert feedback.items() == []


# -- found in review: values of the right type in the wrong place ---------------------------------------


@pytest.mark.parametrize("action_id", [story_views.APPROVE_ACTION, story_views.DISCARD_ACTION,
                                       story_views.EDIT_ACTION, story_views.REFLECT_ACTION])  # fmt: skip
def test_a_story_button_without_a_response_url_is_a_logged_skip(feedback, quiet, action_id):  # noqa: F811 - the fixture
    payload = feedback.heard.sender.block_actions_payload(
        team_id=ACME, user_id=MAYA, channel_id=FEEDBACK, message={"ts": "1764000000.000100", "text": "card"},
        action={"action_id": action_id, "block_id": "b", "type": "button", "value": "5"})  # fmt: skip
    payload.pop("response_url", None)
    assert feedback.interact(payload).status == 200
    quiet()  # Bolt's `respond` raises without a response_url: nowhere to answer is no traceback


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "1e400", "NaN"])
def test_a_resolve_modal_whose_item_is_not_a_finite_number_gets_an_inline_error(feedback, quiet, number):  # noqa: F811 - the fixture
    metadata = f'{{"item": {number}}}'  # JSON as Python reads it: json.loads takes these
    response = feedback.interact(submission(feedback_views.RESOLVE_MODAL, metadata=metadata))
    assert response.json()["response_action"] == "errors"
    assert "does not exist" in response.json()["errors"][feedback_views.RESOLUTION_INPUT]
    quiet()


MISPLACED = {  # an element of one type under the block id of another: a list where text goes, text where people go
    "list-for-text": {"values": {block: {block: {"type": "multi_users_select", "selected_users": [MAYA]}}
                                 for block in ("name", "channel", "usergroup", "job", "when")}},
    "text-for-people": {"values": {"people": {"people": {"type": "plain_text_input", "value": MAYA}}}},
}


@pytest.mark.parametrize("setting", SETTINGS)
def test_an_admin_modal_with_an_element_of_another_type_in_a_block_gets_an_answer(feedback, quiet, setting):  # noqa: F811 - the fixture
    for name, state in MISPLACED.items():
        response = feedback.heard.sender.interaction(submission(admin_views.setting_callback(setting), state=state))
        feedback.heard.listeners.drain()
        assert response.status == 200, (name, response.text)
        if response.text:
            assert response.json()["response_action"] == "errors", name
    quiet()


@pytest.mark.parametrize("action_id", [story_views.FROM_FEEDBACK_ACTION, digest_views.RESOLVE_ACTION,
                                       digest_views.ASSIGN_ACTION, digest_views.ACKNOWLEDGE_ACTION])  # fmt: skip
@pytest.mark.parametrize("value", ["²", "١٢", "𝟙"])  # digits to str.isdigit(), and not all of them to int()
def test_a_feedback_id_in_other_digits_is_no_id(feedback, quiet, action_id, value):  # noqa: F811 - the fixture
    item = feedback.item(feedback.post(PRIYA, "The export drops rows")["ts"])
    assert item.id == 1  # "١" would be read as this item, "²" raised in int()
    payload = feedback.heard.sender.block_actions_payload(
        team_id=ACME, user_id=MAYA, channel_id=FEEDBACK, message={"ts": "1764000000.000100", "text": "card"},
        action={"action_id": action_id, "block_id": "b", "type": "button", "value": value})  # fmt: skip
    assert feedback.interact(payload).status == 200
    quiet()
    assert not any("export drops rows" in json.dumps(view) for view in feedback.slack.opened_views())
