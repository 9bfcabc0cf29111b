"""Helpers for driving `/heard` through Heard's real endpoint, as Slack does."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.db.models import (
    AuditEntry,
    Department,
    OutboxMessage,
    Workspace,
    WorkspaceRole,
    WorkspaceSetting,
)
from tests.people import (  # noqa: F401 - the admin tests import them from here too
    ACME,
    JONAS,
    LENA,
    MAYA,
    PRIYA,
    SAM,
    TOMAS,
)
from tests.people import CHANNEL_NAMES as CHANNELS
from tests.people import USER_NAMES as USERS

# Slack methods that change something; a refused command must call none of them.
WRITES = (
    "chat.postMessage", "chat.postEphemeral", "chat.update", "chat.delete", "conversations.join",
    "views.open", "views.publish", "views.update", "reactions.add", "reactions.remove",
)  # fmt: skip


def user(user_id: str) -> str:
    """How Slack sends a user mention in slash-command text."""
    return f"<@{user_id}|{USERS.get(user_id, 'someone')}>"


def channel(channel_id: str) -> str:
    return f"<#{channel_id}|{CHANNELS.get(channel_id, '')}>"


SUPPORT = "<!subteam^S0SUPPORT1|@support>"


def slash(heard, text: str, *, user_id: str = MAYA, team_id: str = ACME) -> dict:
    """Run `/heard TEXT`; returns the ephemeral reply once the work after the ack is done."""
    url = heard.slack.response_url(team_id)
    response = heard.sender.command(text, team_id=team_id, user_id=user_id, response_url=url)
    assert response.status == 200, response.text
    heard.listeners.drain()
    body = heard.slack.slash_reply(response, url)
    assert body["response_type"] == "ephemeral"
    return body


def shown(body: dict) -> str:
    """Everything the reply shows: its text and the text of its blocks."""
    parts = [body.get("text") or ""]
    for block in body.get("blocks") or []:
        parts += [t["text"] for t in _texts(block)]
    return "\n".join(parts)


def _texts(node):
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
            yield node
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def state(runtime) -> dict:
    """What a command may change, to compare before and after."""
    with runtime.sessions() as session:
        return {
            "settings": sorted(session.execute(select(WorkspaceSetting.workspace_id, WorkspaceSetting.key,
                                                      WorkspaceSetting.value)).all(), key=repr),
            "roles": sorted(session.execute(select(WorkspaceRole.workspace_id, WorkspaceRole.user_id,
                                                   WorkspaceRole.role)).all()),
            "departments": sorted(session.execute(select(Department.workspace_id, Department.name,
                                                         Department.channel_id)).all()),
            "workspaces": sorted(session.execute(select(Workspace.team_id, Workspace.paused,
                                                        Workspace.time_zone)).all()),
            "audit": session.scalar(select(func.count()).select_from(AuditEntry)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)),
        }  # fmt: skip


def pings(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """Mentions in `text` that would ping someone Heard was not asked to name."""
    found = re.findall(r"<!(?:channel|here|everyone|subteam)[^>]*>", text)
    found += [m for m in re.findall(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", text) if m not in allowed]
    return found
