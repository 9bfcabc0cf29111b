"""A week with an empty bank: a draft from recent feedback goes to the admins for review
(the LLM's, or the offline template's when there is no key or the LLM fails); it is never
posted unreviewed."""

import pytest

from tests.features.feedback.helpers import pings, texts
from tests.features.stories.room import MONDAY, STORIES, Stories
from tests.people import PRIYA, SAM

FEEDBACK = 'feedback Dock alerts never reach the night shift <!channel> customer:"Northwind Logistics"'


@pytest.fixture
def with_llm(workspace, heard_server, fake_slack, llm_config):
    workspace(admins=1)
    room = Stories(heard_server(openai_api_key=llm_config.api_key, openai_base_url=llm_config.base_url,
                                heard_openai_model=llm_config.model), fake_slack)  # fmt: skip
    room.at(MONDAY)
    room.set_channel(STORIES)
    return room


def test_without_a_key_the_draft_quotes_the_feedback_and_waits_for_review(stories):
    stories.command(FEEDBACK, user=SAM)
    outcome = stories.run_weekly()
    assert "a draft from recent feedback sent for review" in outcome.detail
    stories.run_weekly(trigger="manual")
    [draft] = stories.stories()
    assert (draft.source, draft.state, draft.submitted_by, draft.customer) == (
        "draft", "pending", None, "Northwind Logistics")
    assert "Dock alerts never reach the night shift" in draft.what_happened
    [review] = [m for m in stories.dms(PRIYA) if "waiting for approval" in m["text"]]
    assert "a draft Heard wrote from recent feedback" in texts(review)
    assert pings(texts(review)) == []
    assert stories.posted() == []


def test_the_llm_writes_the_draft_from_redacted_feedback(with_llm, fake_openai):
    with_llm.command(FEEDBACK + " call me on +1 415 555 0100", user=SAM)
    fake_openai.reply_json({"title": "Alerts that never reached the floor", "customer": "Northwind Logistics",
                            "what_happened": "Their night shift never saw the dock alerts.",
                            "learned": "Put alerts where the work happens."})  # fmt: skip
    with_llm.run_weekly()
    [draft] = with_llm.stories()
    assert (draft.title, draft.source, draft.state) == ("Alerts that never reached the floor", "draft", "pending")
    sent = str(fake_openai.last_request["json"]["messages"])
    assert "Dock alerts never reach the night shift" in sent and "555 0100" not in sent


def test_a_failing_llm_falls_back_to_the_offline_draft(with_llm, fake_openai):
    with_llm.command(FEEDBACK, user=SAM)
    fake_openai.fail(status=500, times=2)  # the first try and the client's one retry
    with_llm.run_weekly()
    [draft] = with_llm.stories()
    assert draft.title == "What Northwind Logistics told us" and draft.state == "pending"


def test_no_feedback_no_draft(stories):
    outcome = stories.run_weekly()
    assert "draft" not in outcome.detail and stories.stories() == []
