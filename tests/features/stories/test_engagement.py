"""Reflections and engagement with the week's story: the Reflect modal, a shared
reflection in the thread, reactions added and removed, replies posted and deleted, and
what the digest, the App Home and the exports read of it."""

from datetime import timedelta

from sqlalchemy import select

from bot.db.models import Workspace
from bot.features.stories import views
from bot.features.stories.models import StoryPost
from bot.features.stories.queries import story_engagement
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due
from tests.features.feedback.helpers import pings, texts
from tests.features.stories.room import MONDAY, STORIES
from tests.people import ACME, HEARD, HEARD_BOT_ID, JONAS, LENA, PRIYA, SAM, TOMAS


def posted(stories) -> tuple[int, str]:
    """Post this week's story; returns its post id and ts."""
    stories.add_story(user=PRIYA)
    stories.run_weekly()
    [post] = stories.posts()
    return post.id, post.message_ts


def counts(stories) -> dict:
    with stories.runtime.sessions() as session:
        workspace = session.scalar(select(Workspace).where(Workspace.team_id == ACME))
        return story_engagement(session, workspace.id, MONDAY - timedelta(days=1), MONDAY + timedelta(days=7))


def test_reflect_opens_the_question_and_a_private_reflection_is_counted_not_posted(stories):
    post_id, ts = posted(stories)
    before = len(stories.slack.opened_views())
    stories.press(views.REFLECT_ACTION, post_id, user=SAM)
    modal = stories.slack.opened_views()[before]
    assert modal["callback_id"] == views.REFLECT_MODAL and views.REFLECT_QUESTION in texts(modal)
    share = next(b for b in modal["blocks"] if b.get("block_id") == views.SHARE)
    assert not share["element"].get("initial_options")  # "share in the thread" is off by default
    answer = stories.reflect(post_id, user=SAM, text="Put dock alerts on the floor tablets.", share=False)
    assert answer["response_action"] == "update"
    [reflection] = stories.reflections()
    assert (reflection.user_id, reflection.shared) == (SAM, False)
    assert stories.slack.thread(STORIES, ts)[1:] == []
    assert counts(stories)["reflections"] == 1


def test_a_shared_reflection_is_posted_in_the_thread_escaped(stories):
    post_id, ts = posted(stories)
    stories.reflect(post_id, user=LENA, text="<!channel> ask <@U0MAYA0001> and <!subteam^S0SUPPORT1> first",
                    share=True)  # fmt: skip
    [reply] = stories.slack.thread(STORIES, ts)[1:]
    assert reply["user"] == HEARD and reply["thread_ts"] == ts
    assert set(pings(texts(reply))) == {f"@{LENA}"}  # Heard credits Lena; nothing she typed pings
    assert "&lt;!channel&gt;" in texts(reply)


def test_an_empty_reflection_is_an_error_in_the_modal(stories):
    post_id, _ = posted(stories)
    answer = stories.reflect(post_id, user=SAM, text="   ", share=True)
    assert answer["response_action"] == "errors" and views.REFLECTION in answer["errors"]
    assert stories.reflections() == []


def test_a_reflection_submitted_without_a_usable_view_id_is_refused_not_dropped(stories):
    # Slack always sends the modal's id; without one (or one too long to keep) the
    # reflection would have been stored under an empty key, and the next such one, by
    # someone else, taken for it: dropped, and its author thanked all the same.
    post_id, _ = posted(stories)
    for user, view_id in ((SAM, None), (LENA, None), (TOMAS, "V" * 65)):
        answer = stories.reflect(post_id, user=user, text="Ask them sooner.", share=False,
                                 view_changes={"id": view_id})  # fmt: skip
        assert answer["response_action"] == "errors"
        assert "not saved" in answer["errors"][views.REFLECTION]
    assert stories.reflections() == []
    stories.reflect(post_id, user=LENA, text="Ask them sooner.", share=False)
    assert [r.user_id for r in stories.reflections()] == [LENA]


def test_reactions_replies_and_people_counted_with_a_reaction_removed_and_a_reply_deleted(stories):
    post_id, ts = posted(stories)
    stories.react(SAM, ts, "heart")
    stories.react(SAM, ts, "heart")  # Slack's retry of the same event
    stories.react(LENA, ts, "+1::skin-tone-3")
    stories.react(TOMAS, ts, "eyes")
    stories.react(TOMAS, ts, "eyes", removed=True)
    kept = stories.reply(JONAS, ts, "We saw the same at Contoso.")
    gone = stories.reply(TOMAS, ts, "Typo, ignore")
    stories.delete_reply(gone["ts"], ts)
    stories.reflect(post_id, user=PRIYA, text="Walk the floor monthly.", share=True)  # Heard's reply: not a reply
    assert stories.engagements() == [("reaction", SAM, "heart"), ("reaction", LENA, "+1"),
                                     ("reply", JONAS, kept["ts"])]  # fmt: skip
    assert counts(stories) == {"posted": 1, "reactions": 2, "replies": 1, "reflections": 1, "people": 4}


def test_bots_and_heard_itself_never_count(stories):
    _, ts = posted(stories)
    stories.event({"type": "message", "channel": STORIES, "user": HEARD, "bot_id": HEARD_BOT_ID, "text": "hi",
                   "ts": "1764496900.000100", "thread_ts": ts})  # fmt: skip
    stories.react(HEARD, ts, "tada")
    assert stories.engagements() == []


def test_engagement_on_messages_that_are_not_stories_is_not_counted(stories):
    posted(stories)
    other = stories.slack.post_as(SAM, STORIES, "An unrelated message")
    stories.react(LENA, other["ts"], "heart")
    stories.reply(JONAS, other["ts"], "reply")
    assert stories.engagements() == []


def test_home_shows_the_latest_story_and_its_engagement_and_the_bank_to_admins(stories):
    _, ts = posted(stories)
    stories.react(SAM, ts, "heart")
    stories.add_story(user=SAM, title="Waiting one")
    member = texts(stories.home(LENA))
    assert "Latest story" in member and "1 reaction(s)" in member and "waiting for approval" not in member
    admin = texts(stories.home(PRIYA))
    assert "1 waiting for approval" in admin


def test_export_writes_stories_and_engagement(stories, tmp_path):
    from bot.features.admin.export import write_export

    _, ts = posted(stories)
    stories.react(SAM, ts, "heart")
    stories.reply(JONAS, ts, "Same at Contoso")
    with stories.runtime.sessions() as session:
        write_export(session, tmp_path, stories.runtime.rooms)
    story_rows = (tmp_path / "stories.csv").read_text().splitlines()
    engagement_rows = (tmp_path / "engagement.csv").read_text().splitlines()
    assert len(story_rows) == 2 and ",1," in story_rows[1]
    assert engagement_rows[1].endswith(",1,1,0,2")


def test_a_reflection_shared_before_heard_knew_the_posts_ts_reaches_the_thread(stories):
    """The post was sent but Heard had not read Slack's answer yet when Lena shared her
    reflection: it goes to the thread once Heard does."""
    stories.add_story(user=PRIYA)
    run_job(stories.runtime, stories.runtime.rooms.registry, "weekly-story", ACME)  # queued, not sent yet
    with stories.runtime.sessions() as session:
        post_id = session.scalar(select(StoryPost.id))
    stories.reflect(post_id, user=LENA, text="Walk the floor.", share=True)
    deliver_due(stories.runtime)  # the post goes out
    [post] = stories.posts()  # Heard reads what Slack answered, and shares the reflection
    deliver_due(stories.runtime)
    [reply] = stories.slack.thread(STORIES, post.message_ts)[1:]
    assert "Walk the floor." in reply["text"]
