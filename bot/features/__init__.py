"""Feature rooms: each a package with its own handlers, service, views and `queries.py`.

A room declares what it adds to Heard in `bot/features/<name>/room.py` (`ROOM`, see
`bot.rooms`) and its command-line additions in `bot/features/<name>/cli.py`. Adding a
room is its folder, its name here, and a migration.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.rooms import Rooms

ROOMS = ("admin", "feedback", "stories", "decisions", "digest")
"""The rooms, in the order their forms, App Home sections and demo steps appear."""


def load_models() -> None:
    """Import every room's tables (`bot/features/<name>/models.py`) onto the shared metadata,
    for Alembic and for a process that has not loaded the rooms."""
    for name in ROOMS:
        if importlib.util.find_spec(f"bot.features.{name}.models") is not None:
            importlib.import_module(f"bot.features.{name}.models")


def load_rooms() -> Rooms:
    """Import every room's declaration and check that no two declare the same thing.

    Imported by name so this package stays light: `heard --help` imports
    `bot.features` without loading Bolt, SQLAlchemy or any room.
    """
    from bot.rooms import Rooms

    return Rooms.of(importlib.import_module(f"bot.features.{name}.room").ROOM for name in ROOMS)
