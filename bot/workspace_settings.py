"""A workspace's settings, shared by every room.

Settings are rows of `workspace_settings` (JSON values), keyed by name. Every change
goes through :func:`change_setting`, which also writes the audit log. The core's own
settings (the stories and digest channels, schedule overrides) are read with
:func:`load_config`; each room reads its own keys with :func:`setting_values` and fills
in its defaults (the feedback room: `bot/features/feedback/config.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import AuditEntry, WorkspaceSetting
from bot.workspaces import get_setting, hold_configuration, set_setting

STORIES_CHANNEL = "stories_channel"  # channel id
DIGEST_CHANNEL = "digest_channel"  # channel id (optional leadership channel)
SCHEDULE = "schedule.{job}"  # cadence text or "off"


@dataclass(frozen=True)
class WorkspaceConfig:
    stories_channel: str | None = None
    digest_channel: str | None = None
    schedules: dict[str, str] = field(default_factory=dict)  # job -> override


def setting_values(session: Session, workspace_id: int, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The workspace's stored settings by key (`keys` only, when given); a room reads its
    own through this and fills in its defaults."""
    query = select(WorkspaceSetting.key, WorkspaceSetting.value).where(WorkspaceSetting.workspace_id == workspace_id)
    if keys is not None:
        query = query.where(WorkspaceSetting.key.in_(keys))
    return dict(session.execute(query).all())


def load_config(session: Session, workspace_id: int) -> WorkspaceConfig:
    """The core's settings of the workspace (channels, schedules), defaults filled in.
    Each room reads its own settings with `setting_values`."""
    values = setting_values(session, workspace_id)
    schedules = {
        key.removeprefix("schedule."): value
        for key, value in values.items()
        if key.startswith("schedule.") and isinstance(value, str)
    }
    return WorkspaceConfig(
        stories_channel=values.get(STORIES_CHANNEL),
        digest_channel=values.get(DIGEST_CHANNEL),
        schedules=schedules,
    )


def change_setting(
    session: Session, workspace_id: int, key: str, value: Any, *, by: str | None,
    now: datetime, action: str,
) -> Any:  # fmt: skip
    """Set a setting and record who changed it from what to what; returns the old value."""
    old = set_setting(session, workspace_id, key, value, by=by, now=now)
    record_audit(session, workspace_id, actor=by, action=action, old=old, new=value, now=now)
    return old


def edit_setting(
    session: Session, workspace_id: int, key: str, edit: Callable[[Any], Any], *, by: str | None,
    now: datetime, action: str,
) -> tuple[Any, Any]:  # fmt: skip
    """Change a setting from what it is now: `edit(stored value or None) -> new value`.
    Returns (old, new); an exception from `edit` changes nothing.

    No concurrent change is lost (two admins adding a channel each at the same moment both
    get theirs): the workspace's configuration is held first (`hold_configuration`), so
    another edit of the workspace's settings waits for this transaction and then reads
    what it wrote.
    """
    hold_configuration(session, workspace_id)
    old = get_setting(session, workspace_id, key)
    new = edit(old)
    change_setting(session, workspace_id, key, new, by=by, now=now, action=action)
    return old, new


def record_audit(
    session: Session, workspace_id: int, *, actor: str | None, action: str, old: Any, new: Any,
    now: datetime,
) -> None:  # fmt: skip
    session.add(
        AuditEntry(workspace_id=workspace_id, actor_user_id=actor, action=action,
                   old_value=old, new_value=new, at=now)  # fmt: skip
    )
    session.flush()


def recent_audit(session: Session, workspace_id: int, limit: int = 10) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.workspace_id == workspace_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )
