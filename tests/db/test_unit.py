"""Units of work: what a unit writes commits with its batch or not at all, alone; hooks
wait for the commit; what a batch remembers is read again after a change."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, select
from sqlalchemy.exc import IntegrityError

from bot.db import unit
from bot.db.models import WorkspaceSetting
from bot.runtime import Runtime
from bot.settings import Settings
from bot.workspaces import WorkspaceInfo, get_setting, record_install, set_setting

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def runtime(db_url):
    runtime = Runtime.from_settings(Settings(_env_file=None, database_url=db_url))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def workspace_id(runtime) -> int:
    with runtime.sessions.begin() as session:
        return record_install(session, WorkspaceInfo(team_id="T1", name="Acme"), NOW).id


def write(runtime, workspace_id: int, key: str, value) -> None:
    """What listener code does: its own `with sessions.begin()` block."""
    with runtime.sessions.begin() as session:
        set_setting(session, workspace_id, key, value, by=None, now=NOW)


def stored(runtime, workspace_id: int) -> dict:
    """What another connection sees: committed rows only."""
    with runtime.engine.connect() as other:
        rows = other.execute(select(WorkspaceSetting.key, WorkspaceSetting.value)
                             .where(WorkspaceSetting.workspace_id == workspace_id))  # fmt: skip
        return dict(rows.all())


def test_a_units_writes_and_hooks_wait_for_the_commit(runtime, workspace_id):
    ran = []
    with unit.batch(runtime.sessions) as batch:
        with batch.unit():
            write(runtime, workspace_id, "a", 1)
            with runtime.sessions() as session:  # the same session, lent: it sees the write
                assert get_setting(session, workspace_id, "a") == 1
            unit.on_commit(lambda: ran.append("sent"), key="send")
            unit.on_commit(lambda: ran.append("sent again"), key="send")  # same key: once
        assert stored(runtime, workspace_id) == {} and ran == []  # nothing before the commit
    assert stored(runtime, workspace_id) == {"a": 1}
    assert ran == ["sent again"]


def test_a_careful_unit_rolls_back_alone(runtime, workspace_id):
    ran = []
    with unit.batch(runtime.sessions) as batch:
        with batch.unit():
            write(runtime, workspace_id, "kept", 1)
            unit.on_commit(lambda: ran.append("kept"))
        with pytest.raises(RuntimeError), batch.unit(careful=True):
            write(runtime, workspace_id, "dropped", 2)
            unit.on_commit(lambda: ran.append("dropped"))
            raise RuntimeError("listener bug")
        assert batch.take_lost() == []
        with batch.unit():
            write(runtime, workspace_id, "after", 3)
    assert stored(runtime, workspace_id) == {"kept": 1, "after": 3}
    assert ran == ["kept"]


def test_a_failing_unit_takes_the_open_transaction_along_and_names_what_it_took(runtime, workspace_id):
    ran = []
    with unit.batch(runtime.sessions) as batch:
        for tag in ("first", "second"):
            with batch.unit(tag):
                write(runtime, workspace_id, tag, 1)
                unit.on_commit(lambda tag=tag: ran.append(tag))
        with pytest.raises(RuntimeError), batch.unit("third"):
            write(runtime, workspace_id, "third", 1)
            raise RuntimeError("listener bug")
        assert stored(runtime, workspace_id) == {} and ran == []
        lost = batch.take_lost()
        assert lost == ["first", "second"] and batch.take_lost() == []
        for tag in lost:  # what the processor does: each again, alone
            with batch.unit(tag, careful=True):
                write(runtime, workspace_id, tag, 2)
                unit.on_commit(lambda tag=tag: ran.append(tag))
    assert stored(runtime, workspace_id) == {"first": 2, "second": 2}
    assert ran == ["first", "second"]


def test_an_exception_caught_inside_a_unit_still_fails_it(runtime, workspace_id):
    with (
        unit.batch(runtime.sessions) as batch,
        pytest.raises(unit.UnitFailed, match="ValueError: half done"),
        batch.unit(),
    ):
        try:
            with runtime.sessions.begin() as session:
                set_setting(session, workspace_id, "half", 1, by=None, now=NOW)
                raise ValueError("half done")
        except ValueError:
            pass  # the listener carries on; what the block wrote must not be kept
        write(runtime, workspace_id, "rest", 2)
    assert stored(runtime, workspace_id) == {}


def test_a_savepoint_inside_a_unit_commits_nothing_early(runtime, workspace_id):
    # The sqlite3 driver would let a savepoint open (and its release commit) a transaction
    # of its own; the unit's writes must all wait for the batch.
    with unit.batch(runtime.sessions) as batch:
        with batch.unit() as session, session.begin_nested():
            set_setting(session, workspace_id, "nested", 1, by=None, now=NOW)
        assert stored(runtime, workspace_id) == {}
        with pytest.raises(RuntimeError), batch.unit(careful=True) as session:
            with session.begin_nested():
                set_setting(session, workspace_id, "rolled back", 1, by=None, now=NOW)
            raise RuntimeError
        assert stored(runtime, workspace_id) == {}
    assert stored(runtime, workspace_id) == {"nested": 1}


def test_outside_a_unit_hooks_run_at_once_and_nothing_is_remembered(runtime):
    ran, computed = [], []
    unit.on_commit(lambda: ran.append(1))
    unit.remember("k", lambda: computed.append(1), across_batches=60)
    unit.remember("k", lambda: computed.append(1), across_batches=60)
    assert ran == [1] and computed == [1, 1]


def test_remembered_values_last_a_batch_and_are_read_again_after_a_change(runtime, workspace_id):
    write(runtime, workspace_id, "channel", "C1")

    def read() -> str:
        with runtime.sessions() as session:
            return unit.remember(("channel", workspace_id), lambda: get_setting(session, workspace_id, "channel"),
                                 across_batches=60)  # fmt: skip

    with unit.batch(runtime.sessions) as batch, batch.unit():
        assert read() == "C1"
    with runtime.engine.begin() as other:  # another process's change: not seen within the minute
        other.execute(WorkspaceSetting.__table__.update().values(value="C2"))
    with unit.batch(runtime.sessions) as batch, batch.unit():
        assert read() == "C1"
    write(runtime, workspace_id, "channel", "C3")  # a change in this process: seen at once
    with unit.batch(runtime.sessions) as batch, batch.unit():
        assert read() == "C3"


# -- writes left for the batch (`write_later`) ---------------------------------------------------

INSERT_SETTING = WorkspaceSetting.__table__.insert()  # one statement object, as callers keep one


def write_later(runtime, workspace_id: int, key: str, value) -> None:
    with runtime.sessions.begin() as session:
        unit.write_later(session, INSERT_SETTING, {"workspace_id": workspace_id, "key": key, "value": value,
                                                   "updated_at": NOW})  # fmt: skip


def inserts_into_settings(runtime) -> list:
    """What reaches the database for INSERT_SETTING: one entry per execution, with its
    number of parameter sets."""
    executions = []

    def seen(_conn, clause, multiparams, *_rest):
        if clause is INSERT_SETTING:
            executions.append(max(len(multiparams), 1))

    event.listen(runtime.engine, "before_execute", seen)
    return executions


def test_writes_left_for_later_go_together_and_commit_with_the_batch(runtime, workspace_id):
    executions = inserts_into_settings(runtime)
    with unit.batch(runtime.sessions) as batch:
        for key in ("a", "b", "c"):
            with batch.unit(key):
                write_later(runtime, workspace_id, key, 1)
        assert executions == [] and stored(runtime, workspace_id) == {}
    assert executions == [3]  # one executemany for the three units
    assert stored(runtime, workspace_id) == {"a": 1, "b": 1, "c": 1}


def test_a_later_statement_sees_what_earlier_units_left_for_later(runtime, workspace_id):
    with unit.batch(runtime.sessions) as batch:
        with batch.unit():
            write_later(runtime, workspace_id, "a", 1)
        with batch.unit(), runtime.sessions() as session:
            assert get_setting(session, workspace_id, "a") == 1  # written before this read
    assert stored(runtime, workspace_id) == {"a": 1}


def test_outside_a_fast_unit_a_write_left_for_later_is_written_at_once(runtime, workspace_id):
    executions = inserts_into_settings(runtime)
    write_later(runtime, workspace_id, "outside", 1)
    assert executions == [1] and stored(runtime, workspace_id) == {"outside": 1}
    with unit.batch(runtime.sessions) as batch, batch.unit(careful=True):
        write_later(runtime, workspace_id, "careful", 1)
        assert executions == [1, 1]
    assert stored(runtime, workspace_id) == {"outside": 1, "careful": 1}


def test_writes_left_for_later_that_fail_at_the_commit_lose_nothing_and_blame_no_unit(runtime, workspace_id):
    write(runtime, workspace_id, "taken", 0)
    ran = []
    with unit.batch(runtime.sessions) as batch:
        for key in ("first", "taken", "third"):  # "taken" breaks the unique constraint
            with batch.unit(key):
                write_later(runtime, workspace_id, key, 1)
                unit.on_commit(lambda key=key: ran.append(key))
        batch.commit()
        assert stored(runtime, workspace_id) == {"taken": 0} and ran == []  # nothing committed
        lost = batch.take_lost()
        assert lost == ["first", "taken", "third"]
        failed = []
        for key in lost:  # each again, alone: now the one at fault fails by itself
            try:
                with batch.unit(key, careful=True):
                    write_later(runtime, workspace_id, key, 2)
                    unit.on_commit(lambda key=key: ran.append(key))
            except IntegrityError:
                failed.append(key)
    assert failed == ["taken"]
    assert stored(runtime, workspace_id) == {"taken": 0, "first": 2, "third": 2}
    assert ran == ["first", "third"]


def test_writes_left_for_later_that_fail_in_a_later_units_time_take_that_unit_along(runtime, workspace_id):
    write(runtime, workspace_id, "taken", 0)
    with unit.batch(runtime.sessions) as batch:
        with batch.unit("first"):
            write_later(runtime, workspace_id, "taken", 1)
        with pytest.raises(IntegrityError), batch.unit("second"):
            write(runtime, workspace_id, "second", 1)  # its statement writes "taken" first: it fails
        assert batch.take_lost() == ["first", "second"]  # the second is not to blame
    assert stored(runtime, workspace_id) == {"taken": 0}


def test_writes_left_for_later_with_a_merge_go_as_one_statement(runtime, workspace_id):
    for key in ("a", "b", "c"):
        write(runtime, workspace_id, key, 0)
    mark = (WorkspaceSetting.__table__.update()
            .where(WorkspaceSetting.key.in_(bindparam("keys", expanding=True))).values(value=bindparam("to")))  # fmt: skip

    def merge(marks: list[dict]) -> dict:
        return {"keys": [m["key"] for m in marks], "to": max(m["to"] for m in marks)}

    executions = []
    event.listen(runtime.engine, "before_execute", lambda _c, clause, multiparams, params, _o: clause is mark and
                 executions.append(multiparams or [params]))  # fmt: skip
    with unit.batch(runtime.sessions) as batch:
        for n, key in enumerate(("a", "b")):
            with batch.unit(key), runtime.sessions.begin() as session:
                unit.write_later(session, mark, {"key": key, "to": n + 1}, merge=merge)
    assert len(executions) == 1 and executions[0] == [{"keys": ["a", "b"], "to": 2}]
    with runtime.sessions.begin() as session:  # outside a unit: at once
        unit.write_later(session, mark, {"key": "c", "to": 9}, merge=merge)
    assert stored(runtime, workspace_id) == {"a": 2, "b": 2, "c": 9}
