"""The Slack app manifest: scopes, events, the slash command, the shortcut, App Home.

`heard manifest` prints it for Slack's "Create an app → From a manifest" page.
Each scope is here because a feature calls a method that needs it; keep them minimal.
"""

from __future__ import annotations

from typing import Any

BOT_SCOPES = [
    "channels:history",  # read messages in public feedback and story channels
    "channels:join",  # join a public channel an admin names
    "channels:read",  # check a channel exists and is not archived
    "chat:write",  # post stories, prompts, confirmations, digests
    "commands",  # the /heard slash command
    "emoji:read",  # check a custom acknowledgement emoji exists (/heard ack-emoji add)
    "files:write",  # the digest's trend chart
    "groups:history",  # private feedback channels Heard was invited to
    "groups:read",
    "im:write",  # DMs: setup checklist, close-the-loop notes, leader digests
    "reactions:read",  # acknowledgement and story reactions
    "team:read",  # the workspace's name and domain
    "usergroups:read",  # department user groups
    "users:read",  # admins, owners and time zones
]

BOT_EVENTS = [
    "app_home_opened",
    "app_uninstalled",
    "message.channels",
    "message.groups",
    "reaction_added",
    "reaction_removed",
    "tokens_revoked",
]

LOG_FEEDBACK_CALLBACK = "log_feedback"
DESCRIPTION = "Keeps your company close to its customers."
LONG_DESCRIPTION = (
    "Heard captures customer feedback shared in Slack and notices what nobody "
    "acknowledged, posts a weekly customer story and counts how people engage with it, "
    "asks every department to log its decisions and how they affected customers, and "
    "sends leaders a weekly digest of ignored feedback grouped into themes. When "
    "feedback is finally acted on, the person who raised it is told."
)


def build_manifest(
    *, command: str = "/heard", request_url: str | None = None, name: str = "Heard"
) -> dict[str, Any]:
    """The manifest; with `request_url` (https://host) it uses HTTP, else Socket Mode."""
    base = request_url.rstrip("/") if request_url else None
    events_url = f"{base}/slack/events" if base else None

    slash: dict[str, Any] = {
        "command": command,
        "description": "Configure Heard, log customer feedback, see your items",
        "usage_hint": "help | feedback TEXT | decision | me | config",
        "should_escape": True,  # mentions arrive as <@U…|name>, <#C…|name>
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    event_subscriptions: dict[str, Any] = {"bot_events": BOT_EVENTS}
    oauth_config: dict[str, Any] = {"scopes": {"bot": BOT_SCOPES}}
    if events_url:
        slash["url"] = events_url
        interactivity["request_url"] = events_url
        event_subscriptions["request_url"] = events_url
        oauth_config["redirect_urls"] = [f"{base}/slack/oauth_redirect"]

    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": DESCRIPTION,
            "long_description": LONG_DESCRIPTION,
            "background_color": "#1f4e5f",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [slash],
            "shortcuts": [
                {
                    "name": "Log as customer feedback",
                    "type": "message",
                    "callback_id": LOG_FEEDBACK_CALLBACK,
                    "description": "Record this message as customer feedback in Heard",
                }
            ],
        },
        "oauth_config": oauth_config,
        "settings": {
            "event_subscriptions": event_subscriptions,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": base is None,
            "token_rotation_enabled": False,
        },
    }
