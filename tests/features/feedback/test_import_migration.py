"""Migration 0012 turns the import keys made before it (the SHA-256 of a row's values in hex)
into the keys the importer makes now (the UTC second, then the same hash in base64), so a
file imported before the upgrade adds nothing when imported again after it; a downgrade
gives the old keys back exactly."""

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update

from bot.db import session_factory
from bot.features.feedback.importer import import_file, import_key, parse_created_at
from bot.features.feedback.models import FeedbackItem
from tests.features.feedback.test_import import NOW, write
from tests.fixtures.db import at_revision, migrate
from tests.people import ACME, SAM

BEFORE = "0011_digest_vectors"
ROWS = [  # text, author, created_at, source, url: times of every shape the importer reads
    ["Invoices are PDF only", f"<@{SAM}|sam>", "2026-11-20T14:30:00Z", "email", ""],
    ["Wants SSO", "Dana from Support", "2026-11-24", " zendesk ", "https://acme.zendesk.example/t/1"],
    ["Export is slow", "Ana", "2026-11-24T08:30:15.000250+00:00", "", ""],
    ["Zone", "Ana", "2026-11-24T10:30:15+02:00", "phone", ""],
    ["Epoch", "Ana", "1795600000.5", "chat", ""],
    ["Long ago", "Ana", "0999-03-04 05:06:07", "", ""],
    ["Café à Zürich", "Zoë", "2026-11-23T09:00:00", "réunion", ""],
]


def old_key(row: list[str]) -> str:
    """A row's key as the importer made it before 0012."""
    said_iso = parse_created_at(row[2], NOW).isoformat()
    text_, author, _, origin, url = (value.strip() if i else value for i, value in enumerate(row))
    return hashlib.sha256(f"{text_}\x1f{author}\x1f{said_iso}\x1f{origin}\x1f{url}".encode()).hexdigest()


@pytest.fixture
def at_0011(engine):
    """The database one revision before 0012 for the test, and at the head again after it."""
    yield from at_revision(engine, BEFORE)


def keys(sessions) -> dict[str, str | None]:
    with sessions() as session:
        return dict(session.execute(select(FeedbackItem.text, FeedbackItem.import_key)).all())


def test_a_file_imported_before_the_upgrade_adds_nothing_after_it_and_a_downgrade_restores_its_keys(
    at_0011, make_workspace, tmp_path
):
    engine, sessions = at_0011, session_factory(at_0011)
    acme_id = make_workspace(ACME).id
    path = write(tmp_path / "history.csv", ROWS)
    assert import_file(sessions, acme_id, path, now=NOW).imported == len(ROWS)
    with sessions.begin() as session:  # the keys the importer made before 0012, and keys of other shapes
        for row in ROWS:
            session.execute(update(FeedbackItem).where(FeedbackItem.text == row[0]).values(import_key=old_key(row)))
        session.add_all([
            FeedbackItem(workspace_id=acme_id, text="Someone's own key", source="import", import_key="k1",
                         said_at=datetime(2026, 11, 20, tzinfo=UTC)),
            FeedbackItem(workspace_id=acme_id, text="No key", source="command", said_at=datetime(2026, 11, 20, tzinfo=UTC)),
        ])  # fmt: skip
    before = keys(sessions)

    migrate(engine, "head")
    after = keys(sessions)
    for row in ROWS:
        said_iso = parse_created_at(row[2], NOW).isoformat()
        expected = import_key(row[0], row[1].strip(), said_iso, row[3].strip(), row[4].strip())
        assert after[row[0]] == expected and len(expected) == 62 and expected.startswith(said_iso[:19])
    assert (after["Someone's own key"], after["No key"]) == ("k1", None)
    again = import_file(sessions, acme_id, path, now=NOW)
    assert (again.imported, again.known) == (0, len(ROWS))

    migrate(engine, BEFORE, down=True)
    assert keys(sessions) == before


def test_the_card_and_reporter_indexes_hold_only_rows_that_have_one(engine):
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found = dict(connection.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'feedback_items'")).all())
        else:
            found = dict(connection.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'feedback_items'")).all())  # fmt: skip
    assert "card_channel_id IS NOT NULL" in found["ix_feedback_items_card"]
    assert "reporter_user_id IS NOT NULL" in found["ix_feedback_items_workspace_reporter"]
    assert "WHERE" not in found["ix_feedback_items_workspace_status_said"].upper()
