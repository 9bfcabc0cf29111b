"""Parsing what Slack sends: the words of a slash command's text."""

from __future__ import annotations

import re

MAX_COMMAND_TEXT = 4000  # Slack caps slash text well below this; anything longer is hostile
_WORD = re.compile(r'"([^"]*)"|“([^”]*)”|\'([^\']*)\'|(\S+)')


def command_words(text: str | None) -> list[str]:
    """Split slash-command text into words; quoted phrases ("mon 10:00") stay one word.

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
