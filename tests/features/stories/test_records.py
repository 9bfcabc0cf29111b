"""What the stories room forgets of a person (`records.forget`), in the database itself."""

from sqlalchemy import select

from bot.features.stories.models import Reflection, Story, StoryPost
from bot.features.stories.records import forget
from bot.rooms import ForgetRequest
from tests.people import PRIYA, SAM


def test_forget_takes_the_person_out_of_the_words_of_stories_and_reflections(session, make_workspace):
    # A story drafted from feedback quotes it word for word ("raised by <@U…|sam>"), and
    # others' reflections may name them: after `/heard forget` each mention is [user] (as
    # in feedback), the rest of the words kept; another workspace's stories stay as they are.
    acme, globex = make_workspace("T0ACME001"), make_workspace("T0GLOBEX2")
    drafted = Story(workspace_id=acme.id, source="draft", state="approved", title=f"Export fixed for {SAM}",
                    customer=f"Northwind (via <@{SAM}>)", what_happened=f"Robots offline (raised by <@{SAM}|sam> on the call)",
                    learned=f"Ask @{SAM} or <@{PRIYA}> first, not X{SAM}")  # fmt: skip
    untouched = Story(workspace_id=acme.id, source="command", state="approved", title="Plain", customer="Contoso",
                      what_happened=f"<@{PRIYA}> heard it", learned="Listen")  # fmt: skip
    elsewhere = Story(workspace_id=globex.id, source="draft", state="approved", title="Theirs", customer="Globex",
                      what_happened=f"raised by <@{SAM}>", learned="Keep")  # fmt: skip
    session.add_all([drafted, untouched, elsewhere])
    session.flush()
    post = StoryPost(workspace_id=acme.id, week="2026-W48", story_id=drafted.id, status="posted", channel_id="C0STORIES1")
    session.add(post)
    session.flush()
    session.add(Reflection(post_id=post.id, user_id=PRIYA, text=f"I'd pair with <@{SAM}> on the next one",
                           submit_key="v1"))  # fmt: skip
    session.flush()

    lines = forget(ForgetRequest(session, acme.id, SAM, "XSTANDIN0001"))

    counts = {line.key: line.count for line in lines}
    assert (counts["story_mentions_anonymised"], counts["reflection_mentions_anonymised"]) == (1, 1)
    session.expire_all()
    stories = session.execute(select(Story.title, Story.customer, Story.what_happened, Story.learned)
                              .order_by(Story.id)).all()  # fmt: skip
    assert stories == [
        ("Export fixed for [user]", "Northwind (via [user])", "Robots offline (raised by [user] on the call)",
         f"Ask [user] or <@{PRIYA}> first, not X{SAM}"),
        ("Plain", "Contoso", f"<@{PRIYA}> heard it", "Listen"),
        ("Theirs", "Globex", f"raised by <@{SAM}>", "Keep"),
    ]  # fmt: skip
    assert session.scalars(select(Reflection.text)).all() == ["I'd pair with [user] on the next one"]
