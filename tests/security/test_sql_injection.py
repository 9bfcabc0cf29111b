"""SQL-injection strings (issue 20) through every text input a person fills in: stored
verbatim, every table still there. Heard binds every value (SQLAlchemy, and the CSV
import's driver executemany or COPY), so a quote is a character like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, select

from bot.db import session_factory
from bot.db.models import Department
from bot.features.decisions.models import Decision
from bot.features.feedback import views as feedback_views
from bot.features.feedback.importer import import_file
from bot.features.feedback.models import FeedbackItem
from bot.features.stories.models import Story
from tests.features.decisions.room import SUPPORT, decisions  # noqa: F401  (the fixture)
from tests.features.feedback.room import feedback  # noqa: F401  (the fixture)
from tests.features.stories.room import stories  # noqa: F401  (the fixture)
from tests.people import ACME, GENERAL, MAYA, PRIYA, SAM

INJECTIONS = [
    "'; DROP TABLE feedback_items;--",
    "Robert'); DROP TABLE stories;--",
    "\" OR \"1\"=\"1\" --",
    "1' OR '1'='1' /*",
    "%' OR 1=1; SELECT pg_sleep(5);--",
    "x'); DELETE FROM workspaces WHERE ('1'='1",
    "$1 :name ? %s %(text)s \\' \\\\",
]


def tables(runtime) -> set[str]:
    return set(inspect(runtime.engine).get_table_names())


def test_feedback_command_and_modals_store_injections_verbatim(feedback):  # noqa: F811 - the fixture
    before = tables(feedback.runtime)
    for i, attack in enumerate(INJECTIONS):
        feedback.command(f"feedback {attack} #{i}", user=PRIYA)
    plain = [attack for attack in INJECTIONS if '"' not in attack]  # a " would end the quoted value
    for attack in plain:
        feedback.command(f'feedback Customer says hi customer:"{attack}"', user=PRIYA)
    items = feedback.items()
    assert [item.text for item in items[: len(INJECTIONS)]] == [f"{a} #{i}" for i, a in enumerate(INJECTIONS)]
    assert [item.customer for item in items[len(INJECTIONS) :]] == plain
    # The resolution note, through its modal.
    item = items[0]
    feedback.press(feedback_views.RESOLVE_ACTION, item.id, user=MAYA)
    modal = feedback.slack.opened_views()[-1]
    values = {feedback_views.RESOLUTION_INPUT: {feedback_views.RESOLUTION_INPUT: {
        "type": "plain_text_input", "value": INJECTIONS[1]}}}  # fmt: skip
    feedback.interact(feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=MAYA, view=modal,
                                                                   values=values))  # fmt: skip
    with feedback.runtime.sessions() as session:
        assert session.get(FeedbackItem, item.id).resolution_note == INJECTIONS[1]
    assert tables(feedback.runtime) == before


def test_story_modal_and_reflection_store_injections_verbatim(stories):  # noqa: F811 - the fixture
    before = tables(stories.runtime)
    attack = INJECTIONS[1]
    stories.add_story(user=PRIYA, title=attack[:60], customer=INJECTIONS[0], what_happened=INJECTIONS[4],
                      learned=INJECTIONS[6])  # fmt: skip
    [story] = stories.stories()
    assert (story.title, story.customer, story.what_happened, story.learned) == (
        attack[:60], INJECTIONS[0], INJECTIONS[4], INJECTIONS[6])
    stories.run_weekly()
    [post] = stories.posts()
    stories.reflect(post.id, user=SAM, text=INJECTIONS[5], share=False)
    assert [r.text for r in stories.reflections()] == [INJECTIONS[5]]
    with stories.runtime.sessions() as session:
        assert session.scalar(select(Story.title)) == attack[:60]
    assert tables(stories.runtime) == before


def test_decision_modal_and_department_names_store_injections_verbatim(decisions):  # noqa: F811 - the fixture
    before = tables(decisions.runtime)
    modal = decisions.open_modal(user=MAYA, channel=GENERAL)
    decisions.submit(modal, user=MAYA, decided=INJECTIONS[0], affected=INJECTIONS[2], evidence=INJECTIONS[6])
    [decision] = decisions.decisions()
    assert (decision.decided, decision.affected, decision.evidence) == (INJECTIONS[0], INJECTIONS[2], INJECTIONS[6])
    assert decisions.options(INJECTIONS[3], user=MAYA).status == 200  # the picker's search
    with decisions.runtime.sessions() as session:
        assert session.scalar(select(Decision.department)) == SUPPORT
        assert {d.name for d in session.scalars(select(Department))} >= {SUPPORT}
    assert tables(decisions.runtime) == before


def test_csv_import_stores_injections_verbatim(engine, make_workspace, tmp_path):
    workspace_id = make_workspace(ACME).id
    path = tmp_path / "evil.csv"
    lines = ["text,author,created_at,source,url"]
    for attack in INJECTIONS:
        quoted = '"' + attack.replace('"', '""') + '"'
        lines.append(f"{quoted},{quoted},2026-11-20,{quoted},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = set(inspect(engine).get_table_names())
    report = import_file(session_factory(engine), workspace_id, path, now=datetime(2026, 11, 25, tzinfo=UTC))
    assert (report.imported, report.bad_count) == (len(INJECTIONS), 0)
    with session_factory(engine)() as session:
        stored = session.execute(select(FeedbackItem.text, FeedbackItem.reporter_name, FeedbackItem.origin)
                                 .order_by(FeedbackItem.id)).all()  # fmt: skip
    assert [tuple(row) for row in stored] == [(a, a.strip(), a.strip()) for a in INJECTIONS]
    assert set(inspect(engine).get_table_names()) == before
