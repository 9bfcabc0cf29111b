"""Workspaces: installed, uninstalled, and awaiting installation (recorded by an import
before Slack is connected); only installed ones are served and scheduled."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db import session_factory
from bot.db.models import Workspace
from bot.features.feedback.models import FeedbackItem
from bot.scheduler.cadence import parse_cadence
from bot.scheduler.registry import JobRegistry, JobSpec
from bot.scheduler.runner import job_statuses, run_job
from bot.scheduler.schedules import DefaultSchedule
from bot.workspaces import (
    WorkspaceInfo,
    active_workspaces,
    find_active,
    mark_uninstalled,
    record_awaiting_install,
    record_install,
)

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
ACME = WorkspaceInfo(team_id="T0ACME001", name="Acme Robotics", domain="acme", time_zone="Europe/Berlin",
                     installer_user_id="U0MAYA0001", bot_user_id="U0HEARDBOT")  # fmt: skip


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


def awaiting_with_feedback(sessions, team_id="T0ACME001", texts=("Wants SSO", "Invoices are PDF only")) -> int:
    with sessions.begin() as session:
        workspace = record_awaiting_install(session, team_id)
        for text in texts:
            session.add(FeedbackItem(workspace_id=workspace.id, text=text, source="import",
                                     said_at=NOW - timedelta(days=3)))  # fmt: skip
        return workspace.id


def test_a_first_install_records_an_installed_workspace(sessions):
    with sessions.begin() as session:
        workspace = record_install(session, ACME, NOW)
    with sessions() as session:
        stored = find_active(session, "T0ACME001")
        assert (stored.id, stored.name, stored.installed_at, stored.time_zone) == (
            workspace.id, "Acme Robotics", NOW, "Europe/Berlin",
        )  # fmt: skip
        assert stored.active and not stored.awaiting_install


def test_a_workspace_awaiting_installation_is_not_served(sessions, make_workspace):
    make_workspace("T0GLOBEX2")
    awaiting_with_feedback(sessions)
    with sessions() as session:
        assert find_active(session, "T0ACME001") is None
        assert [w.team_id for w in active_workspaces(session)] == ["T0GLOBEX2"]
        awaiting = session.scalar(select(Workspace).where(Workspace.team_id == "T0ACME001"))
        assert awaiting.awaiting_install and not awaiting.active and awaiting.installed_at is None


def test_installing_heard_in_an_awaiting_workspace_makes_that_record_the_workspace(sessions):
    workspace_id = awaiting_with_feedback(sessions)
    with sessions.begin() as session:
        installed = record_install(session, ACME, NOW + timedelta(days=1))
        assert installed.id == workspace_id
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Workspace)) == 1
        workspace = find_active(session, "T0ACME001")
        assert (workspace.id, workspace.name, workspace.installed_at, workspace.installer_user_id) == (
            workspace_id, "Acme Robotics", NOW + timedelta(days=1), "U0MAYA0001",
        )  # fmt: skip
        texts = session.scalars(select(FeedbackItem.text).where(FeedbackItem.workspace_id == workspace_id))
        assert sorted(texts) == ["Invoices are PDF only", "Wants SSO"]


def test_recording_a_team_awaiting_installation_never_demotes_an_installed_one(sessions):
    with sessions.begin() as session:
        installed = record_install(session, ACME, NOW)
    with sessions.begin() as session:
        again = record_awaiting_install(session, "T0ACME001")
        assert (again.id, again.installed_at, again.active) == (installed.id, NOW, True)


def test_a_reinstall_resumes_and_a_refresh_keeps_the_install_time(sessions):
    with sessions.begin() as session:
        first = record_install(session, ACME, NOW)
    with sessions.begin() as session:
        record_install(session, ACME, NOW + timedelta(hours=1))  # Heard restarted: same install
        assert find_active(session, "T0ACME001").installed_at == NOW
    with sessions.begin() as session:
        mark_uninstalled(session, "T0ACME001", NOW + timedelta(days=1))
        assert find_active(session, "T0ACME001") is None
    with sessions.begin() as session:
        back = record_install(session, ACME, NOW + timedelta(days=2))
        assert (back.id, back.installed_at, back.uninstalled_at) == (first.id, NOW + timedelta(days=2), None)


def test_no_jobs_are_planned_or_run_for_a_workspace_awaiting_installation(runtime, sessions, make_workspace):
    ran = []
    registry = JobRegistry.of([JobSpec("weekly-test", lambda job: ran.append(job.team_id) or "ok", "week", "")])
    defaults = {"weekly-test": DefaultSchedule("weekly-test", parse_cadence("mon 10:00"), "", None)}
    runtime.clock = lambda: NOW
    make_workspace("T0GLOBEX2")
    awaiting_with_feedback(sessions)
    assert [row.team_id for row in job_statuses(runtime, registry, defaults)] == ["T0GLOBEX2"]
    outcome = run_job(runtime, registry, "weekly-test", "T0ACME001", trigger="manual")
    assert (outcome.status, outcome.detail) == ("skipped", "workspace is not installed")
    assert ran == []


def test_slack_requests_from_a_workspace_awaiting_installation_are_dropped(heard_server, fake_slack, sessions):
    heard = heard_server()  # serves Acme (T0ACME001)
    awaiting_with_feedback(sessions, "T0GLOBEX2")
    home = {"type": "app_home_opened", "user": "U0HANK0001", "channel": "D0HANK", "tab": "home"}
    assert heard.sender.event(home, team_id="T0GLOBEX2").status == 200
    heard.listeners.drain()
    assert fake_slack.calls_to("views.publish") == []
    assert heard.sender.event({**home, "user": "U0MAYA0001"}, team_id="T0ACME001").status == 200
    heard.listeners.drain()
    assert len(fake_slack.calls_to("views.publish")) == 1  # the same request from Acme is served


def test_two_processes_recording_one_awaiting_team_at_once_get_the_same_workspace(sessions, monkeypatch):
    # Two imports into a team Heard has never seen: both look, neither finds it, both add
    # it; the unique team id turns the second away, which then reads the first's.
    import bot.workspaces as workspaces

    with sessions.begin() as session:
        first = record_awaiting_install(session, "T0NEW0001")
    looked = []
    real_find = workspaces.find

    def find_too_early(session, team_id):  # the second's first look, before the first committed
        looked.append(team_id)
        return None if len(looked) == 1 else real_find(session, team_id)

    monkeypatch.setattr(workspaces, "find", find_too_early)
    with sessions.begin() as session:
        second = record_awaiting_install(session, "T0NEW0001")
        assert (second.id, second.awaiting_install) == (first.id, True)
