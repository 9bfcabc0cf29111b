"""The stories room's fixture (defined in room.py)."""

from tests.features.stories.room import stories  # noqa: F401
