"""`/heard forget @user` and uninstalling (issue 20), checked in the database itself.

Forget: Sam leaves a trace in every room (feedback he reported, acknowledged and reacted
to, a story he submitted, a reflection and a reaction on the week's post, a decision he
logged, a Heard role, DMs Heard sent him); after `/heard forget @sam` no column of any
table (every room's included, whatever rooms are installed) holds his user id.

Uninstall: `app_uninstalled` deletes the workspace's stored tokens (SPEC: "Uninstalling
the app or revoking its tokens deletes the stored tokens"), and only that workspace's.
"""

from __future__ import annotations

from sqlalchemy import String, Text, inspect, select, text

from bot.db.models import Workspace
from tests.features.decisions.room import decisions  # noqa: F401  (the fixture)
from tests.features.stories.room import MONDAY, STORIES
from tests.features.stories.room import Stories as StoriesRoom
from tests.people import ACME, GENERAL, GLOBEX, HANK, MAYA, PRIYA, SAM
from tests.sandbox.test_oauth import install


def rows_naming(runtime, needle: str) -> dict[str, int]:
    """Every table and text column holding `needle`, with how many rows do."""
    found = {}
    engine = runtime.engine
    inspector = inspect(engine)
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                if not isinstance(column["type"], String | Text) and "JSON" not in str(column["type"]).upper():
                    continue
                name = column["name"]
                count = connection.execute(text(
                    f'SELECT count(*) FROM "{table}" WHERE CAST("{name}" AS TEXT) LIKE :needle'
                ), {"needle": f"%{needle}%"}).scalar()  # fmt: skip
                if count:
                    found[f"{table}.{name}"] = count
    return found


def test_forget_leaves_no_column_of_any_room_naming_the_person(decisions):  # noqa: F811 - the fixture
    room = decisions
    stories = StoriesRoom(room.heard, room.slack)
    stories.at(MONDAY)
    stories.set_channel(STORIES)
    # Feedback: Sam reports one item, acknowledges Priya's with a reply and a reaction.
    mine = room.post(SAM, "The export drops the time zone")
    theirs = room.post(PRIYA, "Invoices arrive twice")
    room.post(SAM, "On it", thread_ts=theirs["ts"])
    room.react(SAM, theirs["ts"], "eyes")
    room.command("feedback Globex says the API is slow", user=SAM)
    # Stories: Sam submits one, Maya approves it, it is posted, Sam reflects and reacts.
    stories.add_story(user=SAM)
    [story] = stories.stories()
    from bot.features.stories import views as story_views

    stories.press(story_views.APPROVE_ACTION, story.id, user=MAYA, channel="D0MAYADM01")
    stories.run_weekly()
    [post] = stories.posts()
    stories.reflect(post.id, user=SAM, text="We saw this too", share=True)
    [post] = stories.posts()  # read again: the post's ts is known once Slack answered
    if post.message_ts:
        stories.react(SAM, post.message_ts)
    # Decisions: Sam logs one.
    room.submit(room.open_modal(user=SAM, channel=GENERAL), user=SAM, name="sam")
    # Admin: a role.
    room.command(f"leader add <@{SAM}|sam>", user=MAYA)
    before = rows_naming(room.runtime, SAM)
    assert len(before) >= 5, before  # he is everywhere: the test would prove nothing otherwise

    reply = room.command(f"forget <@{SAM}|sam>", user=MAYA)

    assert "Forgot" in reply["text"] or "forgot" in reply["text"].lower(), reply
    assert rows_naming(room.runtime, SAM) == {}
    assert mine and rows_naming(room.runtime, PRIYA)  # others are still there


def test_uninstall_deletes_that_workspace_s_tokens_only(heard_server, fake_slack, acme, globex):
    fake_slack.add_workspace(globex)
    heard = heard_server(oauth=True)
    assert install(heard, fake_slack, acme, MAYA).status == 200
    assert install(heard, fake_slack, globex, HANK).status == 200
    assert rows_naming(heard.runtime, acme.bot_token) and rows_naming(heard.runtime, globex.bot_token)

    heard.sender.event({"type": "app_uninstalled"}, team_id=ACME)
    heard.listeners.drain()

    assert rows_naming(heard.runtime, acme.bot_token) == {}
    assert rows_naming(heard.runtime, globex.bot_token)
    with heard.runtime.sessions() as session:
        active = {w.team_id: w.active for w in session.scalars(select(Workspace))}
    assert active == {ACME: False, GLOBEX: True}
