"""How people engage with a message Heard cares about: reactions added and removed,
replies in its thread, and replies deleted. Pure functions over Slack's event payloads.

Two rooms count the same acts: the feedback room (a reply or an acknowledgement reaction
acknowledges an item; removing it may un-acknowledge it) and the stories room (reactions
and replies on the week's story are its engagement). Both read events through
:func:`engagement`, so what counts as a person's reply, which bots never count, how a
deletion of a reply or of a parent with replies looks and how a reaction's skin tone is
dropped are decided once, here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

# Subtypes a person's message can carry and still be what they said.
# `file_share` is a post with files attached.
PERSON_SUBTYPES = frozenset({None, "file_share"})
SLACKBOT = "USLACKBOT"
# Seconds since 1970 and microseconds, written as Slack writes every `ts`: seconds without
# leading zeros, then all six digits of the microseconds. A `ts` is a message's key in
# every table that stores one (an item's message, a reply acknowledging it, a story post),
# so one instant must have one spelling: 1795900000.1 and 1795900000.100000 would be two
# messages. Ten digits reach the year 2286: a longer `ts` (999999999999.999999) is no
# message Slack sent, and its time would overflow a datetime.
_TS = re.compile(r"(?:0|[1-9]\d{0,9})\.\d{6}", re.ASCII)


@dataclass(frozen=True)
class Reply:
    """A person's reply in a thread (also sent to the channel or not)."""

    channel: str
    ts: str
    thread_ts: str
    user: str


@dataclass(frozen=True)
class Deleted:
    """A message was deleted: a top-level one (`thread_ts` None) or a reply."""

    channel: str
    ts: str
    thread_ts: str | None


@dataclass(frozen=True)
class Reaction:
    """A reaction on a message; `added` is False for `reaction_removed`."""

    channel: str
    ts: str
    user: str
    name: str  # without skin tone: `+1::skin-tone-2` counts as `+1`
    added: bool = True


Act = Reply | Deleted | Reaction


def engagement(event: dict) -> Act | None:
    """What a `message`, `reaction_added` or `reaction_removed` event does to engagement
    with a message: a person's reply, a deletion, or a reaction. None for everything else
    (a bot's post, a top-level post, an edit, a join); never raises on odd payloads."""
    kind = event.get("type")
    if kind in ("reaction_added", "reaction_removed"):
        return reaction(event)
    if kind != "message":
        return None
    return deletion(event) or reply(event)


def engaged_ts(act: Act | None) -> str | None:
    """The message an act is about: the reacted-to message, or the parent of the thread
    a reply was posted or deleted in (None for a top-level deletion)."""
    if isinstance(act, Reaction):
        return act.ts
    return act.thread_ts if isinstance(act, Reply | Deleted) else None


def deletion(event: dict) -> Deleted | None:
    """A deleted message: `message_deleted`, or a parent with replies left as a tombstone."""
    channel = event.get("channel")
    if not isinstance(channel, str) or not channel:
        return None
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        ts = event.get("deleted_ts")
        previous = event.get("previous_message") or {}
        thread_ts = previous.get("thread_ts") if isinstance(previous, dict) else None
        if not valid_ts(ts):
            return None
        return Deleted(channel, ts, thread_ts if thread_ts != ts and valid_ts(thread_ts) else None)
    if subtype == "message_changed":
        message = event.get("message")
        if isinstance(message, dict) and valid_ts(message.get("ts")) and message.get("subtype") == "tombstone":
            return Deleted(channel, message["ts"], None)
    return None


def reply(event: dict) -> Reply | None:
    """A person's reply in a thread; bots (Heard included) and Slackbot never count."""
    channel, subtype = event.get("channel"), event.get("subtype")
    if not isinstance(channel, str) or not channel or by_a_bot(event):
        return None
    user, ts, thread_ts = event.get("user"), event.get("ts"), event.get("thread_ts")
    if not isinstance(user, str) or not user or not valid_ts(ts):
        return None
    if not (valid_ts(thread_ts) and thread_ts != ts):
        return None
    if subtype == "thread_broadcast" or subtype in PERSON_SUBTYPES:
        return Reply(channel, ts, thread_ts, user)
    return None


def reaction(event: dict) -> Reaction | None:
    """A reaction on a message, or None for reactions on files and malformed events."""
    item = event.get("item") or {}
    if not isinstance(item, dict) or item.get("type") != "message":
        return None
    channel, ts, user, name = item.get("channel"), item.get("ts"), event.get("user"), event.get("reaction")
    if not (isinstance(channel, str) and valid_ts(ts) and isinstance(user, str) and isinstance(name, str)):
        return None
    return Reaction(channel, ts, user, emoji_base(name), added=event.get("type") != "reaction_removed")


def emoji_base(name: str) -> str:
    """`thumbsup::skin-tone-3` -> `thumbsup`: any skin tone counts as the emoji."""
    return name.split("::", 1)[0].strip(":").lower()


def by_a_bot(message: dict) -> bool:
    # Slackbot posts with a user id and no bot_id; it is no more a person than a bot is.
    return (
        bool(message.get("bot_id")) or message.get("subtype") == "bot_message"
        or bool(message.get("bot_profile")) or message.get("user") == SLACKBOT
    )  # fmt: skip


def valid_ts(value) -> bool:
    """A Slack message `ts` in the one form Slack writes it (`1795900000.100000`), whose
    time :func:`ts_time` can tell (before the year 2286). Every `ts` Heard reads from a
    request passes this check, so a `ts` spelt another way is refused at the edge."""
    return isinstance(value, str) and _TS.fullmatch(value) is not None


def ts_time(ts: str) -> datetime:
    """When a Slack message was said: its `ts` is epoch seconds (check it with :func:`valid_ts`)."""
    seconds, _, fraction = ts.partition(".")
    return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(fraction))
