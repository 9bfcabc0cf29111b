"""The decisions room's fixtures (defined in room.py)."""

from tests.features.decisions.room import decisions  # noqa: F401
