"""The ignored rule and the hourly `feedback-sweep`, with an injected clock."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.db.models import Workspace
from bot.features import load_rooms
from bot.features.feedback.config import IGNORED_REMINDERS
from bot.features.feedback.models import FeedbackItem
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due
from bot.workspace_settings import change_setting
from tests.features.feedback.helpers import pings, texts
from tests.people import ACME, FEEDBACK, HEARD, HEARD_BOT_ID, JONAS, PRIYA, SAM


def at(room, moment):
    room.runtime.clock = lambda: moment


def sweep(room, hours_later: float):
    """Run the sweep `hours_later` after the room's start, and deliver what it queued."""
    at(room, room.start + timedelta(hours=hours_later))
    outcome = run_job(room.runtime, load_rooms().registry, "feedback-sweep", ACME)
    assert outcome.status in ("succeeded", "skipped"), outcome.detail
    deliver_due(room.runtime)
    return outcome


def reminders(room) -> list[dict]:
    return [m for m in room.slack.messages(FEEDBACK) if m.get("user") == HEARD and m.get("thread_ts") not in (None, m["ts"])]


@pytest.fixture
def room(feedback):
    # On the hour, so "73 hours later" and "73.5 hours later" fall in the same ledger period.
    feedback.start = feedback.runtime.clock().replace(minute=0, second=0, microsecond=0)
    at(feedback, feedback.start)
    return feedback


def test_feedback_is_ignored_once_unacknowledged_longer_than_ignore_after(room):
    message = room.post(SAM, "Customer wants SSO")
    sweep(room, 71)
    assert room.item(message["ts"]).status == "open" and reminders(room) == []
    outcome = sweep(room, 73)
    item = room.item(message["ts"])
    assert item.status == "ignored" and item.ignored_at == room.start + timedelta(hours=73)
    assert "1 newly ignored, 1 reminder(s) queued" in outcome.detail
    [reminder] = reminders(room)
    assert reminder["thread_ts"] == message["ts"] and "72 hours" in texts(reminder)
    assert pings(texts(reminder)) == []  # gentle: nobody is pinged


def test_the_reminder_is_posted_once_ever(room):
    message = room.post(SAM, "Customer wants SSO")
    for hours in (73, 74, 75, 100):
        sweep(room, hours)
    assert len(reminders(room)) == 1
    # Acknowledged, then unacknowledged again: ignored again, but no second reminder.
    room.react(JONAS, message["ts"], "eyes")
    room.react(JONAS, message["ts"], "eyes", removed=True)
    assert room.item(message["ts"]).status == "ignored"
    sweep(room, 120)
    assert len(reminders(room)) == 1


def test_the_same_hour_runs_once(room):
    room.post(SAM, "Customer wants SSO")
    assert sweep(room, 73).status == "succeeded"
    assert sweep(room, 73.5).status == "skipped"


def test_acknowledged_feedback_is_never_ignored(room):
    message = room.post(SAM, "Customer wants SSO")
    room.post(PRIYA, "On it", thread_ts=message["ts"])
    sweep(room, 500)
    assert room.item(message["ts"]).status == "acknowledged" and reminders(room) == []


def test_heard_s_own_reminder_does_not_acknowledge(room):
    message = room.post(SAM, "Customer wants SSO")
    sweep(room, 73)
    [reminder] = reminders(room)
    room.event({"type": "message", "channel": FEEDBACK, "user": HEARD, "bot_id": HEARD_BOT_ID,
                "text": reminder["text"], "ts": reminder["ts"], "thread_ts": message["ts"]})  # fmt: skip
    assert room.item(message["ts"]).status == "ignored"


def test_ignored_is_measured_from_when_it_was_said(room):
    said = room.start - timedelta(hours=70)
    message = room.slack.post_as(SAM, FEEDBACK, "Said three days ago")
    old_ts = f"{int(said.timestamp())}.000100"
    room.event({"type": "message", "channel": FEEDBACK, "user": SAM, "text": message["text"], "ts": old_ts})
    sweep(room, 1)  # stored 1 hour ago, said 71 hours ago
    assert room.item(old_ts).status == "open"
    sweep(room, 3)  # said 73 hours ago
    assert room.item(old_ts).status == "ignored"


def test_a_workspace_that_does_not_want_reminders_gets_none(room):
    with room.runtime.sessions.begin() as session:
        change_setting(session, 1, IGNORED_REMINDERS, False, by=None, now=room.start, action="test")
    message = room.post(SAM, "Customer wants SSO")
    sweep(room, 73)
    assert room.item(message["ts"]).status == "ignored" and reminders(room) == []


def test_weeks_old_feedback_is_counted_ignored_without_a_reminder(room):
    message = room.post(SAM, "Old news")
    with room.runtime.sessions.begin() as session:
        session.execute(update(FeedbackItem).values(said_at=room.start - timedelta(days=20)))
    sweep(room, 1)
    assert room.item(message["ts"]).status == "ignored" and reminders(room) == []


def test_a_paused_workspace_is_not_swept(room):
    message = room.post(SAM, "Customer wants SSO")
    with room.runtime.sessions.begin() as session:
        session.execute(update(Workspace).values(paused=True))
    assert sweep(room, 73).status == "skipped"
    assert room.item(message["ts"]).status == "open"


def test_command_feedback_is_reminded_in_its_card_thread(room):
    room.command("feedback Globex wants Spanish reports", user=PRIYA)
    sweep(room, 73)
    [reminder] = reminders(room)
    [item] = room.items()
    assert reminder["thread_ts"] == item.card_ts


def test_a_late_reaction_on_the_reminder_s_item_acknowledges_and_tells_the_reporter(room):
    message = room.post(SAM, "Customer wants SSO")
    sweep(room, 73)
    room.react(JONAS, message["ts"], "white_check_mark")
    item = room.item(message["ts"])
    assert (item.status, item.ignored_at is not None) == ("acknowledged", True)  # it was ignored once
    assert len(room.dms(SAM)) == 1
