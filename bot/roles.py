"""Who holds which role in Heard, per workspace: the installer, added admins, leaders.

Reads and the installer claim only; adding and removing roles (with their audit entries)
is the admin room's service. Whether someone is a Slack workspace admin or owner is
Slack's to say (`bot.slack.people`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db.models import Workspace, WorkspaceRole
from bot.workspace_settings import record_audit
from bot.workspaces import valid_time_zone


class Role(StrEnum):
    ADMIN = "admin"
    LEADER = "leader"


def people_with_role(session: Session, workspace_id: int, role: Role | str) -> list[str]:
    """The people holding `role`, in the order they got it."""
    return list(
        session.scalars(
            select(WorkspaceRole.user_id)
            .where(WorkspaceRole.workspace_id == workspace_id, WorkspaceRole.role == str(role))
            .order_by(WorkspaceRole.added_at, WorkspaceRole.id)
        )
    )


def added_admins(session: Session, workspace_id: int) -> list[str]:
    return people_with_role(session, workspace_id, Role.ADMIN)


def find_installer(session: Session, workspace_id: int) -> str | None:
    return session.scalar(select(Workspace.installer_user_id).where(Workspace.id == workspace_id))


def known_admins(session: Session, workspace_id: int) -> list[str]:
    """The admins Heard can name from its own records: the installer and those added
    with `/heard admin add` (Slack's admins and owners are Slack's to list)."""
    installer = find_installer(session, workspace_id)
    people = [installer] if installer else []
    return people + [u for u in added_admins(session, workspace_id) if u not in people]


def claim_installer(
    session: Session, workspace_id: int, user_id: str, time_zone: str | None, now: datetime
) -> bool:
    """Single-workspace mode has no OAuth installer: the first Slack workspace admin or
    owner who uses Heard (a slash command or the App Home) is recorded as its installer,
    and the workspace takes their time zone. Returns True when this call claimed it.

    The conditional update makes the claim atomic: two admins arriving at once (or
    two processes) cannot both become the installer.
    """
    claimed = session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id, Workspace.installer_user_id.is_(None))
        .values(installer_user_id=user_id, time_zone=valid_time_zone(time_zone))
    )
    if claimed.rowcount != 1:
        return False
    record_audit(session, workspace_id, actor=None, action="installer", old=None, new=user_id, now=now)
    session.expire_all()
    return True
