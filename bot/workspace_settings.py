"""Typed access to a workspace's settings, shared by every feature.

Settings are rows of `workspace_settings` (JSON values). Admin commands change
them through :func:`change_setting`, which also writes the audit log; features
read them with :func:`load_config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import AuditEntry, WorkspaceSetting
from bot.workspaces import set_setting

FEEDBACK_CHANNELS = "feedback_channels"  # list of channel ids
STORIES_CHANNEL = "stories_channel"  # channel id
DIGEST_CHANNEL = "digest_channel"  # channel id (optional leadership channel)
IGNORE_AFTER = "ignore_after_seconds"  # int seconds
ACK_EMOJI = "ack_emoji"  # list of emoji names without colons
IGNORED_REMINDERS = "ignored_reminders"  # bool: remind in the thread once when ignored
SCHEDULE = "schedule.{job}"  # cadence text or "off"

DEFAULT_IGNORE_AFTER = timedelta(hours=72)
DEFAULT_ACK_EMOJI = ("eyes", "white_check_mark", "heavy_check_mark")


@dataclass(frozen=True)
class WorkspaceConfig:
    feedback_channels: tuple[str, ...] = ()
    stories_channel: str | None = None
    digest_channel: str | None = None
    ignore_after: timedelta = DEFAULT_IGNORE_AFTER
    ack_emoji: tuple[str, ...] = DEFAULT_ACK_EMOJI
    ignored_reminders: bool = True
    schedules: dict[str, str] = field(default_factory=dict)  # job -> override


def load_config(session: Session, workspace_id: int) -> WorkspaceConfig:
    """Every setting of the workspace, defaults filled in."""
    values = dict(
        session.execute(
            select(WorkspaceSetting.key, WorkspaceSetting.value).where(
                WorkspaceSetting.workspace_id == workspace_id
            )
        ).all()
    )
    schedules = {
        key.removeprefix("schedule."): value
        for key, value in values.items()
        if key.startswith("schedule.") and isinstance(value, str)
    }
    ignore_after = values.get(IGNORE_AFTER)
    ack_emoji = values.get(ACK_EMOJI)
    return WorkspaceConfig(
        feedback_channels=tuple(values.get(FEEDBACK_CHANNELS) or ()),
        stories_channel=values.get(STORIES_CHANNEL),
        digest_channel=values.get(DIGEST_CHANNEL),
        ignore_after=timedelta(seconds=ignore_after) if ignore_after else DEFAULT_IGNORE_AFTER,
        ack_emoji=tuple(ack_emoji) if ack_emoji is not None else DEFAULT_ACK_EMOJI,
        ignored_reminders=values.get(IGNORED_REMINDERS, True) is not False,
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
