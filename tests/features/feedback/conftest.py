"""The feedback room's fixtures (defined in room.py, shared with tests/security/)."""

from tests.features.feedback.room import feedback, untracked  # noqa: F401
