"""Parsing what Slack sends: the words of a slash command and the mentions in them.

Slack sends slash-command text with mentions escaped (the manifest sets
`should_escape`): `<@U0123|maya>`, `<#C0123|general>`, `<!subteam^S0123|@support>`,
and `<!channel>`/`<!here>`/`<!everyone>` for broadcasts.
"""

from __future__ import annotations

import re

MAX_COMMAND_TEXT = 4000  # Slack caps slash text well below this; anything longer is hostile
_WORD = re.compile(r'(<[^<>]*>)|"([^"]*)"|“([^”]*)”|\'([^\']*)\'|(\S+)')
_USER = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_USERGROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]{2,})(?:\|[^>]*)?>$")


def command_words(text: str | None) -> list[str]:
    """Split slash-command text into words; quoted phrases ("mon 10:00") and escaped
    mentions (<@U1|maya smith>) stay one word.

    Never raises: NUL bytes are dropped, unbalanced quotes are kept as characters.
    """
    if not text:
        return []
    cleaned = text[:MAX_COMMAND_TEXT].replace("\x00", "")
    words = []
    for match in _WORD.finditer(cleaned):
        word = next(group for group in match.groups() if group is not None)
        words.append(word)
    return words


def user_id(word: str) -> str | None:
    """The user id of an escaped user mention, else None (broadcasts and groups included)."""
    match = _USER.match(word.strip())
    return match.group(1) if match else None


def channel_id(word: str) -> str | None:
    """The channel id of an escaped channel mention (`<#C0123|general>`), else None."""
    match = _CHANNEL.match(word.strip())
    return match.group(1) if match else None


def usergroup_id(word: str) -> str | None:
    """The id of an escaped user-group mention (`<!subteam^S0123|@support>`), else None."""
    match = _USERGROUP.match(word.strip())
    return match.group(1) if match else None
