"""Administration rules, on the database with a frozen clock."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from bot.db import session_factory
from bot.db.models import AuditEntry, OutboxMessage, Workspace, WorkspaceRole, WorkspaceSetting
from bot.features import load_rooms
from bot.features.admin import service, views
from bot.features.admin.service import AdminError
from bot.features.feedback.models import Acknowledgement, FeedbackItem
from bot.roles import claim_installer
from bot.scheduler.cadence import parse_cadence
from bot.scheduler.catalog import JobCatalog
from bot.slack.outbox import enqueue
from bot.workspace_settings import change_setting, load_config

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ROOMS = load_rooms()
CATALOG = JobCatalog({"weekly-story": parse_cadence("mon 10:00")}, frozenset({"weekly-story"}))


@pytest.fixture
def workspace(make_workspace):
    return make_workspace("T1", installer_user_id="U0ADMIN001", time_zone="Europe/Berlin")


def audit(session) -> list[tuple]:
    return session.execute(
        select(AuditEntry.actor_user_id, AuditEntry.action, AuditEntry.old_value, AuditEntry.new_value)
        .order_by(AuditEntry.id)
    ).all()


def test_roles_are_audited_as_the_list_before_and_after(session, workspace):
    assert service.add_role(session, workspace.id, "leader", "U0LEAD0001", by="U0ADMIN001", now=NOW)
    assert service.add_role(session, workspace.id, "leader", "U0LEAD0002", by="U0ADMIN001", now=NOW)
    assert not service.add_role(session, workspace.id, "leader", "U0LEAD0002", by="U0ADMIN001", now=NOW)
    assert service.remove_role(session, workspace.id, "leader", "U0LEAD0001", by="U0ADMIN001", now=NOW)
    assert not service.remove_role(session, workspace.id, "leader", "U0LEAD0001", by="U0ADMIN001", now=NOW)
    assert service.people_with_role(session, workspace.id, "leader") == ["U0LEAD0002"]
    assert audit(session) == [
        ("U0ADMIN001", "leader add", [], ["U0LEAD0001"]),
        ("U0ADMIN001", "leader add", ["U0LEAD0001"], ["U0LEAD0001", "U0LEAD0002"]),
        ("U0ADMIN001", "leader remove", ["U0LEAD0001", "U0LEAD0002"], ["U0LEAD0002"]),
    ]


def test_role_members_become_exactly_the_picked_people(session, workspace):
    service.set_role_members(session, workspace.id, "admin", ["U0A0000001", "U0B0000002"], by=None, now=NOW)
    added, removed = service.set_role_members(session, workspace.id, "admin", ["U0B0000002", "U0C0000003"],
                                              by=None, now=NOW)  # fmt: skip
    assert (added, removed) == (["U0C0000003"], ["U0A0000001"])
    assert service.added_admins(session, workspace.id) == ["U0B0000002", "U0C0000003"]


def at_once(engine, table: str, *changes):
    """Run each change (session -> result) in a transaction and a thread of its own, lined
    up the way a race lines them up: each waits just before its first INSERT into `table`
    until all of them have read what is there. A change kept waiting at a lock never gets
    there; the others stop waiting after a second. Returns the results, in order."""
    lined_up = threading.Barrier(len(changes), timeout=1)

    def before_insert(_connection, _cursor, statement, *_args):
        if statement.startswith(f"INSERT INTO {table} "):
            try:
                lined_up.wait()
            except threading.BrokenBarrierError:
                pass

    results, errors = [None] * len(changes), []

    def run(index: int) -> None:
        try:
            with session_factory(engine).begin() as session:
                results[index] = changes[index](session)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    event.listen(engine, "before_cursor_execute", before_insert)
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(changes))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        event.remove(engine, "before_cursor_execute", before_insert)
    assert errors == []
    return results


def test_the_same_person_added_twice_at_once_is_added_once(engine, session, workspace):
    def add(session):
        return service.add_role(session, workspace.id, "leader", "U0LEAD0001", by="U0ADMIN001", now=NOW)

    assert sorted(at_once(engine, "workspace_roles", add, add)) == [False, True]
    assert service.people_with_role(session, workspace.id, "leader") == ["U0LEAD0001"]
    assert audit(session) == [("U0ADMIN001", "leader add", [], ["U0LEAD0001"])]


def test_two_people_added_at_once_are_audited_one_after_the_other(engine, session, workspace):
    def add(person):
        return lambda session: service.add_role(session, workspace.id, "admin", person, by="U0ADMIN001", now=NOW)

    assert at_once(engine, "workspace_roles", add("U0A0000001"), add("U0B0000002")) == [True, True]
    [(_, _, first, one), (_, _, one_again, both)] = audit(session)
    assert (first, len(one)) == ([], 1)
    assert one_again == one and sorted(both) == ["U0A0000001", "U0B0000002"]


def test_the_same_channel_set_twice_at_once_is_one_change(engine, session, workspace):
    def set_stories(session):
        return service.set_channel(session, workspace.id, "stories", "C0STORY001", by="U0ADMIN001", now=NOW)

    assert sorted(at_once(engine, "workspace_settings", set_stories, set_stories), key=str) == ["C0STORY001", None]
    assert load_config(session, workspace.id).stories_channel == "C0STORY001"
    assert audit(session) == [("U0ADMIN001", "channel stories", None, "C0STORY001")]


def test_two_schedules_set_at_once_the_last_wins_and_the_audit_log_says_so(engine, session, workspace):
    def schedule(when):
        return lambda session: service.set_schedule(session, workspace.id, "weekly-story", when, catalog=CATALOG,
                                                    by="U0ADMIN001", now=NOW)  # fmt: skip

    at_once(engine, "workspace_settings", schedule("tue 11:00"), schedule("wed 09:00"))
    [(_, _, none, first), (_, _, first_again, last)] = audit(session)
    assert none is None and first_again == first and {first, last} == {"tue 11:00", "wed 09:00"}
    assert load_config(session, workspace.id).schedules == {"weekly-story": last}


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "needs a name"), ("x" * 81, "at most 80"), ("<!channel>", "letters, digits"),
     ("*bold*", "letters, digits"), ("a;b", "letters, digits")],
)  # fmt: skip
def test_department_names_are_plain(name, problem):
    with pytest.raises(AdminError, match=problem):
        service.clean_department_name(name)


def test_department_names_are_unique_ignoring_case_and_spacing(session, workspace):
    service.add_department(session, workspace.id, "  Customer   Success ", "C0CS000001", None, by=None, now=NOW)
    with pytest.raises(AdminError, match="already a department called Customer Success"):
        service.add_department(session, workspace.id, "customer success", "C0CS000002", None, by=None, now=NOW)
    assert service.clean_department_name("R&D (EU) / Ops+Sales, Größe") == "R&D (EU) / Ops+Sales, Größe"
    removed = service.remove_department(session, workspace.id, "CUSTOMER SUCCESS", by=None, now=NOW)
    assert removed.name == "Customer Success"
    with pytest.raises(AdminError, match="no department called Nope. There are no departments yet."):
        service.remove_department(session, workspace.id, "Nope", by=None, now=NOW)


def test_schedule_override_is_stored_normalised_and_checked(session, workspace):
    cadence = service.set_schedule(session, workspace.id, "weekly-story", "Monday,Thursday 9:05",
                                   catalog=CATALOG, by="U0ADMIN001", now=NOW)  # fmt: skip
    assert str(cadence) == "mon,thu 09:05"
    assert load_config(session, workspace.id).schedules == {"weekly-story": "mon,thu 09:05"}
    with pytest.raises(AdminError, match="no job called digest"):
        service.set_schedule(session, workspace.id, "digest", "mon 10:00", catalog=CATALOG, by=None, now=NOW)
    with pytest.raises(AdminError, match="not a schedule"):
        service.set_schedule(session, workspace.id, "weekly-story", "mon 25:00", catalog=CATALOG, by=None, now=NOW)
    [row] = service.schedule_rows(session, workspace.id, CATALOG)
    assert (str(row.cadence), row.custom, row.registered) == ("mon,thu 09:05", True, True)


def test_a_job_known_only_from_schedules_can_be_overridden_before_its_feature_arrives(session, workspace):
    catalog = JobCatalog({"leadership-digest": parse_cadence("fri 16:00")}, frozenset())
    service.set_schedule(session, workspace.id, "leadership-digest", "off", catalog=catalog, by=None, now=NOW)
    [row] = service.schedule_rows(session, workspace.id, catalog)
    assert (str(row.cadence), row.custom, row.registered) == ("off", True, False)


def test_pause_is_audited_once(session, workspace):
    assert service.set_paused(session, workspace.id, True, by="U0ADMIN001", now=NOW)
    assert not service.set_paused(session, workspace.id, True, by="U0ADMIN001", now=NOW)
    assert session.get(Workspace, workspace.id).paused
    assert audit(session) == [("U0ADMIN001", "pause", False, True)]


def test_the_installer_is_claimed_once(session, make_workspace):
    workspace, third = make_workspace("T2"), make_workspace("T3")
    assert claim_installer(session, workspace.id, "U0FIRST001", "Asia/Tokyo", NOW)
    assert not claim_installer(session, workspace.id, "U0SECOND02", "Europe/Paris", NOW)
    assert not claim_installer(session, workspace.id, "U0FIRST001", "Europe/Paris", NOW)
    claimed = session.get(Workspace, workspace.id)
    assert (claimed.installer_user_id, claimed.time_zone) == ("U0FIRST001", "Asia/Tokyo")
    claim_installer(session, third.id, "U0FIRST001", "Not/AZone", NOW)
    assert session.get(Workspace, third.id).time_zone == "UTC"


def test_checklist_follows_the_settings(session, workspace):
    def done():
        snapshot = service.config_snapshot(session, workspace.id, CATALOG)
        return {item.key for item in views.checklist_items(snapshot, "/heard") if item.done}

    assert done() == {"schedules"}
    change_setting(session, workspace.id, "feedback_channels", ["C0FEED0001"], by=None, now=NOW, action="x")
    service.set_channel(session, workspace.id, "stories", "C0STORY001", by=None, now=NOW)
    service.add_department(session, workspace.id, "Ops", "C0OPS00001", None, by=None, now=NOW)
    service.add_role(session, workspace.id, "leader", "U0LEAD0001", by=None, now=NOW)
    assert done() == {"schedules", "stories_channel", "departments", "leaders"}


# -- forget ------------------------------------------------------------------------------------

GONE = "U0GONE0001"
STAYS = "U0STAY0001"


def seed_person(session, workspace_id: int, person: str, other: str) -> None:
    """Everything Heard may hold about `person` in one workspace, next to someone else's."""
    mine = FeedbackItem(workspace_id=workspace_id, text="their words", reporter_user_id=person,
                        reporter_name="Gone Person", source="command", said_at=NOW)  # fmt: skip
    theirs = FeedbackItem(workspace_id=workspace_id, text="other words", reporter_user_id=other, source="command",
                          said_at=NOW, status="acknowledged", acknowledged_by=person, acknowledged_at=NOW,
                          resolved_by=person)  # fmt: skip
    session.add_all([mine, theirs])
    session.flush()
    session.add_all([
        Acknowledgement(feedback_item_id=theirs.id, kind="reaction", user_id=person, ref="eyes"),
        Acknowledgement(feedback_item_id=mine.id, kind="reply", user_id=other, ref="1.2"),
    ])  # fmt: skip
    for role in ("admin", "leader"):
        service.add_role(session, workspace_id, role, person, by=other, now=NOW)
    change_setting(session, workspace_id, "stories_channel", "C0STORY001", by=person, now=NOW, action="channel stories")
    enqueue(session, workspace_id=workspace_id, key=f"dm:{person}:pending", method="chat.postMessage",
            payload={"channel": person, "text": "hello"}, now=NOW)  # fmt: skip
    sent, _ = enqueue(session, workspace_id=workspace_id, key=f"dm:{person}:sent", method="chat.postMessage",
                      payload={"channel": person, "text": "sent already"}, now=NOW)  # fmt: skip
    sent.status = "sent"
    enqueue(session, workspace_id=workspace_id, key=f"dm:{other}", method="chat.postMessage",
            payload={"channel": other, "text": f"about {person}"}, now=NOW)  # fmt: skip
    session.flush()


def test_forget_removes_the_persons_data_and_keeps_the_feedback(session, workspace, make_workspace):
    other_workspace = make_workspace("T9")
    seed_person(session, workspace.id, GONE, STAYS)
    seed_person(session, other_workspace.id, GONE, STAYS)
    session.execute(Workspace.__table__.update().where(Workspace.id == workspace.id).values(installer_user_id=GONE))

    report = service.forget_person(session, workspace.id, GONE, rooms=ROOMS, by="U0ADMIN001", now=NOW)
    counts = {line.key: line.count for line in report.lines}
    assert counts == {"feedback_anonymised": 1, "feedback_mentions_anonymised": 0, "acknowledgements_anonymised": 1,
                      "roles_removed": 2,
                      "messages_deleted": 2, "settings_anonymised": 1, "audit_anonymised": 3,
                      "decisions_anonymised": 0, "decision_mentions_anonymised": 0, "stories_anonymised": 0, "story_mentions_anonymised": 0,
                      "reflections_deleted": 0, "reflection_mentions_anonymised": 0,
                      "story_engagement_anonymised": 0, "digest_assignments_anonymised": 0,
                      "digest_deliveries_deleted": 0, "sent_messages_blanked": 0, "events_blanked": 0}  # fmt: skip
    assert report.installer_cleared

    def held(workspace_id):
        feedback = select(FeedbackItem.id).where(FeedbackItem.workspace_id == workspace_id)
        return {
            "feedback": session.scalar(select(func.count()).where(
                FeedbackItem.workspace_id == workspace_id,
                (FeedbackItem.reporter_user_id == GONE) | (FeedbackItem.acknowledged_by == GONE)
                | (FeedbackItem.resolved_by == GONE) | (FeedbackItem.reporter_name == "Gone Person"))),
            "acks": session.scalar(select(func.count()).where(
                Acknowledgement.feedback_item_id.in_(feedback), Acknowledgement.user_id == GONE)),
            "roles": session.scalar(select(func.count()).where(
                WorkspaceRole.workspace_id == workspace_id, WorkspaceRole.user_id == GONE)),
            "settings": session.scalar(select(func.count()).where(
                WorkspaceSetting.workspace_id == workspace_id, WorkspaceSetting.updated_by == GONE)),
        }  # fmt: skip

    assert set(held(workspace.id).values()) == {0}
    assert set(held(other_workspace.id).values()) == {1, 2}  # the other workspace is untouched
    # the feedback itself, other people's data and acknowledged status stay
    texts = session.scalars(select(FeedbackItem.text).where(FeedbackItem.workspace_id == workspace.id)).all()
    assert sorted(texts) == ["other words", "their words"]
    acknowledged = session.scalar(select(FeedbackItem).where(FeedbackItem.text == "other words",
                                                             FeedbackItem.workspace_id == workspace.id))  # fmt: skip
    assert (acknowledged.status, acknowledged.acknowledged_at is not None) == ("acknowledged", True)
    keys = set(session.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.workspace_id == workspace.id)))
    assert keys == {f"dm:{GONE}:sent", f"dm:{STAYS}"}  # the sent one stays so it is never resent
    sent = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == f"dm:{GONE}:sent"))
    assert sent.payload == {"forgotten": True}
    assert session.get(Workspace, workspace.id).installer_user_id is None


def test_forget_anonymises_the_audit_log_and_records_counts_not_whom(session, workspace):
    seed_person(session, workspace.id, GONE, STAYS)
    service.forget_person(session, workspace.id, GONE, rooms=ROOMS, by="U0ADMIN001", now=NOW)
    entries = audit(session)
    assert GONE not in repr(entries)
    assert ("U0STAY0001", "admin add", [], ["forgotten"]) in entries
    assert ("forgotten", "channel stories", None, "C0STORY001") in entries
    actor, action, old, new = entries[-1]
    assert (actor, action, old) == ("U0ADMIN001", "forget", None)
    assert new["roles_removed"] == 2 and GONE not in repr(new)


def test_forgetting_someone_unknown_holds_nothing(session, workspace):
    report = service.forget_person(session, workspace.id, "U0NOBODY01", rooms=ROOMS, by=None, now=NOW)
    assert report.total == 0 and not report.installer_cleared


def test_forgetting_twice_in_a_row_does_not_collide(session, workspace):
    # Acknowledgement rows get a fresh stand-in id each time.
    seed_person(session, workspace.id, GONE, STAYS)
    service.forget_person(session, workspace.id, GONE, rooms=ROOMS, by=None, now=NOW)
    seed_person(session, workspace.id, GONE, STAYS + "X")
    service.forget_person(session, workspace.id, GONE, rooms=ROOMS, by=None, now=NOW + timedelta(minutes=1))
    stand_ins = session.scalars(select(Acknowledgement.user_id).where(Acknowledgement.kind == "reaction")).all()
    assert len(set(stand_ins)) == 2 and GONE not in stand_ins


def test_forget_clears_who_logged_feedback_for_a_customer(session, workspace):
    session.add(FeedbackItem(workspace_id=workspace.id, text="said on a call", reporter_user_id=STAYS,
                             logged_by_user_id=GONE, source="command", said_at=NOW))  # fmt: skip
    session.flush()
    service.forget_person(session, workspace.id, GONE, rooms=ROOMS, by=None, now=NOW)
    item = session.scalar(select(FeedbackItem))
    assert (item.reporter_user_id, item.logged_by_user_id) == (STAYS, None)
