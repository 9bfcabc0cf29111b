"""What the decisions room gives the rest of Heard: participation per department and
period (`queries.py`), `decisions.csv` and its links in `heard export`, `/heard forget`
for authors, and the App Home's "your department's recent decisions"."""

import csv
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.db import session_factory
from bot.features import load_rooms
from bot.features.admin.service import forget_person
from bot.features.decisions import queries
from bot.features.decisions.models import Decision, DecisionLink, DecisionPrompt
from bot.features.feedback.models import FeedbackItem
from tests.features.decisions.room import TUESDAY
from tests.features.feedback.helpers import texts
from tests.people import ACME, GENERAL, GLOBEX, LEADERS, LENA, MAYA, PRIYA, SAM, TOMAS

NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def decision(session, workspace_id, department, author, day, impact, links=(), *, text="We decided"):
    row = Decision(workspace_id=workspace_id, department=department, channel_id=GENERAL, author_user_id=author,
                   title=text, decided=text, impact=impact, logged_at=datetime(2026, 11, day, 12, tzinfo=UTC)
                   if isinstance(day, int) else day)  # fmt: skip
    session.add(row)
    session.flush()
    for feedback_id in links:
        session.add(DecisionLink(decision_id=row.id, feedback_id=feedback_id, linked_at=row.logged_at))
    session.flush()
    return row


@pytest.fixture
def month(engine, workspace):
    """November 2026 at Acme: Support and Product prompted every Tuesday; Support logged
    three decisions (two people), Product one; Finance, since removed, one; and some noise
    outside the month and in Globex."""
    acme = workspace(departments={"Support": GENERAL, "Product": LEADERS})
    globex = workspace(GLOBEX, departments={"Support": "C0GLXGENRL"})
    with session_factory(engine).begin() as session:
        for week, day in ((45, 3), (46, 10), (47, 17), (48, 24)):
            for name in ("Support", "Product"):
                session.add(DecisionPrompt(workspace_id=acme.id, department=name, channel_id=GENERAL,
                                           period=f"2026-W{week}",
                                           prompted_at=datetime(2026, 11, day, 10, tzinfo=UTC)))  # fmt: skip
        session.add(DecisionPrompt(workspace_id=acme.id, department="Support", channel_id=GENERAL,
                                   period="2026-W49", prompted_at=datetime(2026, 12, 1, 10, tzinfo=UTC)))
        session.add_all(FeedbackItem(id=item_id, workspace_id=acme.id, text=f"feedback {item_id}", source="command",
                                     said_at=datetime(2026, 11, 1, tzinfo=UTC)) for item_id in (11, 12, 13))  # fmt: skip
        session.flush()  # the items the decisions link
        decision(session, acme.id, "Support", PRIYA, 4, "helped", links=(11, 12))
        decision(session, acme.id, "Support", SAM, 11, "helped", links=(12,))
        decision(session, acme.id, "Support", PRIYA, 18, "hurt")
        decision(session, acme.id, "Product", TOMAS, 25, "unknown", links=(13,))
        decision(session, acme.id, "Finance", MAYA, 5, "none")
        decision(session, acme.id, "Support", PRIYA, datetime(2026, 10, 31, 23, tzinfo=UTC), "mixed")
        decision(session, globex.id, "Support", "U0HANK0001", 4, "helped")
    return acme


def test_participation_for_a_seeded_month(session, month):
    found = {p.department: p for p in queries.participation(session, month.id, *NOVEMBER)}
    assert list(found) == ["Product", "Support", "Finance"]  # today's departments, then removed ones
    support = found["Support"]
    assert (support.prompted, support.logged, support.authors, support.feedback_linked) == (4, 3, 2, 2)
    assert support.impact == {"helped": 2, "hurt": 1, "mixed": 0, "unknown": 0, "none": 0}
    product = found["Product"]
    assert (product.prompted, product.logged, product.authors, product.feedback_linked) == (4, 1, 1, 1)
    assert product.impact["unknown"] == 1
    finance = found["Finance"]
    assert (finance.prompted, finance.logged, finance.impact["none"]) == (0, 1, 1)


def test_forget_takes_the_authors_name_out_of_their_decisions_summaries(decisions):
    decisions.at(TUESDAY)
    decisions.submit(decisions.open_modal(user=PRIYA), user=PRIYA, decided="Support answers in 4 hours",
                     name="priya")  # fmt: skip
    with decisions.runtime.sessions.begin() as session:
        forget_person(session, decisions.workspace_id, PRIYA, rooms=load_rooms(), by=MAYA, now=TUESDAY)
    [summary] = decisions.outbox("decision-summary:")
    assert "priya" not in str(summary.payload) and "Support answers in 4 hours" in summary.payload["text"]


def test_participation_of_a_week_and_of_a_quiet_workspace(session, month, make_workspace):
    week = queries.participation(session, month.id, datetime(2026, 11, 23, tzinfo=UTC),
                                 datetime(2026, 11, 30, tzinfo=UTC))  # fmt: skip
    assert [(p.department, p.prompted, p.logged) for p in week] == [("Product", 1, 1), ("Support", 1, 0)]
    quiet = make_workspace("T0QUIET01")
    assert queries.participation(session, quiet.id, *NOVEMBER) == []


def test_decisions_since_lists_them_with_their_links(session, month):
    found = queries.decisions_since(session, month.id, datetime(2026, 11, 11, tzinfo=UTC))
    assert [(d.department, d.impact, d.feedback_ids) for d in found] == [
        ("Support", "helped", ("12",)), ("Support", "hurt", ()), ("Product", "unknown", ("13",))]
    assert all(isinstance(d.id, str) and d.logged_at.tzinfo for d in found)


def test_export_writes_decisions_and_their_links(month, db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path / "out"), "--team", ACME])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "decisions.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and {row["team_id"] for row in rows} == {ACME}
    first = rows[0]  # oldest first
    assert (first["department"], first["author"], first["impact"]) == ("Support", PRIYA, "mixed")
    linked = next(row for row in rows if row["linked_feedback"] == "11 12")
    assert linked["logged_at"] == "2026-11-04T12:00:00+00:00" and linked["decision"] == "We decided"
    with open(tmp_path / "out" / "decision_links.csv", encoding="utf-8", newline="") as handle:
        links = list(csv.DictReader(handle))
    assert sorted(row["feedback_id"] for row in links) == ["11", "12", "12", "13"]


def test_forget_takes_the_person_out_of_the_words_of_every_decision(session, month):
    """Only the author was anonymised: a decision's words that mention the person (typed or
    pasted into the modal) kept naming them."""
    decision = session.scalars(select(Decision).where(Decision.workspace_id == month.id)).first()
    decision.decided = f"Refund Acme, as <@{PRIYA}|priya> asked ({PRIYA}); <@{PRIYA}0> is someone else"
    decision.evidence = f"thread with @{PRIYA}"
    session.flush()
    report = forget_person(session, month.id, PRIYA, rooms=load_rooms(), by=MAYA, now=TUESDAY)
    assert {line.key: line.count for line in report.lines}["decision_mentions_anonymised"] == 1
    session.refresh(decision)
    assert decision.decided == f"Refund Acme, as [user] asked ([user]); <@{PRIYA}0> is someone else"
    assert decision.evidence == "thread with [user]"


def test_forget_anonymises_a_persons_decisions_and_keeps_the_counts(session, month):
    report = forget_person(session, month.id, PRIYA, rooms=load_rooms(), by=MAYA, now=TUESDAY)
    assert {line.key: line.count for line in report.lines}["decisions_anonymised"] == 3
    authors = session.scalars(select(Decision.author_user_id).where(Decision.workspace_id == month.id)).all()
    assert PRIYA not in authors and len(authors) == 6
    support = next(p for p in queries.participation(session, month.id, *NOVEMBER) if p.department == "Support")
    assert (support.logged, support.authors) == (3, 2)  # the stand-in still counts once


# -- App Home -----------------------------------------------------------------------------------------


def open_home(room, user_id: str) -> dict:
    room.event({"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home"})
    [call] = [c for c in room.slack.calls_to("views.publish") if c.args["user_id"] == user_id][-1:]
    assert call.ok, call.error
    return room.slack.published_home(user_id)


def test_the_app_home_shows_the_members_department_decisions(decisions, engine):
    decisions.at(TUESDAY)
    posted = decisions.post(SAM, "Feedback to link")
    decisions.submit(decisions.open_modal(user=PRIYA), user=PRIYA, decided="Support answers in 4 hours <!here>",
                     impact="helped", links=(str(decisions.item(posted["ts"]).id),))  # fmt: skip
    with session_factory(engine).begin() as session:
        decision(session, decisions.workspace_id, "Product", TOMAS, 20, "hurt", text="Product drops the beta")
    home = texts(open_home(decisions, SAM))  # @support
    assert "Your department's recent decisions" in home and "Support answers in 4 hours" in home
    assert "&lt;!here&gt;" in home and "Product drops" not in home
    home = texts(open_home(decisions, TOMAS))  # in #leadership, Product's channel
    assert "Product drops the beta" in home and "Support answers" not in home


def test_the_app_home_of_someone_in_no_department_says_so(decisions):
    home = texts(open_home(decisions, LENA))  # not in @support, not in #leadership
    assert "not in a department's user group or channel" in home
