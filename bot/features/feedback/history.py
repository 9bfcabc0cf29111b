"""Reading a channel's past from Slack: the backfill of a new feedback channel, and the
one message Heard missed (a reaction or reply that arrived before its message did).

The WebClient's retry policy (bot.slack.client) honours Slack's Retry-After on 429s, so
a long backfill slows down under rate limits instead of failing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import FeedbackItem, Workspace
from bot.features.feedback import events, service
from bot.workspace_settings import load_config

log = logging.getLogger(__name__)

PAGE_SIZE = 200  # Slack's recommended page size for conversations.history


@dataclass
class BackfillReport:
    messages: int = 0  # top-level messages Slack returned in the window
    new_items: int = 0
    known_items: int = 0
    acknowledged: int = 0

    def __str__(self) -> str:
        return (
            f"{self.new_items} new item(s) from {self.messages} message(s), "
            f"{self.known_items} already tracked, {self.acknowledged} already acknowledged"
        )


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


def fetch_message(client: WebClient, channel_id: str, ts: str) -> dict | None:
    """One top-level message by its ts, or None (not found, not readable)."""
    try:
        page = client.conversations_history(channel=channel_id, latest=ts, inclusive=True, limit=1)
    except SlackApiError as exc:
        log.info("could not read %s/%s: %s", channel_id, ts, exc.response.get("error"))
        return None
    messages = page.get("messages") or []
    return messages[0] if messages and messages[0].get("ts") == ts else None


def capture_post(session: Session, workspace: Workspace, post: events.Post, *, now: datetime) -> service.Captured:
    """A person's top-level post in a feedback channel becomes an item (once)."""
    said = service.Said(
        text=post.text, said_at=events.ts_time(post.ts), source="channel",
        reporter_user_id=post.user, channel_id=post.channel, message_ts=post.ts,
        permalink=service.message_link(workspace, post.channel, post.ts),
    )  # fmt: skip
    return service.capture(session, workspace, said, now=now)


def capture_missed(session: Session, client: WebClient, workspace: Workspace, channel_id: str, ts: str, *, now: datetime):
    """The item for a message Heard has not stored yet — its event is late, or was lost —
    if it is a person's post in a feedback channel from the backfill window."""
    if events.ts_time(ts) < now - service.BACKFILL_WINDOW:
        return None
    message = fetch_message(client, channel_id, ts)
    incoming = events.classify({**message, "channel": channel_id}) if message else None
    if not isinstance(incoming, events.Post):
        return None
    return capture_post(session, workspace, incoming, now=now).item


def backfill(sessions: sessionmaker[Session], client: WebClient, workspace_id: int, channel_id: str, *, now: datetime) -> BackfillReport:
    """Store the last 30 days of a new feedback channel: each person's post once (a
    second backfill or a live event for the same message adds nothing), with the replies
    and acknowledgement reactions it already has. Historical acknowledgements do not DM
    the reporter: they were told, or not, at the time."""
    report = BackfillReport()
    for page in history(client, channel_id, oldest=now - service.BACKFILL_WINDOW):
        threads: list[tuple[int, str]] = []
        with sessions.begin() as session:
            workspace = session.get(Workspace, workspace_id)
            ack_emoji = set(load_config(session, workspace_id).ack_emoji)
            for message in page:
                incoming = events.classify({**message, "channel": channel_id})
                if not isinstance(incoming, events.Post):
                    continue
                report.messages += 1
                captured = capture_post(session, workspace, incoming, now=now)
                item = captured.item
                if captured.created:
                    report.new_items += 1
                else:
                    report.known_items += 1
                for reaction in message.get("reactions") or []:
                    name = events.emoji_base(str(reaction.get("name", "")))
                    if name not in ack_emoji:
                        continue
                    for user in reaction.get("users") or []:
                        service.acknowledge(session, workspace, item, kind="reaction", user_id=user,
                                            ref=name, now=now, tell_reporter=False)  # fmt: skip
                if message.get("reply_count"):
                    threads.append((item.id, incoming.ts))
        for item_id, thread_ts in threads:
            try:
                thread = replies(client, channel_id, thread_ts)
            except SlackApiError as exc:
                log.warning("replies of %s/%s: %s", channel_id, thread_ts, exc.response.get("error"))
                continue
            with sessions.begin() as session:
                workspace = session.get(Workspace, workspace_id)
                item = session.get(FeedbackItem, item_id)
                for message in thread:
                    reply = events.classify({**message, "channel": channel_id})
                    if isinstance(reply, events.Reply):
                        service.acknowledge(session, workspace, item, kind="reply", user_id=reply.user,
                                            ref=reply.ts, at=min(events.ts_time(reply.ts), now),
                                            now=now, tell_reporter=False)  # fmt: skip
    with sessions() as session:
        report.acknowledged = _acknowledged_in(session, workspace_id, channel_id, now - service.BACKFILL_WINDOW)
    return report


def _acknowledged_in(session: Session, workspace_id: int, channel_id: str, since: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(FeedbackItem).where(
            FeedbackItem.workspace_id == workspace_id,
            FeedbackItem.channel_id == channel_id,
            FeedbackItem.said_at >= since,
            FeedbackItem.acknowledged_at.is_not(None),
        )
    )
