"""The feedback room's fixed vocabularies: an item's status, the door it came through,
the kinds of acknowledgement.

Each is stored as its string (the columns are plain strings, so no migration names them),
and a value read back from the database compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    """Where an item stands; `service.settle_status` is the rule that sets it."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IGNORED = "ignored"
    RESOLVED = "resolved"


class Source(StrEnum):
    """The door feedback came through."""

    CHANNEL = "channel"  # posted in a feedback channel
    SHORTCUT = "shortcut"  # "Log as customer feedback" on a message
    COMMAND = "command"  # /heard feedback
    IMPORT = "import"  # heard feedback import


class AckKind(StrEnum):
    """How someone acknowledged an item."""

    REPLY = "reply"  # a thread reply
    REACTION = "reaction"  # one of the workspace's acknowledgement emoji
    DECISION = "decision"  # a decision log that links it
    BUTTON = "button"  # Acknowledge or Resolve on Heard's card
