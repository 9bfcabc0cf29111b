"""Catching up with a channel's past: the backfill of a new feedback channel, and the
one message Heard missed (a reaction or reply that arrived before its message did).

Slack is read through `bot.slack.history` (which slows down under rate limits rather
than failing); this module decides what the messages it returns mean for feedback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Workspace
from bot.features.feedback import events, service
from bot.features.feedback.config import load_config
from bot.features.feedback.kinds import AckKind, Source
from bot.features.feedback.models import FeedbackItem
from bot.slack.history import SlackReadError, error_code, history, replies, top_level_message

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger(__name__)


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


def capture_post(session: Session, workspace: Workspace, post: events.Post, *, now: datetime) -> service.Captured:
    """A person's top-level post in a feedback channel becomes an item (once)."""
    return service.capture(session, workspace, _said(workspace, post), now=now)


def record_post(session: Session, workspace: Workspace, post: events.Post, *, now: datetime) -> None:
    """`capture_post` for a post as it arrives, when nobody needs its item."""
    service.record_message(session, workspace, _said(workspace, post), now=now)


def _said(workspace: Workspace, post: events.Post) -> service.Said:
    return service.Said(
        text=post.text, said_at=events.ts_time(post.ts), source=Source.CHANNEL,
        reporter_user_id=post.user, channel_id=post.channel, message_ts=post.ts,
        permalink=service.message_link(workspace, post.channel, post.ts),
    )  # fmt: skip


def capture_missed(session: Session, client: WebClient, workspace: Workspace, channel_id: str, ts: str, *, now: datetime):
    """The item for a message Heard has not stored yet — its event is late, or was lost —
    if it is a person's post in a feedback channel from the backfill window."""
    if events.ts_time(ts) < now - service.BACKFILL_WINDOW:
        return None
    message = top_level_message(client, channel_id, ts)
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
                        service.acknowledge(session, workspace, item, kind=AckKind.REACTION, user_id=user,
                                            ref=name, now=now, tell_reporter=False)  # fmt: skip
                if message.get("reply_count"):
                    threads.append((item.id, incoming.ts))
        for item_id, thread_ts in threads:
            try:
                thread = replies(client, channel_id, thread_ts)
            except SlackReadError as exc:
                log.warning("replies of %s/%s: %s", channel_id, thread_ts, error_code(exc))
                continue
            with sessions.begin() as session:
                workspace = session.get(Workspace, workspace_id)
                item = session.get(FeedbackItem, item_id)
                for message in thread:
                    reply = events.classify({**message, "channel": channel_id})
                    if isinstance(reply, events.Reply):
                        service.acknowledge(session, workspace, item, kind=AckKind.REPLY, user_id=reply.user,
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
