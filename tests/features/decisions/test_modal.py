"""The decision modal end to end: opening it (`/heard decision`, a prompt's button) with the
department preselected, logging a decision that links feedback (acknowledged, its reporter
told), the channel summary, and every kind of bad input refused inline with nothing stored."""

import pytest
from sqlalchemy import select

from bot.db import session_factory
from bot.features.admin.service import remove_department
from bot.features.decisions.kinds import Field
from bot.features.feedback.models import FeedbackItem
from tests.features.decisions.room import PRODUCT, SUPPORT, TUESDAY
from tests.features.feedback.helpers import pings, texts
from tests.people import (
    FEEDBACK,
    GENERAL,
    GLOBEX,
    JONAS,
    LEADERS,
    MAYA,
    PRIYA,
    SAM,
    STORIES,
    TOMAS,
)


def preselected(modal: dict) -> str | None:
    block = next(b for b in modal["blocks"] if b.get("block_id") == Field.DEPARTMENT)
    return (block["element"].get("initial_option") or {}).get("value")


@pytest.fixture
def room(decisions):
    decisions.at(TUESDAY)
    return decisions


# -- opening ------------------------------------------------------------------------------------


def test_the_department_is_preselected_from_the_channel(room):
    assert preselected(room.open_modal(user=TOMAS, channel=LEADERS)) == PRODUCT
    assert preselected(room.open_modal(user=TOMAS, channel=GENERAL)) == SUPPORT


def test_the_department_is_preselected_from_the_users_group_elsewhere(room):
    assert preselected(room.open_modal(user=PRIYA, channel=STORIES)) == SUPPORT  # @support
    assert preselected(room.open_modal(user=TOMAS, channel=STORIES)) is None  # no group: a choice


def test_the_prompts_button_opens_the_modal_for_its_department(room):
    modal = room.press_log(PRODUCT, user=SAM, channel=LEADERS)
    assert preselected(modal) == PRODUCT
    options = next(b for b in modal["blocks"] if b.get("block_id") == Field.DEPARTMENT)["element"]["options"]
    assert [o["value"] for o in options] == [PRODUCT, SUPPORT]


def test_without_departments_the_modal_says_how_to_add_one(room):
    with room.runtime.sessions.begin() as session:
        for name in (SUPPORT, PRODUCT):
            remove_department(session, room.workspace_id, name, by=None, now=TUESDAY)
    modal = room.open_modal(user=SAM)
    assert "callback_id" not in modal or not modal.get("submit")
    assert "/heard department add" in texts(modal)


# -- logging ------------------------------------------------------------------------------------


def test_a_decision_linking_feedback_acknowledges_it_and_tells_its_reporter(room):
    posted = room.post(SAM, "Northwind: the app logs them out on every warehouse switch.")
    item = room.item(posted["ts"])
    modal = room.open_modal(user=PRIYA)
    answer = room.submit(modal, user=PRIYA, decided="Sessions survive a warehouse switch from 4.3 on.",
                         impact="helped", affected="Northwind shift leads", evidence="SUP-2291",
                         links=(str(item.id),), name="priya")  # fmt: skip
    assert answer["response_action"] == "update" and "Logged for Support" in texts(answer["view"])
    assert "linked feedback (1 piece) counts as acknowledged" in texts(answer["view"])
    [decision] = room.decisions()
    assert (decision.department, decision.channel_id, decision.author_user_id) == (SUPPORT, GENERAL, PRIYA)
    assert (decision.impact, decision.affected, decision.evidence) == ("helped", "Northwind shift leads", "SUP-2291")
    assert decision.logged_at == TUESDAY and decision.decided.startswith("Sessions survive")
    assert room.links() == [(decision.id, item.id)]
    linked = room.item(posted["ts"])
    assert (linked.status, linked.acknowledged_by) == ("acknowledged", PRIYA)
    assert room.acks() == [("decision", PRIYA, f"decision:{decision.id}")]
    [dm] = room.dms(SAM)
    assert "linked a decision to the customer feedback you shared" in texts(dm)
    [summary] = room.heard_posts(GENERAL)
    assert "Support" in texts(summary) and "by priya" in texts(summary) and "Sessions survive" in texts(summary)
    assert "linked 1 piece of customer feedback" in texts(summary) and pings(texts(summary)) == []


def test_the_summary_pings_nobody_whatever_the_text(room):
    hostile = "<!channel> <!here> <!subteam^S0SUPPORT1|@support> <@U0MAYA0001> @everyone we chose"
    room.submit(room.open_modal(user=PRIYA), user=PRIYA, decided=hostile, affected="<!everyone>",
                name="<!channel>")  # fmt: skip
    [summary] = room.heard_posts(GENERAL)
    assert pings(texts(summary)) == [] and pings(summary["text"]) == []
    assert "&lt;!channel&gt;" in texts(summary)


def test_a_double_submitted_modal_is_one_decision(room):
    modal = room.open_modal(user=PRIYA)
    first = room.submit(modal, user=PRIYA)
    second = room.submit(modal, user=PRIYA)
    assert len(room.decisions()) == 1 and len(room.heard_posts(GENERAL)) == 1
    assert "already logged" in texts(second["view"]) and "already" not in texts(first["view"])


def test_a_department_removed_before_the_submit_keeps_the_decision_under_its_name(room):
    modal = room.open_modal(user=TOMAS, channel=LEADERS)
    with room.runtime.sessions.begin() as session:
        remove_department(session, room.workspace_id, PRODUCT, by=MAYA, now=TUESDAY)
    answer = room.submit(modal, user=TOMAS, department=PRODUCT, decided="Dashboard works offline")
    assert answer["response_action"] == "update"
    [decision] = room.decisions()
    assert (decision.department, decision.channel_id) == (PRODUCT, LEADERS)
    assert len(room.heard_posts(LEADERS)) == 1


def test_channels_in_metadata_heard_did_not_seal_are_not_believed(room):
    modal = room.open_modal(user=TOMAS, channel=LEADERS)
    with room.runtime.sessions.begin() as session:
        remove_department(session, room.workspace_id, PRODUCT, by=MAYA, now=TUESDAY)
    forged = {**modal, "private_metadata": '{"channels": {"Product": "C0STORIES1"}}'}
    answer = room.submit(forged, user=TOMAS, department=PRODUCT)
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {Field.DEPARTMENT}
    assert room.decisions() == [] and room.heard_posts(STORIES) == []


# -- refused inline, nothing stored ------------------------------------------------------------------


def refused(room, answer: dict) -> dict:
    assert answer["response_action"] == "errors"
    assert room.decisions() == [] and room.links() == [] and room.heard_posts(GENERAL) == []
    return answer["errors"]


def test_missing_fields_are_inline_errors(room):
    errors = refused(room, room.submit(room.open_modal(user=PRIYA), user=PRIYA, department=None, decided="  ",
                                       impact=None))  # fmt: skip
    assert set(errors) == {Field.DEPARTMENT, Field.DECIDED, Field.IMPACT}


def test_oversize_text_is_an_inline_error(room):
    modal = room.open_modal(user=PRIYA)
    errors = refused(room, room.submit(modal, user=PRIYA, decided="x" * 3001, evidence="y" * 3001,
                                       affected="z" * 501))  # fmt: skip
    assert set(errors) == {Field.DECIDED, Field.EVIDENCE, Field.AFFECTED}
    assert "3000 characters" in errors[Field.DECIDED]


def test_an_impact_or_department_heard_never_offered_is_refused(room):
    modal = room.open_modal(user=PRIYA)
    errors = refused(room, room.submit(modal, user=PRIYA, department="Finance", impact="fantastic"))
    assert set(errors) == {Field.DEPARTMENT, Field.IMPACT}


def test_feedback_of_another_workspace_or_none_at_all_is_refused(room, workspace, engine):
    globex = workspace(GLOBEX)
    with session_factory(engine).begin() as session:
        theirs = FeedbackItem(workspace_id=globex.id, text="Globex wants SSO", source="command",
                              said_at=TUESDAY)  # fmt: skip
        session.add(theirs)
    posted = room.post(SAM, "Acme customer feedback")
    mine = room.item(posted["ts"]).id
    modal = room.open_modal(user=PRIYA)
    for links in ((str(theirs.id),), ("999999",), ("abc",), (str(mine), str(theirs.id))):
        errors = refused(room, room.submit(modal, user=PRIYA, links=links))
        assert set(errors) == {Field.LINKS} and "not in this workspace" in errors[Field.LINKS]
    assert room.item(posted["ts"]).status == "open" and room.dms(SAM) == []


def test_the_reporter_linking_their_own_feedback_does_not_acknowledge_it(room):
    posted = room.post(PRIYA, "Contoso wants the report in Spanish")
    room.submit(room.open_modal(user=PRIYA), user=PRIYA, links=(str(room.item(posted["ts"]).id),))
    assert len(room.links()) == 1 and room.item(posted["ts"]).status == "open"
    assert room.dms(PRIYA) == []


def test_the_decision_command_takes_no_arguments(room):
    reply = room.command("decision now please", user=JONAS)
    assert "takes no arguments" in reply["text"] and room.slack.opened_views() == []


def test_feedback_stays_a_separate_room(room):
    # The decisions room never wrote to the feedback room's tables itself: only its hook did.
    room.post(SAM, "Item")
    with room.runtime.sessions() as session:
        assert session.scalar(select(FeedbackItem.channel_id)) == FEEDBACK
