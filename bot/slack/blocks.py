"""Small Block Kit helpers and the one path from user text to Slack: :func:`escape`.

Slack treats `<`, `>` and `&` as control characters: `<!channel>`, `<!here>`,
`<!everyone>`, `<!subteam^S123>` and `<@U123>` ping people. Escaping them turns any
user text into inert text. Heard adds mentions only through :func:`mention`,
which it calls with ids it chose itself.
"""

from __future__ import annotations

import re

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.markup import is_conversation_id, is_user_id

SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
# Plain-text @channel/@here/@everyone are only links when Slack's `parse=full` is
# on; Heard never sets it, but a zero-width joiner keeps them inert in any client.
_BROADCAST_WORDS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape(text: str) -> str:
    """Make user text safe to post: no pings, no links, no formatting injection."""
    text = text.replace("\x00", "")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST_WORDS.sub(lambda m: "@\u2060" + m.group(1), text)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def excerpt(text: str, limit: int = 280) -> str:
    """A one-paragraph excerpt of user text, escaped, for lists and digests."""
    flat = " ".join(text.split())
    return escape(truncate(flat, limit))


def mention(user_id: str) -> str:
    """A user mention Heard chose to make; refuses anything that is not a plain id."""
    if not is_user_id(user_id):
        raise ValueError(f"not a Slack user id: {user_id!r}")
    return f"<@{user_id}>"


def channel_link(channel_id: str) -> str:
    """A link to a channel (or DM) Heard chose to name; refuses anything that is not a plain id."""
    if not is_conversation_id(channel_id):
        raise ValueError(f"not a Slack channel id: {channel_id!r}")
    return f"<#{channel_id}>"


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(text, HEADER_TEXT_LIMIT), emoji=True))


def section(markdown: str, *, block_id: str | None = None, accessory=None) -> SectionBlock:
    """A section of mrkdwn Heard wrote; interpolated user text must already be escaped."""
    return SectionBlock(
        text=MarkdownTextObject(text=truncate(markdown, SECTION_TEXT_LIMIT)),
        block_id=block_id,
        accessory=accessory,
    )


def context(*markdown: str) -> ContextBlock:
    return ContextBlock(
        elements=[MarkdownTextObject(text=truncate(m, SECTION_TEXT_LIMIT)) for m in markdown]
    )


def divider() -> DividerBlock:
    return DividerBlock()


def button(
    text: str, action_id: str, *, value: str | None = None, style: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=truncate(text, 75)), action_id=action_id, value=value, style=style
    )


def actions(*elements: ButtonElement, block_id: str | None = None) -> ActionsBlock:
    return ActionsBlock(elements=list(elements), block_id=block_id)


def to_dicts(blocks: list[Block]) -> list[dict]:
    return [block.to_dict() for block in blocks]
