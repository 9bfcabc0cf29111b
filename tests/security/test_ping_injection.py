"""Ping injection beyond feedback (issue 20; feedback's own is test_feedback_hostile_input):
`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`, `<@U…>` and Slack markup in every
field of a story, a reflection and a decision, and in a department's name: nothing Heard
posts, DMs, opens or publishes pings anyone it did not name itself, checked on every call
the fake Slack recorded.
"""

from __future__ import annotations

from tests.features.decisions.room import decisions  # noqa: F401  (the fixture)
from tests.features.feedback.helpers import pings
from tests.features.stories.room import MONDAY, STORIES
from tests.features.stories.room import Stories as StoriesRoom
from tests.people import GENERAL, MAYA, PRIYA, SAM, SUPPORT_GROUP
from tests.security.test_feedback_hostile_input import everything_heard_sent

HOSTILE = ("<!channel> <!here> <!everyone> <!subteam^S0ALLSTAFF|@all-staff> <@U0JONAS002> <@U0LENA0005|lena> "
           "<#C0GENERAL1|general> <https://evil.example|click me> &lt;!here&gt; *bold* `code` \u2060@here")  # fmt: skip


def test_stories_reflections_and_decisions_never_ping(decisions):  # noqa: F811 - the fixture
    room = decisions
    stories = StoriesRoom(room.heard, room.slack)
    stories.at(MONDAY)
    stories.set_channel(STORIES)
    # A story with hostile text in every field, approved, posted, reflected on in the thread.
    stories.add_story(user=SAM, title=HOSTILE[:70], customer=HOSTILE[:60], what_happened=HOSTILE,
                      learned=HOSTILE)  # fmt: skip
    [story] = stories.stories()
    from bot.features.stories import views as story_views

    stories.press(story_views.APPROVE_ACTION, story.id, user=MAYA, channel="D0MAYADM01")
    stories.run_weekly()
    [post] = stories.posts()
    stories.reflect(post.id, user=PRIYA, text=HOSTILE, share=True)
    stories.command("story list", user=MAYA)
    # A decision with hostile text everywhere, and its Home.
    room.submit(room.open_modal(user=SAM, channel=GENERAL), user=SAM, decided=HOSTILE[:200],
                affected=HOSTILE, evidence=HOSTILE, name="<!channel>")  # fmt: skip
    room.command('department add "<!here> team" <#C0GENERAL1|general>', user=MAYA)
    for person in (SAM, MAYA, PRIYA):
        stories.home(person)

    sent = " ".join(shown for _, shown in everything_heard_sent(room.slack))
    assert "click me" in sent and "bold" in sent, "the hostile text was not shown: the test would prove nothing"
    assert len(pings(HOSTILE)) >= 6
    # Heard names the people who acted, and the Support department's group where an admin
    # configured it (the prompt, the App Home's settings); never what someone typed.
    chosen = {f"@{user}" for user in (SAM, PRIYA, MAYA)} | {f"!subteam^{SUPPORT_GROUP}"}
    for method, shown in everything_heard_sent(room.slack):
        extra = set(pings(shown)) - chosen
        assert not extra, f"{method} pings {extra}: {shown[:300]}"
        assert "<http" not in shown.replace("<https://acme-robotics.slack.com/", ""), shown[:300]
