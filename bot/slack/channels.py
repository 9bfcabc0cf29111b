"""Making sure Heard can post in a channel an admin names."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.commands import UsageError


class ChannelUnusable(UsageError):
    """Heard cannot use the channel; the message tells the admin what to do. A channel
    Heard cannot use is a bad argument in any room's form: the reply shows its usage."""


@dataclass(frozen=True)
class ChannelInfo:
    id: str
    name: str
    is_private: bool


def ensure_postable(client: WebClient, channel_id: str) -> ChannelInfo:
    """Check the channel exists, is not archived and Heard is in it, joining public ones.

    Private channels can't be joined by a bot: the admin is asked to `/invite @Heard`.
    A channel of another workspace looks unknown, as Slack reports it.
    """
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in ("channel_not_found", "invalid_channel"):
            raise ChannelUnusable(
                "I can't see that channel. If it is private, `/invite @Heard` there first."
            ) from None
        raise ChannelUnusable(f"Slack would not tell me about that channel ({error}).") from None
    info = ChannelInfo(
        id=channel["id"], name=channel.get("name") or channel["id"],
        is_private=bool(channel.get("is_private")),
    )  # fmt: skip
    if channel.get("is_archived"):
        raise ChannelUnusable(f"#{info.name} is archived; pick another channel.")
    if not channel.get("is_member"):
        if info.is_private:
            raise ChannelUnusable(
                f"#{info.name} is private: type `/invite @Heard` there, then try again."
            )
        try:
            client.conversations_join(channel=info.id)
        except SlackApiError as exc:
            raise ChannelUnusable(
                f"I couldn't join #{info.name} ({exc.response.get('error')}); "
                "`/invite @Heard` there, then try again."
            ) from None
    return info
