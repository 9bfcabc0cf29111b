"""Settings edited from their current value lose no concurrent change."""

import threading
from datetime import UTC, datetime

import pytest

from bot.runtime import Runtime
from bot.settings import Settings
from bot.workspace_settings import edit_setting
from bot.workspaces import WorkspaceInfo, get_setting, record_install

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def runtime(db_url):
    runtime = Runtime.from_settings(Settings(_env_file=None, database_url=db_url))
    yield runtime
    runtime.engine.dispose()


def test_two_admins_adding_a_channel_each_at_once_both_keep_theirs(runtime):
    with runtime.sessions.begin() as session:
        workspace_id = record_install(session, WorkspaceInfo(team_id="T1", name="Acme"), NOW).id
    # Both edits read, then wait for each other before writing: without a lock each would
    # write its own list over the other's. With it, the second waits at the lock instead,
    # its partner gives up waiting at the barrier, and the second reads the first's list.
    both_read = threading.Barrier(2, timeout=1)
    errors = []

    def add(channel: str) -> None:
        def with_it(stored):
            try:
                both_read.wait()
            except threading.BrokenBarrierError:
                pass
            return [*(stored or []), channel]

        try:
            with runtime.sessions.begin() as session:
                edit_setting(session, workspace_id, "channels", with_it, by="U1", now=NOW, action="add")
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(channel,)) for channel in ("C1", "C2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with runtime.sessions() as session:
        assert sorted(get_setting(session, workspace_id, "channels")) == ["C1", "C2"]


def test_an_edit_that_raises_changes_nothing(runtime):
    with runtime.sessions.begin() as session:
        workspace_id = record_install(session, WorkspaceInfo(team_id="T1", name="Acme"), NOW).id

    def refuse(stored):
        raise ValueError("already there")

    with pytest.raises(ValueError), runtime.sessions.begin() as session:
        edit_setting(session, workspace_id, "channels", refuse, by="U1", now=NOW, action="add")
    with runtime.sessions() as session:
        assert get_setting(session, workspace_id, "channels") is None
