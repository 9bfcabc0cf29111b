"""Parsing what Slack sends, once, at the edge: the words of a slash command and the
mentions in them, and every interaction (a button, a modal's submission, a shortcut, a
picker's search) as a typed :class:`Interaction`.

Slack sends slash-command text with mentions escaped (the manifest sets
`should_escape`): `<@U0123|maya>`, `<#C0123|general>`, `<!subteam^S0123|@support>`,
and `<!channel>`/`<!here>`/`<!everyone>` for broadcasts. :mod:`bot.slack.markup` reads
them; a word that is a mention goes to its `user_id`, `channel_id` or `usergroup_id`.

Interactions: :func:`interaction` reads a payload into an :class:`Interaction` whose
fields are what their names say (a `str` is a string, an id is an id, a `ts` is one
:func:`bot.slack.engagement.valid_ts` accepts, a view's values are blocks of elements),
or raises :class:`BadRequest` when Slack could not have sent it (no person named). The
front app's :func:`typed_interactions` middleware does that for every interaction, over
HTTP and Socket Mode alike, and answers a bad one with an empty 200 and one log line; a
listener reads ``interaction_of(context)`` and never the raw body, so a value of the
wrong type or shape (a user id that is a list, a state block that is a string, a channel
that is not an object) is read as absent and meets the listener's ordinary "not found"
or "pick a channel" answer instead of a traceback.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import BoltResponse

from bot.slack.engagement import valid_ts
from bot.slack.front import INTERACTION_TYPES
from bot.slack.markup import Markup, channel_id, is_conversation_id, parse, user_id, usergroup_id

__all__ = ["INTERACTION_TYPES", "MAX_COMMAND_TEXT", "MAX_ID", "MAX_INTEGER", "BadRequest", "FormValues", "Interaction",
           "Message", "View", "channel_id", "command_words", "interaction", "interaction_of", "record_id",
           "typed_interactions", "user_id", "usergroup_id"]  # fmt: skip

log = logging.getLogger(__name__)

MAX_COMMAND_TEXT = 4000  # Slack caps slash text well below this; anything longer is hostile
_WORD = re.compile(r'"([^"]*)"|“([^”]*)”|\'([^\']*)\'|(\S+)')


def command_words(text: str | None) -> list[str]:
    """Split slash-command text into words; quoted phrases ("mon 10:00") and escaped
    mentions (<@U1|maya smith>) stay one word. A mention is always a word of its own.

    Never raises: NUL bytes are dropped, unbalanced quotes are kept as characters.
    """
    if not text:
        return []
    words = []
    for piece in parse(text[:MAX_COMMAND_TEXT].replace("\x00", "")):
        if isinstance(piece, Markup):
            words.append(piece.raw)
            continue
        for match in _WORD.finditer(piece):
            words.append(next(group for group in match.groups() if group is not None))
    return words


# -- interactions --------------------------------------------------------------------------------

MAX_ID = 2**63 - 1  # the largest id either database stores (SQLite raises past 64 bits)
MAX_VALUE = 2000  # Slack caps a button's value at 2,000 characters
MAX_METADATA = 3000  # and a view's private_metadata at 3,000
MAX_VIEW_ID = 64  # Slack's view ids are 11 characters; Heard keeps them as 64-character keys
MAX_INTEGER = 2**31 - 1  # an `Integer` column's largest value on PostgreSQL
_CONTEXT_KEY = "heard_interaction"


class BadRequest(ValueError):
    """An interaction Slack could not have sent; the message is one line for the log."""


def record_id(value: object, limit: int = MAX_ID) -> int | None:
    """A database id from a button's value or a modal's metadata: a positive whole number
    up to `limit` (64 bits; 2**31 - 1 for an `Integer` column), written in ASCII digits
    (or an int, not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 19):
            return None
        value = int(text)
    if not isinstance(value, int):
        return None
    return value if 0 < value <= limit else None


def _text(value: object, limit: int | None = None) -> str | None:
    if not isinstance(value, str):
        return None
    return value if limit is None else value[:limit]


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class FormValues:
    """A view's `state.values`: block id -> action id -> element state, kept only where each
    level is an object; anything else (a forged submission) reads as nothing entered."""

    blocks: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, state: object) -> FormValues:
        values = _object(_object(state).get("values"))
        blocks = {
            str(block_id): {str(k): v for k, v in actions.items() if isinstance(v, dict)}
            for block_id, actions in values.items()
            if isinstance(actions, dict)
        }  # fmt: skip
        return cls(blocks)

    def elements(self, block_id: str) -> list[Mapping[str, Any]]:
        return list(self.blocks.get(block_id, {}).values())

    def text(self, block_id: str) -> str | None:
        """The first text typed in the block, as typed (None when nothing is)."""
        for element in self.elements(block_id):
            if isinstance(element.get("value"), str):
                return element["value"]
        return None

    def filled(self, block_id: str) -> str | None:
        """The block's text stripped, None when it is blank."""
        text = (self.text(block_id) or "").strip()
        return text or None

    def selected(self, block_id: str) -> str | None:
        """The value of a static select's chosen option."""
        for element in self.elements(block_id):
            value = _object(element.get("selected_option")).get("value")
            if isinstance(value, str):
                return value
        return None

    def selected_values(self, block_id: str) -> tuple[str, ...]:
        """The values of a multi-select's (or checkboxes') chosen options."""
        for element in self.elements(block_id):
            options = element.get("selected_options")
            if isinstance(options, list):
                return tuple(str(o["value"]) for o in options if isinstance(o, dict) and isinstance(o.get("value"), str | int))
        return ()

    def checked(self, block_id: str) -> bool:
        return bool(self.selected_values(block_id))

    def conversation(self, block_id: str) -> str | None:
        """A conversations select's channel, when it is a channel id."""
        for element in self.elements(block_id):
            picked = element.get("selected_conversation") or element.get("selected_channel")
            if is_conversation_id(picked):
                return picked
        return None

    def users(self, block_id: str) -> list[str]:
        """A users multi-select's people (strings only)."""
        for element in self.elements(block_id):
            people = element.get("selected_users")
            if isinstance(people, list):
                return [u for u in people if isinstance(u, str)]
        return []


@dataclass(frozen=True)
class View:
    """The modal submitted, or the one a button was pressed in."""

    id: str | None
    hash: str | None
    callback_id: str | None
    private_metadata: str  # as Heard wrote it, or a forgery: unseal it or read it as JSON data
    values: FormValues

    @classmethod
    def of(cls, value: object) -> View | None:
        if not isinstance(value, dict):
            return None
        return cls(
            id=_text(value.get("id")) if len(_text(value.get("id")) or "") <= MAX_VIEW_ID else None, hash=_text(value.get("hash")), callback_id=_text(value.get("callback_id")),
            private_metadata=_text(value.get("private_metadata"), MAX_METADATA) or "",
            values=FormValues.of(value.get("state")),
        )  # fmt: skip

    def metadata(self) -> dict[str, Any]:
        """`private_metadata` read as a JSON object, {} when it is not one (not believed:
        only what :mod:`bot.slack.sealed` unseals can be)."""
        try:
            found = json.loads(self.private_metadata or "{}")
        except (ValueError, RecursionError):
            return {}
        return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Message:
    """The message a shortcut or a button is on."""

    ts: str | None  # a valid ts, else None
    user: str | None
    by_a_bot: bool
    bot_name: str | None
    raw: Mapping[str, Any]  # for its text and blocks (read them with shape checks)

    @classmethod
    def of(cls, value: object) -> Message | None:
        if not isinstance(value, dict):
            return None
        profile = _object(value.get("bot_profile"))
        return cls(
            ts=value.get("ts") if valid_ts(value.get("ts")) else None,
            user=_text(value.get("user")) or None,
            by_a_bot=bool(value.get("bot_id")) or bool(profile) or value.get("subtype") == "bot_message",
            bot_name=_text(value.get("username")) or _text(profile.get("name")) or None,
            raw=value,
        )  # fmt: skip


@dataclass(frozen=True)
class Interaction:
    """One interaction payload, every field checked: None (or empty) where Slack's value was
    missing or of the wrong type."""

    type: str
    user_id: str  # always a person's id: a payload without one is a BadRequest
    user_name: str | None = None
    team_id: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    channel_id: str | None = None  # where it happened: `channel.id`, else the container's
    container_type: str | None = None  # "message", "view", "message_attachment"
    callback_id: str | None = None  # a shortcut's or a view's
    action_id: str | None = None  # the first action's (block_actions), or the search's (block_suggestion)
    value: str | None = None  # the first action's value, or the typed search of a block_suggestion
    view: View | None = None
    message: Message | None = None
    message_ts: str | None = None  # the message's ts (a message shortcut, a button under a message)

    @property
    def action_record_id(self) -> int | None:
        """The first action's value as a database id (a button carrying an item's id)."""
        return record_id(self.value)


def interaction(body: object) -> Interaction:
    """`body` (an interaction payload) as an :class:`Interaction`; BadRequest when it names
    no person, or is not an interaction at all."""
    if not isinstance(body, dict):
        raise BadRequest("payload is not an object")
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in INTERACTION_TYPES:
        raise BadRequest("not an interaction")
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not user_id or len(user_id) > 32:
        raise BadRequest(f"{kind} names no person (user is not an object with an id)")
    team, channel, container = _object(body.get("team")), _object(body.get("channel")), _object(body.get("container"))
    actions = body.get("actions")
    action = _object(actions[0]) if isinstance(actions, list) and actions else {}
    view = View.of(body.get("view"))
    if view is None and kind in ("view_submission", "view_closed"):
        raise BadRequest(f"{kind} without a view")
    message = Message.of(body.get("message"))
    if kind == "block_suggestion":
        value, action_id = _text(body.get("value"), MAX_VALUE), _text(body.get("action_id"))
    else:
        value, action_id = _text(action.get("value"), MAX_VALUE), _text(action.get("action_id"))
    callback_id = _text(body.get("callback_id")) or (view.callback_id if view else None)
    where = _text(channel.get("id")) or _text(container.get("channel_id"))
    ts = body.get("message_ts") if valid_ts(body.get("message_ts")) else None
    return Interaction(
        type=kind, user_id=user_id,
        user_name=_text(user.get("name")) or _text(user.get("username")) or None,
        team_id=_text(team.get("id")) or _text(user.get("team_id")) or None,
        trigger_id=_text(body.get("trigger_id")) or None,
        response_url=body["response_url"] if _is_url(body.get("response_url")) else None,
        channel_id=where if is_conversation_id(where) else None,
        container_type=_text(container.get("type")), callback_id=callback_id, action_id=action_id,
        value=value, view=view, message=message,
        message_ts=(message.ts if message else None) or ts or
                   (container.get("message_ts") if valid_ts(container.get("message_ts")) else None),
    )  # fmt: skip


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def interaction_of(context: Mapping[str, Any], body: object = None) -> Interaction:
    """The interaction :func:`typed_interactions` read for this request (or `body` read now,
    for an app without that middleware)."""
    found = context.get(_CONTEXT_KEY)
    return found if isinstance(found, Interaction) else interaction(body)


def typed_interactions(context, body: dict, next: Callable[[], Any]):
    """Bolt middleware: read every interaction once, into ``context["heard_interaction"]``;
    answer one Slack could not have sent with an empty 200 and a log line."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or body["type"] not in INTERACTION_TYPES:
        return next()
    try:
        context[_CONTEXT_KEY] = interaction(body)
    except BadRequest as exc:
        log.warning("skipped an interaction: %s", exc)
        return BoltResponse(status=200, body="")
    return next()
