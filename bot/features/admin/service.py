"""Workspace lifecycle rules, without Slack: what uninstalling and revoking tokens do."""

from __future__ import annotations

import logging

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
