"""Slack's ids and its `<…>` markup: the one parser Heard has for them.

Slack writes every reference in a message, and in slash-command text (the manifest sets
`should_escape`), inside angle brackets: `<@U0123|maya>` a person, `<#C0123|general>` a
channel, `<!subteam^S0123|@support>` a user group, `<!here>`, `<!channel>` and
`<!everyone>` broadcasts, `<https://x.example|docs>` and `<mailto:a@b.example>` links.
Around them `&`, `<` and `>` arrive as `&amp;`, `&lt;` and `&gt;`, so in Slack's text a `<`
always opens markup.

An id is a letter that says what it names, then uppercase letters and digits: `U` a
person (`W` on Enterprise Grid), `C` a channel (`G` an older private one), `D` a direct
message, `S` a user group, `T` a workspace. Heard stores ids in 32-character columns, so
anything longer is not one.

Reading markup is this module's job; making it (a mention Heard posts) is
:mod:`bot.slack.blocks`'s, which escapes everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID_TAIL = "[A-Z0-9]{2,31}"
_USER_ID = re.compile(f"[UW]{_ID_TAIL}")
_CHANNEL_ID = re.compile(f"[CG]{_ID_TAIL}")
_CONVERSATION_ID = re.compile(f"[CGD]{_ID_TAIL}")
_USERGROUP_ID = re.compile(f"S{_ID_TAIL}")
_TEAM_ID = re.compile(f"T{_ID_TAIL}")
_MARKUP = re.compile(r"<([^<>]*)>")
# A URL that can sit inside `<url|label>` as it is: whitespace, `<`, `>` and `|` end a link.
_LINK_URL = re.compile(r"https?://[^\s<>|]+")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def is_user_id(value: object) -> bool:
    """A person's id: `U0123ABCD`, or `W…` on Enterprise Grid."""
    return isinstance(value, str) and _USER_ID.fullmatch(value) is not None


def is_channel_id(value: object) -> bool:
    """A channel's id: `C…`, or `G…` for an older private channel."""
    return isinstance(value, str) and _CHANNEL_ID.fullmatch(value) is not None


def is_conversation_id(value: object) -> bool:
    """Where a message can be: a channel, or a direct message (`D…`)."""
    return isinstance(value, str) and _CONVERSATION_ID.fullmatch(value) is not None


def is_usergroup_id(value: object) -> bool:
    """A user group's id: `S…`."""
    return isinstance(value, str) and _USERGROUP_ID.fullmatch(value) is not None


def is_team_id(value: object) -> bool:
    """A workspace's (team's) id: `T…`."""
    return isinstance(value, str) and _TEAM_ID.fullmatch(value) is not None


def is_link_url(value: object) -> bool:
    """An http(s) URL that fits in `<url|label>` unchanged."""
    return isinstance(value, str) and _LINK_URL.fullmatch(value) is not None


@dataclass(frozen=True)
class Markup:
    """One `<target|label>` as Slack sent it, brackets included."""

    raw: str

    @property
    def target(self) -> str:
        return self.raw[1:-1].partition("|")[0]

    @property
    def label(self) -> str:
        """What Slack shows for it; "" when Slack sent none."""
        return self.raw[1:-1].partition("|")[2]

    @property
    def user_id(self) -> str | None:
        """`<@U0123|maya>` -> `U0123`; None for anything else, broadcasts and groups included."""
        return _id_after(self.target, "@", is_user_id)

    @property
    def channel_id(self) -> str | None:
        """`<#C0123|general>` -> `C0123`."""
        return _id_after(self.target, "#", is_channel_id)

    @property
    def usergroup_id(self) -> str | None:
        """`<!subteam^S0123|@support>` -> `S0123`."""
        return _id_after(self.target, "!subteam^", is_usergroup_id)

    def readable(self) -> str:
        """What a person reads: `@maya`, `#general`, `@support`, `@here`, `docs (https://x)`."""
        target, label = self.target, self.label
        if target.startswith("@"):
            text = f"@{label or target[1:]}"
        elif target.startswith("#"):
            text = f"#{label or target[1:]}"
        elif target.startswith("!subteam^"):
            text = label or "@group"
        elif target.startswith("!"):
            text = f"@{label.lstrip('@') if label else target[1:].split('^')[0]}"
        else:
            address = target.removeprefix("mailto:")
            text = f"{label} ({address})" if label and label != address else address
        return unescape(text)


def _id_after(target: str, prefix: str, is_id) -> str | None:
    found = target[len(prefix) :] if target.startswith(prefix) else None
    return found if is_id(found) else None


def parse(text: str) -> list[str | Markup]:
    """Slack text as its pieces in order: runs of text (still `&amp;`-escaped) and markup.

    Never raises; a `<` or `>` without its partner is text.
    """
    pieces: list[str | Markup] = []
    position = 0
    for match in _MARKUP.finditer(text):
        if match.start() > position:
            pieces.append(text[position : match.start()])
        pieces.append(Markup(match.group()))
        position = match.end()
    if position < len(text):
        pieces.append(text[position:])
    return pieces


def markup(word: str) -> Markup | None:
    """`word` (surrounding spaces aside) when it is exactly one piece of markup, else None."""
    word = word.strip()
    return Markup(word) if _MARKUP.fullmatch(word) else None


def user_id(word: str) -> str | None:
    """The user id of a user mention (`<@U0123|maya>`), else None (broadcasts and groups included)."""
    found = markup(word)
    return found.user_id if found else None


def channel_id(word: str) -> str | None:
    """The channel id of a channel mention (`<#C0123|general>`), else None."""
    found = markup(word)
    return found.channel_id if found else None


def usergroup_id(word: str) -> str | None:
    """The id of a user-group mention (`<!subteam^S0123|@support>`), else None."""
    found = markup(word)
    return found.usergroup_id if found else None


def unescape(text: str) -> str:
    """`&lt;`, `&gt;` and `&amp;` back to the characters (Slack escapes no others)."""
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def plain_text(slack_text: str) -> str:
    """Slack markup to what a person reads: `<@U1|maya>` -> `@maya`, `<https://x|docs>` ->
    `docs (https://x)`, `&lt;` -> `<`. Heard stores this; it is escaped again on the way out."""
    return "".join(
        piece.readable() if isinstance(piece, Markup) else unescape(piece)
        for piece in parse(slack_text.replace("\x00", ""))
    )
