"""Reading Slack's `message` and reaction events for feedback: pure functions, no I/O.

Slack sends one `message` event type for very different things (a new post, a thread
reply, an edit, a deletion, a join, a bot's post); :func:`classify` names which one an
event is, in the feedback room's words, and :func:`message_text` is the text a person
reads (Slack's markup made plain by :mod:`bot.slack.markup`), which is what Heard stores.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.engagement import (
    PERSON_SUBTYPES,
    SLACKBOT,
    Deleted,
    Reaction,
    Reply,
    by_a_bot,
    deletion,
    emoji_base,
    reaction,
    reply,
    ts_time,
    valid_ts,
)
from bot.slack.markup import plain_text

# Replies, deletions and reactions are read by bot.slack.engagement, which the stories
# room shares; they are named here too because they are half of what `classify` returns.
__all__ = ["PERSON_SUBTYPES", "SLACKBOT", "Deleted", "Edited", "Ignored", "Incoming", "Post", "Reaction",
           "Reply", "blocks_text", "classify", "emoji_base", "message_text", "reaction", "ts_time",
           "valid_ts"]  # fmt: skip


@dataclass(frozen=True)
class Post:
    """A person's top-level message: feedback when it is in a feedback channel."""

    channel: str
    ts: str
    user: str
    text: str


@dataclass(frozen=True)
class Edited:
    channel: str
    ts: str
    text: str


@dataclass(frozen=True)
class Ignored:
    """Not something feedback tracks: bot posts, joins, topic changes, file-only posts…"""

    reason: str


Incoming = Post | Reply | Edited | Deleted | Ignored


def classify(event: dict) -> Incoming:
    """What a `message` event means for feedback; never raises on odd payloads."""
    channel = event.get("channel")
    subtype = event.get("subtype")
    if not isinstance(channel, str) or not channel:
        return Ignored("no channel")
    gone = deletion(event)
    if gone is not None:
        return gone
    if subtype == "message_deleted":
        return Ignored("deletion without a timestamp")
    if subtype == "message_changed":
        message = event.get("message")
        if not isinstance(message, dict) or not valid_ts(message.get("ts")):
            return Ignored("edit without a message")
        if by_a_bot(message):
            return Ignored("edit of a bot message")
        return Edited(channel, message["ts"], message_text(message))
    if by_a_bot(event):
        return Ignored("bot message")
    answer = reply(event)
    if answer is not None:
        return answer
    user, ts = event.get("user"), event.get("ts")
    if not isinstance(user, str) or not user or not valid_ts(ts):
        return Ignored("no author")
    if subtype == "thread_broadcast":
        return Ignored("broadcast without thread")
    if subtype not in PERSON_SUBTYPES:
        return Ignored(f"{subtype} message")
    text = message_text(event)
    if not text.strip():
        return Ignored("no text (files or attachments only)")
    return Post(channel, ts, user, text)


def message_text(message: dict) -> str:
    """The text a person wrote: `text`, else the words in its rich-text blocks."""
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return plain_text(text)
    return blocks_text(message.get("blocks"))


def blocks_text(blocks) -> str:
    """The words of rich_text blocks (a message sent with blocks and no `text`)."""
    if not isinstance(blocks, list):
        return ""
    parts: list[str] = []

    def walk(node) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "text" and isinstance(node.get("text"), str):
            parts.append(node["text"])
        elif kind == "link":
            parts.append(node.get("text") or node.get("url") or "")
        elif kind == "user":
            parts.append(f"@{node.get('user_id', '')}")
        elif kind == "channel":
            parts.append(f"#{node.get('channel_id', '')}")
        elif kind == "usergroup":
            parts.append(f"@{node.get('usergroup_id', '')}")
        elif kind == "broadcast":
            parts.append(f"@{node.get('range', 'here')}")
        elif kind == "emoji":
            parts.append(f":{node.get('name', '')}:")
        elif kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            walk(node.get("elements"))
            parts.append("\n")
        elif kind == "rich_text_list":
            for element in node.get("elements") or []:
                walk(element)
        elif kind in ("rich_text", "section", "context") or "elements" in node:
            walk(node.get("elements"))
            text = node.get("text")
            if isinstance(text, dict) and isinstance(text.get("text"), str):
                parts.append(text["text"])
        elif isinstance(node.get("text"), dict) and isinstance(node["text"].get("text"), str):
            parts.append(node["text"]["text"])
    walk(blocks)
    return plain_text("".join(parts)).strip()
