"""Administration rules: the workspace lifecycle and who may configure Heard."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Workspace, WorkspaceRole
from bot.runtime import Runtime
from bot.workspaces import mark_uninstalled

log = logging.getLogger(__name__)


def uninstall_workspace(runtime: Runtime, *, team_id: str, enterprise_id: str | None) -> bool:
    """Delete the workspace's stored tokens and mark it uninstalled; its data stays.

    Returns True when a known workspace was uninstalled. Scheduled jobs stop because
    the scheduler plans only for installed workspaces.
    """
    store = runtime.installation_store()
    if store is not None:
        store.delete_all(enterprise_id=enterprise_id, team_id=team_id)
    with runtime.sessions.begin() as session:
        workspace = mark_uninstalled(session, team_id, runtime.clock())
    log.info("uninstalled from %s; stored tokens deleted", team_id)
    return workspace is not None


class AdminDirectory:
    """Who is a Heard admin: Slack workspace admins and owners, the installer, and
    people added with `/heard admin add`.

    Slack's answer is cached for a few minutes per person, so a burst of commands
    costs one `users.info`, and a demotion in Slack takes effect soon after.
    """

    def __init__(self, ttl: timedelta = timedelta(minutes=5)):
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[bool, datetime]] = {}
        self._lock = threading.Lock()

    def is_admin(self, session: Session, client: WebClient, workspace: Workspace, user_id: str, now: datetime) -> bool:
        if user_id == workspace.installer_user_id or user_id in added_admins(session, workspace.id):
            return True
        return self._slack_admin(client, workspace.team_id, user_id, now)

    def _slack_admin(self, client: WebClient, team_id: str, user_id: str, now: datetime) -> bool:
        key = (team_id, user_id)
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[1] > now:
            return cached[0]
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            log.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
            return False
        answer = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        answer = answer and not user.get("deleted") and not user.get("is_bot")
        with self._lock:
            self._cache[key] = (answer, now + self.ttl)
        return answer


def added_admins(session: Session, workspace_id: int) -> list[str]:
    return list(
        session.scalars(
            select(WorkspaceRole.user_id)
            .where(WorkspaceRole.workspace_id == workspace_id, WorkspaceRole.role == "admin")
            .order_by(WorkspaceRole.added_at)
        )
    )


def known_admins(session: Session, workspace: Workspace) -> list[str]:
    """The admins Heard can name: the installer and those added with `/heard admin add`."""
    people = [workspace.installer_user_id] if workspace.installer_user_id else []
    return people + [u for u in added_admins(session, workspace.id) if u not in people]
