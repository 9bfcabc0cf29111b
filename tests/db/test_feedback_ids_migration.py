"""Migration 0013 on a database that already holds rows: feedback item ids are never given
out again on SQLite (AUTOINCREMENT, its sequence above every id still referred to), the
other rooms' references to items become foreign keys (those pointing at no item settled
first), and nothing that refers to the recreated tables is lost on the way: SQLite drops
a table to recreate it, which with foreign keys enforced would have deleted the items'
acknowledgements and vectors and the stories' posts (ON DELETE CASCADE)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError

from bot.db import session_factory
from bot.db.migrate import current_revision
from bot.db.models import OutboxMessage
from bot.features.decisions.models import Decision, DecisionLink
from bot.features.digest.models import DigestAssignment, DigestVector
from bot.features.feedback.models import Acknowledgement, FeedbackItem
from bot.features.stories.models import Reflection, Story, StoryPost
from tests.fixtures.db import at_revision, migrate

BEFORE = "0012_feedback_import_keys"
SAID = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def at_0012(engine):
    """The database one revision before 0013 for the test, and at the head again after it."""
    yield from at_revision(engine, BEFORE)


def item(workspace_id: int, ts: str) -> FeedbackItem:
    return FeedbackItem(workspace_id=workspace_id, text=f"said at {ts}", source="channel", channel_id="C1",
                        message_ts=ts, said_at=SAID)  # fmt: skip


def story(workspace_id: int, title: str, feedback_item_id: int) -> Story:
    return Story(workspace_id=workspace_id, title=title, customer="Globex", what_happened="x", learned="y",
                 source="feedback", feedback_item_id=feedback_item_id)  # fmt: skip


def counts(session) -> dict[str, int]:
    models = (FeedbackItem, Acknowledgement, DigestVector, Story, StoryPost, Reflection, Decision)
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) for model in models}


def autoincrement(engine) -> bool:
    with engine.connect() as connection:
        sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'feedback_items'")).scalar()
    return "AUTOINCREMENT" in sql


def test_an_upgrade_keeps_every_row_settles_dangling_references_and_never_reuses_a_deleted_id(
    at_0012, make_workspace
):
    engine, sessions = at_0012, session_factory(at_0012)
    workspace_id = make_workspace("T1").id
    with sessions.begin() as session:  # what a database at 0012 holds, after an item was deleted
        kept, drafted, deleted = (item(workspace_id, ts) for ts in ("1.000001", "1.000002", "1.000003"))
        decision = Decision(workspace_id=workspace_id, department="Support", title="t", decided="t", impact="helped")
        session.add_all([kept, drafted, deleted, decision])
        session.flush()
        from_item, from_deleted = story(workspace_id, "kept", drafted.id), story(workspace_id, "orphan", deleted.id)
        session.add_all([from_item, from_deleted,
                         Acknowledgement(feedback_item_id=kept.id, kind="reaction", user_id="U1", ref="eyes"),
                         DigestVector(workspace_id=workspace_id, feedback_id=kept.id, model="m", text_sha256="h",
                                      vector=b"\0" * 8),
                         DecisionLink(decision_id=decision.id, feedback_id=kept.id),
                         DecisionLink(decision_id=decision.id, feedback_id=deleted.id),
                         DigestAssignment(workspace_id=workspace_id, feedback_id=kept.id, department="Support"),
                         DigestAssignment(workspace_id=workspace_id, feedback_id=deleted.id, department="Support")])
        session.flush()
        post = StoryPost(workspace_id=workspace_id, week="2026-W48", story_id=from_item.id, channel_id="C2")
        session.add(post)
        session.flush()
        session.add(Reflection(post_id=post.id, user_id="U2", text="ask sooner", submit_key="v1"))
        session.execute(delete(FeedbackItem).where(FeedbackItem.id == deleted.id))  # the newest item's message went
    with sessions() as session:
        before = counts(session)
    deleted_id = deleted.id

    migrate(engine, "head")
    if engine.dialect.name == "sqlite":
        assert autoincrement(engine)
    with sessions.begin() as session:
        assert counts(session) == before
        assert session.scalars(select(DecisionLink.feedback_id)).all() == [kept.id]
        assert session.scalars(select(DigestAssignment.feedback_id)).all() == [kept.id]
        assert dict(session.execute(select(Story.title, Story.feedback_item_id)).all()) == {
            "kept": drafted.id, "orphan": None}
        # The deleted item's id is still in Slack (its card's buttons): the next item gets another.
        newer = item(workspace_id, "1.000004")
        session.add(newer)
        session.flush()
        assert newer.id > deleted_id
        # From now on the database settles what refers to a deleted item.
        session.execute(delete(FeedbackItem).where(FeedbackItem.id.in_([kept.id, drafted.id])))
        assert session.scalars(select(DecisionLink)).all() == session.scalars(select(DigestAssignment)).all() == []
        assert session.scalars(select(Story.feedback_item_id)).all() == [None, None]
        assert session.scalar(select(func.count()).select_from(Decision)) == 1

    migrate(engine, BEFORE, down=True)
    with sessions() as session:
        assert counts(session) == before | {"feedback_items": 1, "acknowledgements": 0, "digest_vectors": 0}
    if engine.dialect.name == "sqlite":
        assert not autoincrement(engine)



@pytest.mark.parametrize("key", ["feedback-card:T1:{id}", "remind:T1:{id}", "loop:T1:{id}:acknowledged"])
def test_an_id_only_an_outbox_key_still_names_is_never_given_again(at_0012, make_workspace, key):
    """The newest item deleted before the upgrade, with nothing left referring to it but
    the outbox: its card (whose Acknowledge button carries the id), a reminder, a DM."""
    engine, sessions = at_0012, session_factory(at_0012)
    workspace_id = make_workspace("T1").id
    with sessions.begin() as session:
        kept, deleted = item(workspace_id, "1.000001"), item(workspace_id, "1.000002")
        session.add_all([kept, deleted])
        session.flush()
        session.add(OutboxMessage(workspace_id=workspace_id, idempotency_key=key.format(id=deleted.id),
                                  method="chat.postMessage", payload={}))  # fmt: skip
        session.execute(delete(FeedbackItem).where(FeedbackItem.id == deleted.id))
    deleted_id = deleted.id

    migrate(engine, "head")
    with sessions.begin() as session:
        newer = item(workspace_id, "1.000003")
        session.add(newer)
        session.flush()
        assert newer.id > deleted_id


def schema(engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")).all()


def test_a_migration_failing_midway_leaves_the_database_as_it_was_and_a_rerun_succeeds(at_0012, make_workspace):
    """The sqlite3 driver opens a transaction only at the first INSERT/UPDATE/DELETE, so the
    CREATE TABLE of Alembic's copy of feedback_items committed alone: a migration that
    failed after it (or was killed) left `_alembic_tmp_feedback_items`, and every later
    upgrade failed on it. The failure here comes after feedback_items was recreated."""
    engine, sessions = at_0012, session_factory(at_0012)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's DDL has always been transactional")
    workspace_id = make_workspace("T1").id
    with sessions.begin() as session:
        decision = Decision(workspace_id=workspace_id, department="Support", title="t", decided="t", impact="helped")
        session.add_all([item(workspace_id, "1.000001"), decision])
        session.flush()
        session.add(DecisionLink(decision_id=decision.id, feedback_id=999))  # dangling: 0013 deletes it
    with engine.begin() as connection:
        connection.execute(text("CREATE TRIGGER fail_midway BEFORE DELETE ON decision_links "
                                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"))  # fmt: skip
    before = schema(engine)
    with sessions() as session:
        rows = counts(session)

    with pytest.raises(DBAPIError, match="injected failure"):
        migrate(engine, "head")
    assert schema(engine) == before
    assert current_revision(engine) == BEFORE
    with sessions() as session:
        assert counts(session) == rows

    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER fail_midway"))
    migrate(engine, "head")
    assert autoincrement(engine)
