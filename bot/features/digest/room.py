"""What the digest room adds to Heard (see `bot.rooms`)."""

from bot.features.digest import delivery, handlers, views
from bot.features.digest.commands import COMMANDS
from bot.features.digest.jobs import JOBS
from bot.rooms import ManifestPart, Room

ABOUT = ("Every week each leader gets a digest by DM (and the digest channel, when set): ignored customer "
         "feedback grouped into themes, the decisions departments logged about each theme, rising themes, the "
         "oldest items, decision logging by department, story engagement and a trend chart.")


def demo_steps() -> tuple:
    """`heard demo`'s steps for this room, imported when the demo asks: its scripts and
    rich are no part of a server's start."""
    from bot.features.digest.demo import DEMO_STEPS

    return DEMO_STEPS


ROOM = Room(
    name="digest",
    about=(("Leadership digest", ABOUT),),
    register=handlers.register,
    commands=COMMANDS,
    jobs=JOBS,
    manifest=ManifestPart(
        scopes={
            "files:write": "share the digest's trend chart",
            "im:write": "DM leaders their digest and its chart",
            "users:read": "skip digest leaders who left the workspace",
        },
        callbacks=(views.ACKNOWLEDGE_ACTION, views.ASSIGN_ACTION, views.OPEN_ACTION, views.ASSIGN_MODAL),
    ),
    forget=delivery.forget,
    exports=(delivery.ASSIGNMENTS_EXPORT,),
    demo_steps=demo_steps,
)
