"""R4 (issue 19): the fake OpenAI server down, slow, or answering garbage while the
leadership-digest job runs → every leader still gets the digest once, its themes worded by
Heard's offline engine, and the footer says why the LLM was not used."""

import pytest

from tests.features.digest.test_delivery import feedback_week
from tests.features.digest.test_digest_llm import llm_room, quick_llm  # noqa: F401
from tests.features.feedback.helpers import texts
from tests.people import JONAS, LEADERS, MAYA


def down(fake):
    fake.stop()  # nothing listens on its port any more


def slow(fake):
    fake.hang(5)  # released when the fake stops
    fake.hang(5)


def garbage(fake):
    fake.reply_text("<html>502 Bad Gateway</html>")
    fake.reply_text("\x00\x01 not json")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (down, "connection error (2 attempts)"),
        (slow, "timeout (2 attempts)"),
        (garbage, "invalid JSON (2 attempts)"),
    ],
    ids=["down", "slow", "garbage"],
)
@pytest.mark.usefixtures("quick_llm")
def test_the_digest_is_delivered_by_the_offline_engine_and_says_why(
    workspace, heard_server, fake_slack, fake_openai, fault, reason
):
    room = llm_room(workspace, heard_server, fake_slack, fake_openai)
    feedback_week(room)
    fault(fake_openai)

    outcome = room.run()

    assert outcome.status == "succeeded", outcome.detail
    for conversation in (MAYA, JONAS, LEADERS):
        [digest] = room.digests(conversation)
        shown = texts(digest)
        assert f"Theme labels and summaries written offline by Heard (the LLM was not used: {reason})" in shown
        assert "Invoice PDF export" in shown  # the themes and quotes are all there
