"""A week with an empty bank: a draft from recent feedback goes to the admins for review
(the LLM's, or the offline template's when there is no key or the LLM fails); it is never
posted unreviewed."""

from datetime import timedelta

import pytest

from bot.features.stories import views
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due
from tests.features.feedback.helpers import pings, texts
from tests.features.stories.room import MONDAY, STORIES, Stories
from tests.people import ACME, PRIYA, SAM

FEEDBACK = 'feedback Dock alerts never reach the night shift <!channel> customer:"Northwind Logistics"'


SUNDAY = MONDAY - timedelta(days=1)  # 29 November 2026, 10:00 UTC: the day before the weekly story


def run_draft(stories, trigger: str = "schedule"):
    outcome = run_job(stories.runtime, stories.runtime.rooms.registry, "story-draft", ACME, trigger=trigger)
    deliver_due(stories.runtime)
    return outcome


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
    assert outcome.detail.endswith("a draft from recent feedback sent for review")  # offline as planned: unsaid
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


def test_a_failing_llm_falls_back_to_the_offline_draft_and_the_job_says_why(with_llm, fake_openai):
    with_llm.command(FEEDBACK, user=SAM)
    fake_openai.fail(status=500, times=2)  # the first try and the client's one retry
    outcome = with_llm.run_weekly()
    [draft] = with_llm.stories()
    assert draft.title == "What Northwind Logistics told us" and draft.state == "pending"
    assert outcome.detail.endswith("sent for review (written offline: the LLM was not used: HTTP 500)")


def test_the_day_before_a_failing_llm_is_named_in_the_drafts_job_line(with_llm, fake_openai):
    with_llm.at(SUNDAY - timedelta(hours=2))
    with_llm.command(FEEDBACK, user=SAM)
    with_llm.at(SUNDAY)
    fake_openai.reply_text("{not json")

    outcome = run_draft(with_llm)

    assert outcome.detail.endswith("sent for review (written offline: the LLM was not used: invalid JSON)")


def test_a_draft_the_llm_wrote_has_no_reason_in_the_line(with_llm, fake_openai):
    with_llm.command(FEEDBACK, user=SAM)
    assert with_llm.run_weekly().detail.endswith("a draft from recent feedback sent for review")


def test_no_feedback_no_draft(stories):
    outcome = stories.run_weekly()
    assert "draft" not in outcome.detail and stories.stories() == []




# -- the day before the post: `story-draft` ---------------------------------------------------------


def test_the_day_before_the_post_an_empty_bank_gets_one_draft_for_the_week(stories):
    stories.at(SUNDAY - timedelta(hours=2))
    stories.command(FEEDBACK, user=SAM)
    stories.at(SUNDAY)
    outcome = run_draft(stories)
    assert outcome.status == "succeeded" and "draft" in outcome.detail and "2026-W49" in outcome.detail
    [draft] = stories.stories()
    assert (draft.source, draft.state, draft.submit_key) == ("draft", "pending", "draft:2026-W49")
    run_draft(stories, trigger="manual")  # `heard jobs run story-draft` again
    stories.at(SUNDAY + timedelta(hours=6))  # a later run the same day
    run_draft(stories, trigger="manual")
    stories.at(MONDAY)  # the post finds no approved story: one DM asking, no second draft
    stories.run_weekly()
    assert len(stories.stories()) == 1 and stories.posted() == []
    reviews = [m for m in stories.dms(PRIYA) if "waiting for approval" in m["text"]]
    assert len(reviews) == 1 and "a draft Heard wrote from recent feedback" in texts(reviews[0])
    assert len([m for m in stories.dms(PRIYA) if "no approved customer story" in m["text"]]) == 1


def test_an_approved_draft_is_the_weeks_post(stories):
    stories.at(SUNDAY)
    stories.command(FEEDBACK, user=SAM)
    run_draft(stories)
    [draft] = stories.stories()
    stories.press(views.APPROVE_ACTION, draft.id, user=PRIYA, channel=PRIYA)
    stories.at(MONDAY)
    stories.run_weekly()
    [post] = stories.posted()
    assert "Dock alerts never reach the night shift" in texts(post)
    assert pings(texts(post)) == []


def test_other_days_and_a_bank_with_an_approved_story_get_no_draft(stories):
    stories.at(SUNDAY - timedelta(days=1))  # Saturday: the post is two days away
    stories.command(FEEDBACK, user=SAM)
    outcome = run_draft(stories)
    assert "not tomorrow" in outcome.detail and stories.stories() == []
    stories.add_story(user=PRIYA)  # approved at once
    stories.at(SUNDAY)
    outcome = run_draft(stories)
    assert "no draft needed" in outcome.detail
    assert [story.source for story in stories.stories()] == ["command"]


def test_the_day_before_follows_the_workspaces_weekly_story_schedule(stories):
    reply = stories.command('schedule weekly-story "wed 09:00"', user=PRIYA)["text"]
    assert "wed" in reply.lower()
    stories.at(SUNDAY)
    stories.command(FEEDBACK, user=SAM)
    assert "not tomorrow" in run_draft(stories).detail
    stories.at(MONDAY + timedelta(days=1))  # Tuesday 1 December, the day before Wednesday's post
    outcome = run_draft(stories)
    assert "2026-W49" in outcome.detail
    assert [story.submit_key for story in stories.stories()] == ["draft:2026-W49"]
    stories.command("schedule weekly-story off", user=PRIYA)
    stories.at(MONDAY + timedelta(days=8))
    assert "off" in run_draft(stories).detail and len(stories.stories()) == 1


def test_a_draft_still_waiting_for_review_is_not_joined_by_another(stories):
    stories.at(SUNDAY)
    stories.command(FEEDBACK, user=SAM)
    run_draft(stories)
    stories.at(SUNDAY + timedelta(days=7))  # the next Sunday; last week's draft was never reviewed
    outcome = run_draft(stories)
    assert "still waits for review" in outcome.detail and len(stories.stories()) == 1


def test_the_clock_fires_story_draft_on_the_day_before_from_schedules(stories):
    """`schedules/story-draft.toml` (daily 10:00) on the scheduler's tick: Saturday's run
    drafts nothing for Monday, Sunday's does."""
    from bot.scheduler.runner import HeardScheduler
    from bot.scheduler.schedules import load_default_schedules, schedules_dir

    clock = HeardScheduler(stories.runtime, stories.runtime.rooms.registry, load_default_schedules(schedules_dir(None)))
    stories.at(SUNDAY - timedelta(days=1, hours=1))
    stories.command(FEEDBACK, user=SAM)
    stories.at(SUNDAY - timedelta(days=1) + timedelta(minutes=1))
    ran = {o.job: o for o in clock.tick()}
    assert ran["story-draft"].status == "succeeded" and "not tomorrow" in ran["story-draft"].detail
    # This week's (W48) post had not run since Heard was installed: the clock catches it
    # up, finds the bank empty and drafts for W48; an admin discards that draft.
    assert [story.submit_key for story in stories.stories()] == ["draft:2026-W48"]
    stories.press(views.DISCARD_ACTION, stories.stories()[0].id, user=PRIYA, channel=PRIYA)
    stories.at(SUNDAY + timedelta(minutes=1))
    ran = {o.job: o for o in clock.tick()}
    assert ran["story-draft"].status == "succeeded", ran["story-draft"].detail
    assert [story.submit_key for story in stories.stories()] == ["draft:2026-W48", "draft:2026-W49"]
