"""Whether the stories channel can take this week's post: asked of Slack right before
posting, so an archived channel or one Heard was removed from is found before the post
is queued (the outbox would otherwise fail it for good)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def channel_problem(client, channel_id: str) -> str | None:
    """None when Heard can post in `channel_id`; else Slack's word for why not
    (`is_archived`, `not_in_channel`, `channel_not_found`)."""
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        return str(exc.response.get("error") or "channel_not_found")
    if channel.get("is_archived"):
        return "is_archived"
    if not channel.get("is_member") and not channel.get("is_im"):
        return "not_in_channel"
    return None
