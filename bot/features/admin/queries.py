"""What other rooms may read of the admin room: departments and leaders.

Plain values, never rows: a room that reads these cannot change the admin room's tables.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.features.admin.service import DepartmentInfo, list_departments
from bot.roles import Role, people_with_role


def departments(session: Session, workspace_id: int) -> list[DepartmentInfo]:
    """The workspace's departments (name, channel, user group), by name."""
    return list_departments(session, workspace_id)


def leaders(session: Session, workspace_id: int) -> list[str]:
    """The user ids of the workspace's digest leaders, in the order they were added."""
    return people_with_role(session, workspace_id, Role.LEADER)


__all__ = ["DepartmentInfo", "departments", "leaders"]
