"""What the feedback room forgets of a person (`records.forget`), in the database itself."""

from datetime import UTC, datetime

from sqlalchemy import select

from bot.features.feedback.models import FeedbackItem
from bot.features.feedback.records import forget
from bot.rooms import ForgetRequest
from tests.people import PRIYA, SAM

SAID = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def test_forget_takes_the_person_out_of_feedback_words_and_keeps_the_rest(session, make_workspace):
    # README: after `/heard forget`, feedback "no longer names them". Slack writes a person
    # into a message as <@U…> (with their name after a | in some payloads); people paste
    # the bare id. Each becomes [user], in every column of words; nothing else changes,
    # and another workspace's feedback and another person's mentions stay as they are.
    acme, globex = make_workspace("T0ACME001"), make_workspace("T0GLOBEX2")
    words = {
        "text": f"Ask <@{SAM}> or <@{SAM}|sam>, cc @{SAM}; {SAM}: export broken (not X{SAM}, not {SAM}9) <@{PRIYA}>",
        "note": f"logged for {SAM}", "resolution_note": f"fixed, told <@{SAM}|Sam Smith>",
        "customer": f"Globex ({SAM})", "reporter_name": f"via {SAM}", "origin": f"call with {SAM}",
    }  # fmt: skip
    session.add_all([
        FeedbackItem(workspace_id=acme.id, source="import", said_at=SAID, **words),
        FeedbackItem(workspace_id=acme.id, source="channel", said_at=SAID, text=f"Priya's words <@{PRIYA}>"),
        FeedbackItem(workspace_id=globex.id, source="channel", said_at=SAID, text=f"Ask <@{SAM}>"),
    ])  # fmt: skip
    session.flush()

    lines = forget(ForgetRequest(session, acme.id, SAM, "XSTANDIN0001"))

    assert {line.key: line.count for line in lines}["feedback_mentions_anonymised"] == 1
    session.expire_all()
    rows = session.execute(select(FeedbackItem.workspace_id, FeedbackItem.text, FeedbackItem.note,
                                  FeedbackItem.resolution_note, FeedbackItem.customer, FeedbackItem.reporter_name,
                                  FeedbackItem.origin).order_by(FeedbackItem.id)).all()  # fmt: skip
    assert rows == [
        (acme.id, f"Ask [user] or [user], cc [user]; [user]: export broken (not X{SAM}, not {SAM}9) <@{PRIYA}>",
         "logged for [user]", "fixed, told [user]", "Globex ([user])", "via [user]", "call with [user]"),
        (acme.id, f"Priya's words <@{PRIYA}>", None, None, None, None, None),
        (globex.id, f"Ask <@{SAM}>", None, None, None, None, None),
    ]  # fmt: skip
