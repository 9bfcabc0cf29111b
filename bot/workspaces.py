"""Workspaces: recording installs, finding the active workspace of a request, uninstalling.

A workspace may be recorded before Heard is installed in it (`heard feedback import
--team T` loads a company's history first). It awaits installation (`installed_at` is
None) and is not served: no requests, no jobs. Installing Heard there later makes that
same row the installed workspace, with its data.

A workspace's time zone is the installer's Slack time zone (Slack has no
workspace-wide zone in its API); without a known installer it stays UTC until an
admin is seen. It applies only at the edges: schedules and rendering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Workspace, WorkspaceSetting
from bot.db.unit import forget_remembered, remember

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkspaceInfo:
    team_id: str
    name: str
    domain: str | None = None
    enterprise_id: str | None = None
    time_zone: str = "UTC"
    installer_user_id: str | None = None
    bot_user_id: str | None = None


def valid_time_zone(name: str | None) -> str:
    """`name` when it is a known IANA zone, else UTC."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def record_install(session: Session, info: WorkspaceInfo, now: datetime) -> Workspace:
    """Create or refresh the workspace row. A reinstall resumes with its settings; a
    workspace awaiting installation becomes the installed one, keeping what was imported."""
    workspace = session.scalar(select(Workspace).where(Workspace.team_id == info.team_id))
    if workspace is None:
        workspace = Workspace(team_id=info.team_id, installed_at=now)
        session.add(workspace)
    elif workspace.installed_at is None or workspace.uninstalled_at is not None:
        workspace.installed_at = now
    workspace.uninstalled_at = None
    forget_remembered(session)
    workspace.name = info.name
    workspace.domain = info.domain
    workspace.enterprise_id = info.enterprise_id
    workspace.bot_user_id = info.bot_user_id or workspace.bot_user_id
    if info.installer_user_id:
        workspace.installer_user_id = info.installer_user_id
        workspace.time_zone = info.time_zone
    session.flush()
    return workspace


def record_awaiting_install(session: Session, team_id: str) -> Workspace:
    """The workspace with `team_id`, recorded as awaiting installation if Heard has never
    seen it: data can be loaded into it before Slack is connected, and nothing serves it
    until `record_install`."""
    workspace = find(session, team_id)
    if workspace is None:
        workspace = Workspace(team_id=team_id, name=team_id, installed_at=None)
        try:
            with session.begin_nested():
                session.add(workspace)
        except IntegrityError:  # another process (a second import at once) recorded it meanwhile
            workspace = find(session, team_id)
            if workspace is None:
                raise
    return workspace


_INSTALLED = (Workspace.installed_at.is_not(None), Workspace.uninstalled_at.is_(None))


def find_active(session: Session, team_id: str | None) -> Workspace | None:
    """The workspace Heard serves for `team_id`: installed and not uninstalled."""
    if not team_id:
        return None
    return session.scalar(select(Workspace).where(Workspace.team_id == team_id, *_INSTALLED))


def get(session: Session, workspace_id: int) -> Workspace | None:
    """`session.get(Workspace, workspace_id)`, which a batch of inbox events looks up once
    (`bot.db.unit.remember`; its session keeps the object, reloading it after each commit)."""
    return remember(("workspace", id(session), workspace_id), lambda: session.get(Workspace, workspace_id))


def find(session: Session, team_id: str) -> Workspace | None:
    """The workspace with `team_id` in any state: installed, uninstalled or awaiting installation."""
    return session.scalar(select(Workspace).where(Workspace.team_id == team_id))


def active_workspaces(session: Session) -> list[Workspace]:
    """Every workspace Heard serves (and schedules jobs for), by team id."""
    return list(session.scalars(select(Workspace).where(*_INSTALLED).order_by(Workspace.team_id)))


def mark_uninstalled(session: Session, team_id: str, now: datetime) -> Workspace | None:
    """Record that the app left the workspace; its data stays for a reinstall."""
    workspace = find(session, team_id)
    if workspace is not None and workspace.uninstalled_at is None:
        workspace.uninstalled_at = now
        forget_remembered(session)
        session.flush()
    return workspace


def get_setting(session: Session, workspace_id: int, key: str, default=None):
    """A workspace setting's JSON value, or `default` when unset."""
    value = session.scalar(
        select(WorkspaceSetting.value).where(
            WorkspaceSetting.workspace_id == workspace_id, WorkspaceSetting.key == key
        )
    )
    return default if value is None else value


def hold_configuration(session: Session, workspace_id: int) -> None:
    """Wait for any other change to the workspace's configuration (its settings, its Heard
    roles) to commit, then keep others waiting until this transaction ends.

    A change reads what is there before it writes (the old value for the audit log, "is
    already a leader"), so two at once would both read the same state: the second insert
    then breaks a unique constraint, or its audit entry names a stale old value. The lock
    is an UPDATE of the workspace's row that changes nothing: a row lock on PostgreSQL, the
    database's write lock on SQLite. Whoever comes second reads what the first wrote.
    """
    session.execute(update(Workspace).where(Workspace.id == workspace_id).values(id=Workspace.id))


def set_setting(session: Session, workspace_id: int, key: str, value, *, by: str | None, now: datetime):
    """Set a workspace setting; returns the old value (None when it was unset). Two at
    once (a double-submitted command, two admins) take turns: the last one wins, and the
    second returns the value the first left (:func:`hold_configuration`)."""
    hold_configuration(session, workspace_id)
    row = session.scalar(
        select(WorkspaceSetting)
        .where(WorkspaceSetting.workspace_id == workspace_id, WorkspaceSetting.key == key)
        .execution_options(populate_existing=True)  # as stored now, not as this session last saw it
    )
    old = None if row is None else row.value
    forget_remembered(session)  # inbox events read the new value from here on
    if row is None:
        row = WorkspaceSetting(workspace_id=workspace_id, key=key)
        session.add(row)
    row.value, row.updated_by, row.updated_at = value, by, now
    session.flush()
    return old
