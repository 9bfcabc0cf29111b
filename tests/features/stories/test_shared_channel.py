"""A stories channel that is also a feedback channel: reactions and replies on the story
post are story engagement (the stories room `owns_message`, so the feedback room's
listeners leave them alone), the post and its thread never become customer feedback, and
people's own posts in the channel still do."""

import pytest

from tests.features.feedback.room import Feedback
from tests.features.stories.room import MONDAY, STORIES, Stories
from tests.people import JONAS, LENA, PRIYA, SAM, TOMAS


@pytest.fixture
def shared(workspace, heard_server, fake_slack) -> tuple[Stories, Feedback]:
    """Acme with Priya a Heard admin and #customer-stories both the stories channel and
    the one feedback channel."""
    workspace(admins=1, feedback_channels=[STORIES])
    heard = heard_server()
    stories = Stories(heard, fake_slack)
    stories.at(MONDAY)
    stories.set_channel(STORIES)
    return stories, Feedback(heard, fake_slack)


def week_post(stories: Stories) -> str:
    """Post this week's story; its ts as Slack shows it (Heard has not read the outbox's
    answer yet, as when the first reaction comes in seconds after the post)."""
    stories.add_story(user=PRIYA)
    stories.run_weekly()
    [post] = stories.posted()
    return post["ts"]


def test_engagement_on_the_story_post_counts_and_is_never_feedback(shared):
    stories, feedback = shared
    ts = week_post(stories)
    stories.react(SAM, ts, "heart")
    stories.react(LENA, ts, "eyes")  # an acknowledgement emoji in a feedback channel
    kept = stories.reply(JONAS, ts, "We saw the same at Contoso.")
    gone = stories.reply(TOMAS, ts, "Typo, ignore")
    stories.delete_reply(gone["ts"], ts)
    stories.react(LENA, ts, "eyes", removed=True)
    assert stories.engagements() == [("reaction", SAM, "heart"), ("reply", JONAS, kept["ts"])]
    assert feedback.items() == [] and feedback.acks() == []


def test_a_shared_reflection_in_the_thread_is_not_feedback(shared):
    stories, feedback = shared
    week_post(stories)
    [post] = stories.posts()
    stories.reflect(post.id, user=LENA, text="Walk the floor monthly.", share=True)
    [reply] = stories.slack.thread(STORIES, post.message_ts)[1:]
    assert "Walk the floor monthly." in reply["text"]
    assert feedback.items() == [] and stories.engagements() == []


def test_peoples_own_posts_in_the_channel_are_still_feedback_and_not_engagement(shared):
    stories, feedback = shared
    week_post(stories)
    said = feedback.post(SAM, "Contoso can't export their invoices to CSV", channel=STORIES)
    feedback.react(JONAS, said["ts"], "eyes", channel=STORIES)
    feedback.post(LENA, "Looking into it", channel=STORIES, thread_ts=said["ts"])
    [item] = feedback.items()
    assert (item.message_ts, item.status, item.acknowledged_by) == (said["ts"], "acknowledged", JONAS)
    assert {kind for kind, _, _ in feedback.acks()} == {"reaction", "reply"}
    assert stories.engagements() == []
