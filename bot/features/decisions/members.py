"""Who is in a department, as Slack says: its user group's members, else its channel's.

Slack reads only, apart from the rules: the modal preselects the caller's department,
the App Home shows "your department's recent decisions", and DM nudges go to a
department's user group. Every read degrades to "unknown" (None) when Slack refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.features.admin.queries import DepartmentInfo

log = logging.getLogger(__name__)

MAX_CHANNEL_READS = 10  # departments without a user group whose channel is read, per request


def group_members(client: WebClient, usergroup_id: str) -> list[str] | None:
    """The members of one user group, or None when Slack would not list them."""
    try:
        return list(client.usergroups_users_list(usergroup=usergroup_id).get("users") or [])
    except (SlackApiError, OSError) as exc:
        log.info("usergroups.users.list %s failed: %s", usergroup_id, _why(exc))
        return None


def all_group_members(client: WebClient) -> dict[str, set[str]]:
    """Every user group's members, in one call (empty when Slack would not say)."""
    try:
        groups = client.usergroups_list(include_users=True).get("usergroups") or []
    except (SlackApiError, OSError) as exc:
        log.info("usergroups.list failed: %s", _why(exc))
        return {}
    return {group.get("id"): set(group.get("users") or []) for group in groups if isinstance(group, dict)}


def channel_members(client: WebClient, channel_id: str) -> set[str]:
    try:
        return set(client.conversations_members(channel=channel_id, limit=1000).get("members") or [])
    except (SlackApiError, OSError) as exc:
        log.info("conversations.members %s failed: %s", channel_id, _why(exc))
        return set()


def departments_of(client: WebClient, departments: Sequence[DepartmentInfo], user_id: str) -> list[str]:
    """The departments `user_id` belongs to: those whose user group holds them, and those
    without a user group whose channel they are in."""
    if not departments:
        return []
    groups = all_group_members(client) if any(d.usergroup_id for d in departments) else {}
    mine, reads = [], 0
    for department in departments:
        if department.usergroup_id:
            if user_id in groups.get(department.usergroup_id, ()):
                mine.append(department.name)
        elif reads < MAX_CHANNEL_READS:
            reads += 1
            if user_id in channel_members(client, department.channel_id):
                mine.append(department.name)
    return mine


def preselect(client: WebClient, departments: Sequence[DepartmentInfo], user_id: str,
              channel_id: str | None) -> str | None:  # fmt: skip
    """The department the modal should start with: the one whose channel the person is
    in right now, else the one whose user group they are in (when exactly one)."""
    for department in departments:
        if channel_id and department.channel_id == channel_id:
            return department.name
    grouped = [d for d in departments if d.usergroup_id]
    if not grouped:
        return None
    groups = all_group_members(client)
    mine = [d.name for d in grouped if user_id in groups.get(d.usergroup_id, ())]
    return mine[0] if len(mine) == 1 else None


def _why(exc: Exception) -> str:
    return exc.response.get("error") if isinstance(exc, SlackApiError) else f"{type(exc).__name__}: {exc}"
