"""A week's post Heard could not confirm: Slack took the post but answered 500, then its
history could not be read to check. Not refused: the week stays taken, the admins are told
to look rather than that nothing was posted, and `/heard story now` looks again before
posting (`again` posts regardless)."""

from datetime import timedelta

from bot.slack import outbox
from bot.slack.ratelimit import RateLimiter
from tests.features.stories.room import MONDAY
from tests.people import PRIYA, STORIES

# A week before the fixture's Monday (2026-W48): Heard's clock behind the fake Slack's real
# one, so the post's ts falls inside the history Heard reads back from the time it queued it.
EARLIER = MONDAY - timedelta(days=7)


def park_unconfirmed(stories, *, taken: bool) -> None:
    """Run the weekly job while the post is answered 500 (`taken`: after Slack posted it) and
    the channel's history answers 500, until the outbox gives up looking and parks the row."""
    stories.at(EARLIER)
    stories.runtime.limiter = RateLimiter(speed=100)  # many history reads: not about pacing
    stories.add_story(user=PRIYA, title="One", customer="Northwind")
    stories.slack.inject_fault("chat.postMessage", status=500, times=1, after_accepting=taken)
    stories.slack.inject_fault("conversations.history", status=500, times=10**6)
    stories.run_weekly()
    moment = EARLIER
    for _ in range(3 * outbox.MAX_ATTEMPTS):
        [row] = stories.outbox("story:")
        if row.status == "parked":
            break
        moment += timedelta(hours=1)  # past each back-off
        stories.at(moment)
        outbox.deliver_due(stories.runtime)
    assert row.status == "parked" and row.last_error.startswith(outbox.UNSETTLED)


def test_a_post_heard_could_not_confirm_keeps_the_week_and_is_not_reported_as_not_posted(stories):
    park_unconfirmed(stories, taken=True)
    [post] = stories.posts()
    assert post.status == "unconfirmed" and post.week == "2026-W48"
    outbox.deliver_due(stories.runtime)
    told = [m["text"] for m in stories.dms(PRIYA) if "story" in m["text"]]
    assert len(told) == 1
    assert "could not confirm" in told[0] and f"<#{STORIES}>" in told[0] and "story was not posted" not in told[0]
    assert "conversations.history: internal_error" in told[0]
    stories.run_weekly(trigger="manual")  # the week is still taken: nothing queued again
    assert len(stories.outbox("story:")) == 1

    stories.slack.reset_calls()  # Slack's history is readable again
    reply = stories.command("story now", user=PRIYA)["text"]
    assert "found it there" in reply
    assert len(stories.posted()) == 1  # looked for, found: not posted twice
    [post] = stories.posts()
    assert (post.status, post.message_ts) == ("posted", stories.posted()[0]["ts"])
    assert len([m for m in stories.dms(PRIYA) if "story" in m["text"]]) == 1  # no second note


def test_story_now_posts_an_unconfirmed_post_that_is_missing_once_it_can_check(stories):
    park_unconfirmed(stories, taken=False)
    still = stories.command("story now", user=PRIYA)["text"]  # history still unreadable: nothing posted
    assert "still cannot read" in still and "story now again" in still
    assert stories.posted() == []
    stories.slack.reset_calls()
    stories.at(EARLIER + timedelta(days=1))  # the outbox's next look
    outbox.deliver_due(stories.runtime)
    [post] = stories.posts()
    assert post.status == "posted" and len(stories.posted()) == 1


def test_story_now_again_posts_when_the_admin_saw_it_is_missing(stories):
    park_unconfirmed(stories, taken=False)
    stories.add_story(user=PRIYA, title="Two", customer="Contoso")
    reply = stories.command("story now again", user=PRIYA)["text"]
    assert "Posted *One*" in reply  # the same story, not the next one
    [post] = stories.posts()
    assert (post.status, post.attempt) == ("posted", 2)
    assert len(stories.posted()) == 1
    assert "already posted" in stories.command("story now again", user=PRIYA)["text"]


def test_a_refused_posts_reason_is_cut_between_words(stories):
    """Every try answered 500 and the post is not in the history: refused, the week freed;
    the stored reason (64 characters) ends at a word, the admins' DM has it whole."""
    stories.runtime.limiter = RateLimiter(speed=100)
    stories.add_story(user=PRIYA, title="One", customer="Northwind")
    stories.slack.inject_fault("chat.postMessage", status=500, times=10**6)
    stories.run_weekly()
    moment = MONDAY
    for _ in range(3 * outbox.MAX_ATTEMPTS):
        if stories.outbox("story:")[0].status == "parked":
            break
        moment += timedelta(hours=1)
        stories.at(moment)
        outbox.deliver_due(stories.runtime)
    [post] = stories.posts()
    stories.slack.reset_calls()  # the admins' DM goes through
    outbox.deliver_due(stories.runtime)
    whole = stories.outbox("story:")[0].last_error
    assert post.status == "failed" and len(whole) > 64
    assert post.error.endswith("…") and len(post.error) <= 64
    assert whole.startswith(post.error.removesuffix("…")) and whole[len(post.error) - 1] == " "
    [told] = [m["text"] for m in stories.dms(PRIYA) if "not posted" in m["text"]]
    assert whole.removeprefix("unanswered: ") in told


def test_story_now_again_then_heard_outbox_retry_posts_the_story_once(stories):
    # The admin looked, saw no story and ran `story now again`; an operator later runs
    # `heard outbox retry` for the parked rows (history readable by then). The first try's
    # row was retired with the week taken again: it is not looked for, nor posted.
    park_unconfirmed(stories, taken=False)
    stories.slack.reset_calls()
    assert "Posted *One*" in stories.command("story now again", user=PRIYA)["text"]
    assert outbox.retry(stories.runtime) == 0
    stories.at(EARLIER + timedelta(days=1))
    outbox.deliver_due(stories.runtime)
    assert len(stories.posted()) == 1
    assert {row.idempotency_key: row.last_error for row in stories.outbox("story:")} == {
        "story:T0ACME001:2026-W48:1": outbox.RETIRED, "story:T0ACME001:2026-W48:2": None}


def test_story_now_again_while_heard_looks_for_the_post_says_it_is_on_its_way(stories):
    park_unconfirmed(stories, taken=False)
    stories.command("story now", user=PRIYA)  # history still unreadable: queued to be looked for again
    reply = stories.command("story now again", user=PRIYA)["text"]
    assert "not posted yet" in reply and "already posted" not in reply
    assert stories.posted() == []


def test_an_unconfirmed_post_found_since_owns_its_reactions_before_it_is_settled(stories):
    """`heard outbox retry` found the post in history, and the stories room has not settled
    it yet: a reaction on it is story engagement, not feedback (in a channel that is both),
    as for a queued post Slack took."""
    from sqlalchemy import select

    from bot.features.stories.models import StoryPost
    from bot.features.stories.service import is_story_message

    park_unconfirmed(stories, taken=True)
    assert [post.status for post in stories.posts()] == ["unconfirmed"]  # settled as such
    stories.slack.reset_calls()  # Slack's history is readable again
    outbox.retry(stories.runtime)
    outbox.deliver_due(stories.runtime)
    [message] = stories.posted()
    with stories.runtime.sessions() as session:  # read without settling (`stories.posts` settles)
        [post] = session.scalars(select(StoryPost)).all()
        assert post.status == "unconfirmed" and post.message_ts is None
        assert is_story_message(session, post.workspace_id, STORIES, message["ts"])
