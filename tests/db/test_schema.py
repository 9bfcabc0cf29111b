from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.db import create_db_engine
from bot.db.migrate import current_revision, head_revision, upgrade
from bot.db.models import Base, InboxEvent, Workspace
from bot.features import load_models
from bot.features.feedback.models import FeedbackItem


def test_migrations_build_exactly_the_models(engine):
    load_models()  # every room's tables, as Alembic's environment loads them
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    assert current_revision(engine) == head_revision(engine)


def _shape(table):
    columns = [(c.name, repr(c.type), c.nullable, c.primary_key, c.autoincrement,
                None if c.default is None else str(c.default.arg)) for c in table.columns]  # fmt: skip
    indexes = sorted((index.name, tuple(c.name for c in index.columns)) for index in table.indexes)
    return columns, indexes


def test_slack_oauth_tables_are_the_ones_slack_sdks_stores_use():
    """Heard declares them itself (importing the stores costs every start); OAuth mode
    reads and writes them through slack-sdk's stores, which must find what they build."""
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
    from sqlalchemy import MetaData

    theirs = MetaData()
    for table in (
        SQLAlchemyInstallationStore.build_installations_table(theirs, "slack_installations"),
        SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots"),
        SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states"),
    ):
        assert _shape(Base.metadata.tables[table.name]) == _shape(table), table.name


def test_upgrade_is_idempotent(engine):
    assert upgrade(engine) == []


def test_fresh_sqlite_file_gets_wal_and_foreign_keys(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert upgrade(engine)[-1] == head_revision(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert "slack_installations" in inspect(engine).get_table_names()


def test_datetimes_come_back_aware_utc(session):
    berlin = timezone(timedelta(hours=1))
    session.add(Workspace(team_id="T1", name="One", installed_at=datetime(2026, 11, 25, 10, tzinfo=berlin)))
    session.commit()
    session.expire_all()
    stored = session.query(Workspace).one().installed_at
    assert stored == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session):
    session.add(Workspace(team_id="T1", name="One", installed_at=datetime(2026, 11, 25, 10)))
    with pytest.raises(Exception, match="naive"):
        session.commit()


def test_same_slack_message_is_one_feedback_item(session, make_workspace):
    workspace = make_workspace("T1")
    said = datetime(2026, 11, 20, tzinfo=UTC)
    for _ in range(2):
        session.add(
            FeedbackItem(workspace_id=workspace.id, text="slow export", source="channel",
                         channel_id="C1", message_ts="1.000100", said_at=said)
        )  # fmt: skip
    with pytest.raises(IntegrityError):
        session.commit()


def test_event_ids_are_unique(session):
    session.add(InboxEvent(event_id="Ev1", team_id="T1", body="{}"))
    session.commit()
    session.add(InboxEvent(event_id="Ev1", team_id="T1", body="{}"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_deleting_a_workspace_removes_its_rows(session, make_workspace):
    workspace = make_workspace("T1")
    session.add(
        FeedbackItem(workspace_id=workspace.id, text="x", source="command",
                     said_at=datetime(2026, 11, 20, tzinfo=UTC))
    )  # fmt: skip
    session.commit()
    session.delete(session.get(Workspace, workspace.id))
    session.commit()
    assert session.query(FeedbackItem).count() == 0


def test_a_deleted_feedback_items_references_go_and_the_decision_and_story_stay(session, make_workspace):
    """Other rooms refer to an item by id; when its message is deleted, the database settles
    them in the same statement (ON DELETE): the decision's link and the digest assignment
    go, the decision stays, a story drafted from it keeps its words without the id."""
    from bot.features.decisions.models import Decision, DecisionLink
    from bot.features.digest.models import DigestAssignment
    from bot.features.feedback.service import forget_message
    from bot.features.stories.models import Story

    workspace = make_workspace("T1")
    said = datetime(2026, 11, 20, tzinfo=UTC)
    kept, gone = (FeedbackItem(workspace_id=workspace.id, text=text, source="channel", channel_id="C1",
                               message_ts=ts, said_at=said)
                  for text, ts in (("slow export", "1.000100"), ("double VAT", "1.000200")))  # fmt: skip
    decision = Decision(workspace_id=workspace.id, department="Support", title="Fix VAT", decided="Fix VAT",
                        impact="helped")  # fmt: skip
    session.add_all([kept, gone, decision])
    session.flush()
    session.add_all([
        DecisionLink(decision_id=decision.id, feedback_id=kept.id),
        DecisionLink(decision_id=decision.id, feedback_id=gone.id),
        DigestAssignment(workspace_id=workspace.id, feedback_id=gone.id, department="Support"),
        Story(workspace_id=workspace.id, title="VAT", customer="Globex", what_happened="x", learned="y",
              source="feedback", feedback_item_id=gone.id),
    ])  # fmt: skip
    session.commit()

    assert forget_message(session, workspace.id, "C1", "1.000200")
    session.commit()
    session.expire_all()
    assert session.get(Decision, decision.id) is not None
    assert session.scalars(select(DecisionLink.feedback_id)).all() == [kept.id]
    assert session.scalars(select(DigestAssignment)).all() == []
    assert session.scalar(select(Story.feedback_item_id)) is None and session.scalar(select(Story.title)) == "VAT"


def test_a_deleted_feedback_items_id_is_never_given_to_another(session, make_workspace):
    """SQLite gave a new row the highest id in use plus one: deleting the newest item handed
    its id, and what still referred to it (card buttons), to the next item."""
    workspace = make_workspace("T1")

    def add(ts: str) -> int:
        item = FeedbackItem(workspace_id=workspace.id, text="x", source="channel", channel_id="C1",
                            message_ts=ts, said_at=datetime(2026, 11, 20, tzinfo=UTC))  # fmt: skip
        session.add(item)
        session.commit()
        return item.id

    add("1795600000.000100")
    newest = add("1795600000.000200")
    session.delete(session.get(FeedbackItem, newest))
    session.commit()
    assert add("1795600000.000300") > newest
