"""Reading a channel's past from Slack: pages of history, a thread's replies, one message.

The WebClient's retry policy (bot.slack.client) honours Slack's Retry-After on 429s, so
a long read slows down under rate limits instead of failing; an event's read, made by
the inbox's processor, does not wait long and raises the 429 instead
(`bot.slack.client.waiting_at_most`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.client import retry_after

log = logging.getLogger(__name__)

PAGE_SIZE = 200  # Slack's recommended page size for conversations.history

SlackReadError = SlackApiError
"""What a failed read raises; callers catch it without importing slack_sdk."""


def error_code(exc: SlackReadError) -> str | None:
    """Slack's error code of a failed read (`not_in_channel`, `ratelimited`…)."""
    return exc.response.get("error")


def history(client: WebClient, channel_id: str, *, oldest: datetime) -> Iterator[list[dict]]:
    """The channel's top-level messages since `oldest`, page by page (newest first)."""
    cursor = None
    while True:
        page = client.conversations_history(
            channel=channel_id, oldest=f"{oldest.timestamp():.6f}", limit=PAGE_SIZE, cursor=cursor
        )
        yield list(page.get("messages") or [])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return


def replies(client: WebClient, channel_id: str, thread_ts: str) -> list[dict]:
    """The replies in a thread, without its parent."""
    found, cursor = [], None
    while True:
        page = client.conversations_replies(channel=channel_id, ts=thread_ts, limit=PAGE_SIZE, cursor=cursor)
        found += [m for m in page.get("messages") or [] if m.get("ts") != thread_ts]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return found


def top_level_message(client: WebClient, channel_id: str, ts: str) -> dict | None:
    """One top-level message by its ts, or None (not found, not readable); a rate-limited
    read raises its SlackApiError (the message may well be there: ask again later)."""
    try:
        page = client.conversations_history(channel=channel_id, latest=ts, inclusive=True, limit=1)
    except SlackApiError as exc:
        _unless_rate_limited(exc, channel_id, ts)
        return None
    messages = page.get("messages") or []
    return messages[0] if messages and messages[0].get("ts") == ts else None


def any_message(client: WebClient, channel_id: str, ts: str) -> dict | None:
    """One message by its ts, top-level or in a thread, or None (not found, not readable);
    a rate-limited read raises, as for `top_level_message`."""
    try:
        page = client.conversations_replies(channel=channel_id, ts=ts, limit=1, inclusive=True)
    except SlackApiError as exc:
        _unless_rate_limited(exc, channel_id, ts)
        return None
    return next((m for m in page.get("messages") or [] if m.get("ts") == ts), None)


def _unless_rate_limited(exc: SlackApiError, channel_id: str, ts: str) -> None:
    """Raise `exc` if Slack only said "not now" (429); otherwise log why it said no."""
    if retry_after(exc) is not None:
        raise exc
    log.info("could not read %s/%s: %s", channel_id, ts, exc.response.get("error"))
