"""The decisions room's fixed vocabularies, stored as their strings."""

from __future__ import annotations

from enum import StrEnum


class Impact(StrEnum):
    """How a decision affected customers, in the words of the department that made it."""

    HELPED = "helped"
    HURT = "hurt"
    MIXED = "mixed"
    UNKNOWN = "unknown"
    NONE = "none"  # no customer impact


class NudgeVia(StrEnum):
    """Where a silent department is nudged (`/heard decision-nudges channel|dm`)."""

    CHANNEL = "channel"  # in the department's channel
    DM = "dm"  # by DM to each member of the department's user group


class Field(StrEnum):
    """The decision modal's inputs: each is a block id, and the key of its inline error."""

    DEPARTMENT = "department"
    DECIDED = "decided"
    IMPACT = "impact"
    AFFECTED = "affected"
    EVIDENCE = "evidence"
    LINKS = "links"
