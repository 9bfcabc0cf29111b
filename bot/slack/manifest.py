"""The Slack app manifest: scopes, events, the slash command, the shortcut, App Home.

`heard manifest` prints it for Slack's "Create an app → From a manifest" page.
The core asks for the scopes every room relies on (the slash command, posting, checking
channels and people); each room declares the scopes, events and shortcuts it needs
(`bot.rooms.ManifestPart`), so a scope is asked for only when a room calls a method that
needs it.
"""

from __future__ import annotations

from typing import Any

CORE_SCOPES = {
    "commands": "the /heard slash command",
    "chat:write": "post stories, prompts, confirmations, digests",
    "im:write": "DMs: the setup checklist, close-the-loop notes, leader digests",
    "channels:read": "check a channel an admin names exists and is not archived",
    "channels:join": "join a public channel an admin names",
    "groups:read": "check a private channel Heard was invited to",
    "users:read": "who is a workspace admin or owner, and time zones",
    "team:read": "the workspace's name and domain",
    "channels:history": "find a post whose sending was cut off, so it is never posted twice",
    "groups:history": "the same in private channels Heard posts to",
    "im:history": "the same in DMs",
}
"""Scopes the core needs whatever rooms there are; each room declares its own on top."""


def bot_scopes(room_scopes: dict[str, str]) -> dict[str, str]:
    """Every bot scope with why Heard asks for it: the core's, then the rooms'."""
    return CORE_SCOPES | {scope: why for scope, why in room_scopes.items() if scope not in CORE_SCOPES}


DESCRIPTION = "Keeps your company close to its customers."
LONG_INTRO = (
    "Heard keeps your company close to its customers, in Slack where people already work. "
)


def build_manifest(
    *, scopes: dict[str, str], events: list[str], shortcuts: list[dict[str, str]], usage_hint: str,
    about: str, command: str = "/heard", request_url: str | None = None, name: str = "Heard",
) -> dict[str, Any]:
    """The manifest for the rooms' `scopes`, `events` and `shortcuts` and what they do
    (`about`); with `request_url` (https://host) it uses HTTP, else Socket Mode."""
    base = request_url.rstrip("/") if request_url else None
    events_url = f"{base}/slack/events" if base else None

    slash: dict[str, Any] = {
        "command": command,
        "description": "Heard: type help to see what you can do",
        "usage_hint": usage_hint,
        "should_escape": True,  # mentions arrive as <@U…|name>, <#C…|name>
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    event_subscriptions: dict[str, Any] = {"bot_events": sorted(events)}
    oauth_config: dict[str, Any] = {"scopes": {"bot": sorted(bot_scopes(scopes))}}
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
            "long_description": (LONG_INTRO + about).strip()[:4000],
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
            "shortcuts": shortcuts,
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
