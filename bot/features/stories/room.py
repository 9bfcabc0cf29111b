"""What the stories room adds to Heard (see `bot.rooms`)."""

from bot.rooms import Room

ROOM = Room(name="stories")
