"""The feedback room's admin commands: feedback-channel (with its backfill), ignore-after,
ack-emoji; and `/heard me`."""

import pytest
from sqlalchemy import select

from bot.db.models import AuditEntry
from bot.features.feedback.config import load_config
from bot.slack import history as slack_history
from tests.features.feedback.helpers import pings
from tests.people import FEEDBACK, JONAS, MAYA, PRIYA, SAM, TOMAS

ADD = "feedback-channel add <#C0FEEDBACK|customer-feedback>"
SEEDED_POSTS = 7  # Acme's #customer-feedback: 7 posts by people, a bot's ticket, a join, a reply


def config(room):
    with room.runtime.sessions() as session:
        return load_config(session, 1)


def test_adding_a_feedback_channel_backfills_its_last_30_days(untracked):
    reply = untracked.command(ADD, user=MAYA)
    assert "is now a feedback channel" in reply["text"]
    assert config(untracked).feedback_channels == (FEEDBACK,)
    items = untracked.items()
    assert len(items) == SEEDED_POSTS and {i.source for i in items} == {"channel"}
    assert not any("ticket" in i.text or "joined" in i.text for i in items)
    acknowledged = {i.text.split(":")[0].split(" ")[0]: i.acknowledged_by for i in items if i.acknowledged_at}
    assert acknowledged == {"Customer": PRIYA, "From": MAYA}  # Priya's reply, Maya's :eyes:
    followup = untracked.dms(MAYA)[-1]  # the reply has gone by then: a DM, through the outbox
    assert f"{SEEDED_POSTS} feedback item(s)" in followup["text"] and "2 of them already acknowledged" in followup["text"]
    assert untracked.outbox("loop:") == []  # history is not news: nobody is DMed about old acknowledgements
    with untracked.runtime.sessions() as session:
        [audit] = session.scalars(select(AuditEntry).where(AuditEntry.action == "feedback-channel add")).all()
    assert audit.actor_user_id == MAYA


def test_backfill_pages_through_history_and_adds_no_duplicates(untracked, monkeypatch):
    monkeypatch.setattr(slack_history, "PAGE_SIZE", 3)
    live = untracked.slack.post_as(SAM, FEEDBACK, "Posted before the channel was added")
    untracked.command(ADD, user=MAYA)
    calls = untracked.slack.calls_to("conversations.history", ok=True)
    assert len(calls) >= 3 and all(c.args.get("limit") in (3, "3") for c in calls)
    assert [bool(c.args.get("cursor")) for c in calls] == [False] + [True] * (len(calls) - 1)
    assert len(untracked.items()) == SEEDED_POSTS + 1
    # The live event arriving late, a remove and re-add (a second backfill): still one item each.
    untracked.event({"type": "message", "channel": FEEDBACK, "user": SAM, "text": live["text"], "ts": live["ts"]})
    untracked.command("feedback-channel remove <#C0FEEDBACK|customer-feedback>", user=MAYA)
    untracked.command(ADD, user=MAYA)
    assert len(untracked.items()) == SEEDED_POSTS + 1


def test_backfill_waits_out_a_rate_limit(untracked):
    untracked.slack.inject_fault("conversations.history", status=429, retry_after=0)
    untracked.command(ADD, user=MAYA)
    assert len(untracked.items()) == SEEDED_POSTS


def test_a_failing_backfill_still_adds_the_channel_and_says_so(untracked):
    untracked.slack.inject_fault("conversations.history", status=403)  # no retry can fix it
    reply = untracked.command(ADD, user=MAYA)
    assert "is now a feedback channel" in reply["text"]
    followup = untracked.dms(MAYA)[-1]
    assert "couldn't read the history" in followup["text"]
    assert config(untracked).feedback_channels == (FEEDBACK,)


def test_adding_a_public_channel_heard_is_not_in_joins_it(untracked):
    reply = untracked.command("feedback-channel add <#C0PRODUCT1|product>", user=MAYA)
    assert "is now a feedback channel" in reply["text"]
    assert untracked.slack.calls_to("conversations.join", ok=True)


@pytest.mark.parametrize(("text", "says"), [
    ("feedback-channel add <#C0OLDARCH1|old-archive>", "archived"),
    ("feedback-channel add <#C0GLXFEED1|customer-feedback>", "can't see that channel"),
    ("feedback-channel add #customer-feedback", "not a channel"),
    ("feedback-channel add", "Say `add` or `remove`"),
    ("feedback-channel move <#C0FEEDBACK|customer-feedback>", "Say `add` or `remove`"),
    ("feedback-channel remove <#C0GENERAL1|general>", "is not a feedback channel"),
])  # fmt: skip
def test_bad_feedback_channel_requests_change_nothing(untracked, text, says):
    reply = untracked.command(text, user=MAYA)
    assert says in reply["text"] and "\n" not in reply["text"]
    assert config(untracked).feedback_channels == () and untracked.items() == []


def test_adding_a_channel_twice_is_refused(feedback):
    reply = feedback.command(ADD, user=MAYA)
    assert "already a feedback channel" in reply["text"]


def test_removing_a_channel_keeps_its_items_and_stops_tracking(feedback):
    feedback.post(SAM, "Keep me")
    reply = feedback.command("feedback-channel remove <#C0FEEDBACK|customer-feedback>", user=MAYA)
    assert "no longer a feedback channel" in reply["text"]
    feedback.post(SAM, "Not tracked")
    assert [i.text for i in feedback.items()] == ["Keep me"]


@pytest.mark.parametrize("text", [ADD, "ignore-after 3d", "ack-emoji add ok_hand"])
def test_settings_are_for_admins_only(feedback, text):
    before = config(feedback)
    reply = feedback.command(text, user=PRIYA)
    assert "Only Heard admins" in reply["text"]
    assert config(feedback) == before


@pytest.mark.parametrize(("words", "hours"), [("36h", 36), ("2 Days", 48)])  # more forms: test_parsing
def test_ignore_after_takes_hours_or_days(feedback, words, hours):
    reply = feedback.command(f"ignore-after {words}", user=JONAS)
    assert config(feedback).ignore_after.total_seconds() == hours * 3600
    assert "counts as ignored after" in reply["text"]


@pytest.mark.parametrize("words", ["0h", "-3d", "soon <!channel>", ""])  # more forms: test_parsing
def test_ignore_after_refuses_nonsense(feedback, words):
    reply = feedback.command(f"ignore-after {words}", user=JONAS)
    assert "Usage: `/heard ignore-after DURATION`" in reply["text"] and pings(reply["text"]) == []
    assert config(feedback).ignore_after.total_seconds() == 72 * 3600


def test_a_longer_ignore_after_puts_ignored_items_back_to_open(feedback):
    from datetime import timedelta

    message = feedback.post(SAM, "Customer wants SSO")
    later = feedback.runtime.clock() + timedelta(hours=80)
    feedback.runtime.clock = lambda: later
    feedback.command("ignore-after 48h", user=JONAS)
    assert feedback.item(message["ts"]).status == "ignored"
    reply = feedback.command("ignore-after 5d", user=JONAS)
    assert feedback.item(message["ts"]).status == "open" and "1 open again" in reply["text"]


def test_ack_emoji_can_be_listed_added_and_removed(feedback):
    assert ":eyes:" in feedback.command("ack-emoji", user=JONAS)["text"]
    reply = feedback.command("ack-emoji add :Raised_Hands:", user=JONAS)
    assert "raised_hands" in reply["text"] and "check the name" not in reply["text"]
    feedback.command("ack-emoji remove eyes", user=JONAS)
    assert config(feedback).ack_emoji == ("white_check_mark", "heavy_check_mark", "raised_hands")
    message = feedback.post(SAM, "Customer wants SSO")
    feedback.react(TOMAS, message["ts"], "eyes")
    assert feedback.item(message["ts"]).status == "open"
    feedback.react(TOMAS, message["ts"], "raised_hands")
    assert feedback.item(message["ts"]).status == "acknowledged"


def test_custom_emoji_of_the_workspace_count(feedback):
    reply = feedback.command("ack-emoji add acme-ack", user=JONAS)
    assert ":acme-ack:" in reply["text"]
    assert config(feedback).ack_emoji[-1] == "acme-ack"


def test_custom_emoji_are_accepted_unverified_without_emoji_read(feedback, fake_slack, acme):
    import dataclasses

    fake_slack.add_workspace(dataclasses.replace(acme, bot_scopes=tuple(
        scope for scope in acme.bot_scopes if scope != "emoji:read")))  # an install from before
    reply = feedback.command("ack-emoji add acme-ack", user=JONAS)
    assert "check the name is spelled as in Slack" in reply["text"]
    assert config(feedback).ack_emoji[-1] == "acme-ack"


@pytest.mark.parametrize(("text", "says"), [
    ("ack-emoji add <!channel>", "not an emoji name"),
    ("ack-emoji add not-an-emoji-anywhere", "is not an emoji in this workspace"),
    ("ack-emoji add eyes", "already acknowledges"),
    ("ack-emoji remove tada", "is not an acknowledgement emoji"),
])  # fmt: skip
def test_ack_emoji_refuses_bad_names(feedback, text, says):
    reply = feedback.command(text, user=JONAS)
    assert says in reply["text"] and pings(reply["text"]) == []
    assert config(feedback).ack_emoji == ("eyes", "white_check_mark", "heavy_check_mark")


# -- /heard me and the App Home ------------------------------------------------------------------


def test_me_lists_my_items_and_their_status(feedback):
    first = feedback.post(SAM, "Customer wants SSO")
    feedback.post(SAM, "Customer wants <!here> SAML too")
    feedback.post(PRIYA, "Not Sam's")
    feedback.react(JONAS, first["ts"], "eyes")
    reply = feedback.command("me", user=SAM)
    assert reply["text"].startswith("*Your customer feedback:* 1 open, 1 acknowledged.")
    assert "SAML" in reply["text"] and "Not Sam's" not in reply["text"]
    assert pings(reply["text"]) == []


def test_me_with_nothing_explains_how_to_log(feedback):
    assert "no customer feedback in Heard yet" in feedback.command("me", user=TOMAS)["text"]


def test_the_app_home_shows_my_feedback(feedback):
    feedback.post(SAM, "Customer wants SSO")
    feedback.event({"type": "app_home_opened", "user": SAM, "channel": "D0SAMHOME1", "tab": "home"})
    home = feedback.slack.published_home(SAM)
    shown = str(home)
    assert "Your customer feedback" in shown and "Customer wants SSO" in shown and "1 open" in shown


def test_a_heard_admin_who_is_not_a_slack_admin_may_change_settings(feedback, workspace):
    acme = workspace(admins=1)  # Priya, added with /heard admin add
    reply = feedback.command("ignore-after 36h", user=acme.admins[0])
    assert "counts as ignored after" in reply["text"]
    assert config(feedback).ignore_after.total_seconds() == 36 * 3600
