"""The week's post: once per workspace and week under a retry, a second run, a second
clock and `/heard story now`; rotation; the empty-bank DM; an unusable channel."""

from datetime import timedelta

from sqlalchemy import select

from bot.db.models import Workspace
from bot.features.stories import views
from bot.features.stories.service import post_week
from bot.slack import outbox
from bot.slack.outbox import deliver_due
from tests.features.feedback.helpers import pings, texts
from tests.features.stories.room import MONDAY, STORY
from tests.people import ACME, ARCHIVED, HEARD, PRIYA, PRODUCT, SAM, STORIES


def acme(session) -> Workspace:
    return session.scalar(select(Workspace).where(Workspace.team_id == ACME))


def approved(stories, *titles_and_customers):
    for title, customer in titles_and_customers:
        stories.add_story(user=PRIYA, title=title, customer=customer)


def test_the_weekly_job_posts_the_story_with_its_credit_and_a_reflect_button(stories):
    stories.add_story(user=SAM)
    stories.press(views.APPROVE_ACTION, stories.stories()[0].id, user=PRIYA, channel=PRIYA)
    outcome = stories.run_weekly()
    assert outcome.status == "succeeded", outcome.detail
    [post] = stories.posted()
    shown = texts(post)
    assert STORY["title"] in shown and STORY["learned"] in shown and STORY["customer"] in shown
    assert f"Shared by <@{SAM}>" in shown
    [button] = [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == views.REFLECT_ACTION
    [row] = stories.posts()
    assert (row.week, row.status, row.message_ts, row.channel_id) == ("2026-W49", "posted", post["ts"], STORIES)


def test_post_without_naming_me_is_honoured(stories):
    stories.add_story(user=PRIYA, anonymous=True)
    stories.run_weekly()
    [post] = stories.posted()
    assert "Shared anonymously" in texts(post) and f"<@{PRIYA}>" not in texts(post)


def test_one_post_a_week_under_retries_reruns_and_story_now(stories):
    approved(stories, ("One", "Northwind"), ("Two", "Contoso"), ("Three", "Fabrikam"))
    stories.run_weekly()
    stories.run_weekly(trigger="manual")  # `heard jobs run weekly-story` again
    stories.at(MONDAY + timedelta(hours=5))  # another clock, same week
    stories.run_weekly(trigger="manual")
    reply = stories.command("story now", user=PRIYA)["text"]
    assert "already posted" in reply
    assert len(stories.posted()) == 1 and len(stories.posts()) == 1
    assert len(stories.outbox("story:")) == 1


def test_story_now_is_that_weeks_post_and_the_job_then_posts_nothing(stories):
    approved(stories, ("One", "Northwind"), ("Two", "Contoso"))
    reply = stories.command("story now", user=PRIYA)["text"]
    assert "Posted *One*" in reply and "2026-W49" in reply
    stories.at(MONDAY + timedelta(days=2))
    stories.run_weekly()
    assert [p.week for p in stories.posts()] == ["2026-W49"]
    assert len(stories.posted()) == 1
    stories.at(MONDAY + timedelta(days=7))
    stories.run_weekly()
    assert [p.week for p in stories.posts()] == ["2026-W49", "2026-W50"]


def test_story_now_is_for_admins(stories):
    approved(stories, ("One", "Northwind"))
    assert "Only Heard admins" in stories.command("story now", user=SAM)["text"]
    assert stories.posted() == []


def test_the_week_row_decides_between_two_transactions_past_the_ledger(stories):
    """Two runs past the job ledger (a `/heard story now` racing the job in another
    process): the week's unique row decides, and the loser queues nothing."""
    approved(stories, ("One", "Northwind"), ("Two", "Contoso"))
    outcomes = []
    for _ in range(2):
        with stories.runtime.sessions.begin() as session:
            outcomes.append(post_week(session, acme(session), week="2026-W49", channel=STORIES,
                                      check_channel=lambda channel: None, now=MONDAY).kind)  # fmt: skip
    assert outcomes == ["posted", "already"]
    assert len(stories.outbox("story:")) == 1


def test_rotation_oldest_first_varies_the_segment_and_never_repeats_until_exhausted(stories):
    approved(stories, ("A", "Northwind"), ("B", "Northwind"), ("C", "Contoso"))
    titles = []
    for week in range(5):
        stories.at(MONDAY + timedelta(days=7 * week))
        stories.run_weekly()
    for post in stories.posted():
        titles.append(next(b["text"]["text"] for b in post["blocks"] if b["type"] == "section").strip("*"))
    # A (oldest), then C (B has A's segment), then B; the bank exhausted, it starts over
    # with the least recently posted whose segment differs from B's: C, then A.
    assert titles == ["A", "C", "B", "C", "A"]


def test_an_empty_bank_asks_the_admins_once_instead_of_posting(stories):
    stories.add_story(user=SAM)  # pending: not postable
    stories.run_weekly()
    stories.run_weekly(trigger="manual")
    assert stories.posted() == []
    asks = [m for m in stories.dms(PRIYA) if "no approved customer story" in m["text"]]
    assert len(asks) == 1 and "story add" in asks[0]["text"]


def test_story_now_with_an_empty_bank_says_so(stories):
    reply = stories.command("story now", user=PRIYA)["text"]
    assert "no approved story" in reply and stories.posted() == []


def test_an_archived_channel_tells_admins_once_and_keeps_the_story_for_the_next_run(stories):
    approved(stories, ("One", "Northwind"))
    stories.set_channel(ARCHIVED)
    stories.run_weekly()
    stories.run_weekly(trigger="manual")
    told = [m for m in stories.dms(PRIYA) if "was not posted" in m["text"]]
    assert len(told) == 1 and "archived" in told[0]["text"]
    assert stories.posts() == [] and stories.slack.messages(ARCHIVED) == []
    stories.set_channel(STORIES)
    assert "Posted *One*" in stories.command("story now", user=PRIYA)["text"]
    assert len(stories.posted()) == 1


def test_a_channel_heard_was_removed_from_tells_admins_once(stories):
    approved(stories, ("One", "Northwind"))
    stories.set_channel(PRODUCT)  # public, Heard not a member
    stories.run_weekly()
    stories.run_weekly(trigger="manual")
    told = [m for m in stories.dms(PRIYA) if "was not posted" in m["text"]]
    assert len(told) == 1 and "Heard is not in the stories channel" in told[0]["text"]
    assert stories.posts() == [] and stories.slack.messages(PRODUCT) == []


def test_no_stories_channel_tells_admins_once(stories):
    approved(stories, ("One", "Northwind"))
    stories.set_channel(None)
    stories.run_weekly()
    stories.run_weekly(trigger="manual")
    told = [m for m in stories.dms(PRIYA) if "no stories channel is set" in m["text"]]
    assert len(told) == 1 and stories.posts() == []


def test_a_post_slack_refuses_frees_the_week_and_the_story_stays(stories):
    """The channel was archived between the check and the send: the outbox fails the post,
    the admins are told once, and the next try posts the same story under a new key."""
    approved(stories, ("One", "Northwind"))
    with stories.runtime.sessions.begin() as session:
        post_week(session, acme(session), week="2026-W49", channel=ARCHIVED, check_channel=lambda channel: None,
                  now=MONDAY)  # fmt: skip
    deliver_due(stories.runtime)
    assert "Posted *One*" in stories.command("story now", user=PRIYA)["text"]
    [post] = stories.posts()
    assert (post.status, post.attempt, post.channel_id) == ("posted", 2, STORIES)
    assert len([m for m in stories.dms(PRIYA) if "archived" in m["text"]]) == 1


def test_mentions_in_a_posted_story_never_ping(stories):
    stories.add_story(user=PRIYA, title="<!here> big news", what_happened="<!channel> <@U0MAYA0001> <!subteam^S0SUPPORT1>",
                      learned="@everyone listen", anonymous=True)
    stories.run_weekly()
    [post] = stories.posted()
    assert pings(texts(post)) == [] and pings(post["text"]) == []


def test_a_refused_post_sent_later_by_heard_outbox_retry_is_posted(stories):
    """The admin unarchived the channel and ran `heard outbox retry`: the story went out,
    but its week stayed failed, so it could never be taken again and its reflections were
    refused."""
    approved(stories, ("One", "Northwind"))
    with stories.runtime.sessions.begin() as session:
        post_week(session, acme(session), week="2026-W49", channel=ARCHIVED, check_channel=lambda channel: None,
                  now=MONDAY)  # fmt: skip
    deliver_due(stories.runtime)
    assert [post.status for post in stories.posts()] == ["failed"]
    mended = stories.slack._workspaces[ACME].channels[ARCHIVED]  # the admin unarchives it, invites Heard
    mended.is_archived, mended.bot_member = False, True
    outbox.retry(stories.runtime)
    deliver_due(stories.runtime)
    [post] = stories.posts()
    [message] = [m for m in stories.slack.messages(ARCHIVED) if m.get("user") == HEARD]
    assert (post.status, post.message_ts) == ("posted", message["ts"])
