"""What other rooms read of the feedback room (its `queries` module), on the database."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.db.models import OutboxMessage, Workspace
from bot.features.feedback import queries
from bot.features.feedback.kinds import ItemStatus
from bot.features.feedback.models import FeedbackItem

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def add(session, workspace_id: int, text: str, *, days_ago: float = 1, customer=None, acked_after=None,
        status=ItemStatus.OPEN, reporter="U0SAM00006") -> FeedbackItem:  # fmt: skip
    said = NOW - timedelta(days=days_ago)
    item = FeedbackItem(workspace_id=workspace_id, text=text, customer=customer, source="command",
                        reporter_user_id=reporter, said_at=said, status=status,
                        acknowledged_at=said + acked_after if acked_after else None)  # fmt: skip
    session.add(item)
    session.flush()
    return item


def test_search_matches_text_or_customer_newest_first_and_treats_wildcards_as_text(session, make_workspace):
    acme, globex = make_workspace("T1", bot_user_id="U0HEARDBOT"), make_workspace("T2")
    old = add(session, acme.id, "Exports are slow", days_ago=5, customer="Northwind")
    new = add(session, acme.id, "The export button is hidden", days_ago=1)
    add(session, acme.id, "100% uptime please", days_ago=2)
    add(session, globex.id, "Export fails for Globex")  # another workspace
    found = queries.search(session, acme.id, "EXPORT")
    assert [s.id for s in found] == [str(new.id), str(old.id)]
    assert [s.id for s in queries.search(session, acme.id, "northwind")] == [str(old.id)]
    assert [s.text for s in queries.search(session, acme.id, "%")] == ["100% uptime please"]
    assert queries.search(session, acme.id, "_") == []
    assert len(queries.search(session, acme.id, "", since=NOW - timedelta(days=3))) == 2


def test_by_ids_keeps_to_the_workspace_and_skips_junk(session, make_workspace):
    acme, globex = make_workspace("T1"), make_workspace("T2")
    mine, theirs = add(session, acme.id, "mine"), add(session, globex.id, "theirs")
    ids = [str(mine.id), str(theirs.id), "x", "9" * 40, "-1"]
    assert [s.text for s in queries.by_ids(session, acme.id, ids)] == ["mine"]


def test_period_counts_and_the_ignored_backlog(session, make_workspace):
    acme = make_workspace("T1")
    add(session, acme.id, "fast", days_ago=3, acked_after=timedelta(hours=2), status=ItemStatus.ACKNOWLEDGED)
    add(session, acme.id, "slow", days_ago=2, acked_after=timedelta(hours=10), status=ItemStatus.ACKNOWLEDGED)
    add(session, acme.id, "never", days_ago=6, status=ItemStatus.IGNORED)
    add(session, acme.id, "last month", days_ago=40, status=ItemStatus.IGNORED)
    counts = queries.period_counts(session, acme.id, NOW - timedelta(days=7), NOW)
    assert counts == queries.PeriodCounts(received=3, acknowledged=2, median_ack_hours=6.0)
    assert [s.text for s in queries.ignored_backlog(session, acme.id)] == ["last month", "never"]


def test_a_decision_linking_an_item_acknowledges_it_and_tells_the_reporter_once(session, make_workspace):
    acme = make_workspace("T1", bot_user_id="U0HEARDBOT")
    item = add(session, acme.id, "Please add SSO")
    assert queries.acknowledge_by_decision(session, acme.id, str(item.id), user_id="U0JONAS002",
                                           decision_ref="decision:7", now=NOW)  # fmt: skip
    assert not queries.acknowledge_by_decision(session, acme.id, str(item.id), user_id="U0JONAS002",
                                               decision_ref="decision:7", now=NOW)  # fmt: skip
    assert not queries.acknowledge_by_decision(session, acme.id, "999999", user_id="U0JONAS002",
                                               decision_ref="decision:8", now=NOW)  # fmt: skip
    stored = session.get(FeedbackItem, item.id)
    assert (stored.status, stored.acknowledged_by) == ("acknowledged", "U0JONAS002")
    dms = session.scalars(select(OutboxMessage).where(OutboxMessage.workspace_id == acme.id)).all()
    assert [m.payload["channel"] for m in dms] == ["U0SAM00006"]
    assert session.get(Workspace, acme.id).team_id == "T1"
