"""Parsing what Slack sends: the words of a slash command and the mentions in them.

Slack sends slash-command text with mentions escaped (the manifest sets
`should_escape`): `<@U0123|maya>`, `<#C0123|general>`, `<!subteam^S0123|@support>`,
and `<!channel>`/`<!here>`/`<!everyone>` for broadcasts. :mod:`bot.slack.markup` reads
them; a word that is a mention goes to its `user_id`, `channel_id` or `usergroup_id`.
"""

from __future__ import annotations

import re

from bot.slack.markup import Markup, channel_id, parse, user_id, usergroup_id

__all__ = ["MAX_COMMAND_TEXT", "channel_id", "command_words", "user_id", "usergroup_id"]

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
