"""Reading Slack's `message` and reaction events for feedback: pure functions, no I/O.

Slack sends one `message` event type for very different things (a new post, a thread
reply, an edit, a deletion, a join, a bot's post); :func:`classify` names which one an
event is, in the feedback room's words, and :func:`message_text` is the text a person
reads (Slack's markup made plain by :mod:`bot.slack.markup`), which is what Heard stores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.slack.markup import plain_text

# Subtypes a person's top-level post can carry and still be what they said.
# `file_share` is a post with files attached: with text it is feedback; files alone are not.
PERSON_SUBTYPES = frozenset({None, "file_share"})
_TS = re.compile(r"^\d{1,12}\.\d{1,6}$")
SLACKBOT = "USLACKBOT"


@dataclass(frozen=True)
class Post:
    """A person's top-level message: feedback when it is in a feedback channel."""

    channel: str
    ts: str
    user: str
    text: str


@dataclass(frozen=True)
class Reply:
    """A person's reply in a thread (also sent to the channel or not)."""

    channel: str
    ts: str
    thread_ts: str
    user: str


@dataclass(frozen=True)
class Edited:
    channel: str
    ts: str
    text: str


@dataclass(frozen=True)
class Deleted:
    """A message was deleted: a top-level one (`thread_ts` None) or a reply."""

    channel: str
    ts: str
    thread_ts: str | None


@dataclass(frozen=True)
class Ignored:
    """Not something feedback tracks: bot posts, joins, topic changes, file-only posts…"""

    reason: str


Incoming = Post | Reply | Edited | Deleted | Ignored


@dataclass(frozen=True)
class Reaction:
    channel: str
    ts: str
    user: str
    name: str  # without skin tone: `+1::skin-tone-2` counts as `+1`


def classify(event: dict) -> Incoming:
    """What a `message` event means for feedback; never raises on odd payloads."""
    channel = event.get("channel")
    subtype = event.get("subtype")
    if not isinstance(channel, str) or not channel:
        return Ignored("no channel")
    if subtype == "message_deleted":
        ts = event.get("deleted_ts")
        previous = event.get("previous_message") or {}
        thread_ts = previous.get("thread_ts") if isinstance(previous, dict) else None
        if not valid_ts(ts):
            return Ignored("deletion without a timestamp")
        return Deleted(channel, ts, thread_ts if thread_ts != ts and valid_ts(thread_ts) else None)
    if subtype == "message_changed":
        message = event.get("message")
        if not isinstance(message, dict) or not valid_ts(message.get("ts")):
            return Ignored("edit without a message")
        if message.get("subtype") == "tombstone":
            # A deleted parent that has replies stays in the channel as a tombstone.
            return Deleted(channel, message["ts"], None)
        if _by_a_bot(message):
            return Ignored("edit of a bot message")
        return Edited(channel, message["ts"], message_text(message))
    if _by_a_bot(event):
        return Ignored("bot message")
    user, ts, thread_ts = event.get("user"), event.get("ts"), event.get("thread_ts")
    if not isinstance(user, str) or not user or not valid_ts(ts):
        return Ignored("no author")
    is_reply = valid_ts(thread_ts) and thread_ts != ts
    if subtype == "thread_broadcast" or (is_reply and subtype in PERSON_SUBTYPES):
        return Reply(channel, ts, thread_ts, user) if is_reply else Ignored("broadcast without thread")
    if subtype not in PERSON_SUBTYPES:
        return Ignored(f"{subtype} message")
    text = message_text(event)
    if not text.strip():
        return Ignored("no text (files or attachments only)")
    return Post(channel, ts, user, text)


def reaction(event: dict) -> Reaction | None:
    """A reaction on a message, or None for reactions on files and malformed events."""
    item = event.get("item") or {}
    if not isinstance(item, dict) or item.get("type") != "message":
        return None
    channel, ts, user, name = item.get("channel"), item.get("ts"), event.get("user"), event.get("reaction")
    if not (isinstance(channel, str) and valid_ts(ts) and isinstance(user, str) and isinstance(name, str)):
        return None
    return Reaction(channel, ts, user, emoji_base(name))


def emoji_base(name: str) -> str:
    """`thumbsup::skin-tone-3` -> `thumbsup`: any skin tone counts as the emoji."""
    return name.split("::", 1)[0].strip(":").lower()


def valid_ts(value) -> bool:
    return isinstance(value, str) and bool(_TS.match(value))


def ts_time(ts: str) -> datetime:
    """When a Slack message was said: its `ts` is epoch seconds."""
    seconds, _, fraction = ts.partition(".")
    return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(fraction.ljust(6, "0")[:6]))


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


def _by_a_bot(message: dict) -> bool:
    # Slackbot posts with a user id and no bot_id; it is no more a person than a bot is.
    return (
        bool(message.get("bot_id")) or message.get("subtype") == "bot_message"
        or bool(message.get("bot_profile")) or message.get("user") == SLACKBOT
    )  # fmt: skip
