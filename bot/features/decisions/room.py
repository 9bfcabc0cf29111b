"""What the decisions room adds to Heard (see `bot.rooms`)."""

from bot.features.decisions import handlers, records, setup, views
from bot.features.decisions.commands import COMMANDS
from bot.features.decisions.jobs import JOBS
from bot.rooms import ManifestPart, Room


def demo_steps() -> tuple:
    """`heard demo`'s steps for this room, imported when the demo asks: its scripts and
    rich are no part of a server's start."""
    from bot.features.decisions.demo import DEMO_STEPS

    return DEMO_STEPS


ROOM = Room(
    name="decisions",
    about=(
        ("Decision logs", ("Every week Heard asks each department to log a decision and how it affected "
         "customers, linked to the feedback that informed it; a department that stays silent is nudged.")),
    ),
    register=handlers.register,
    commands=COMMANDS,
    jobs=JOBS,
    home_sections=(handlers.my_departments_section,),
    settings=setup.settings,
    audit_formats=setup.AUDIT_FORMATS,
    manifest=ManifestPart(
        scopes={"usergroups:read": "a department's members (preselecting it, its App Home, DM nudges)"},
        callbacks=(views.LOG_ACTION, views.LOG_MODAL, views.LINKS_ACTION),
    ),
    forget=records.forget,
    exports=(records.DECISIONS_EXPORT, records.LINKS_EXPORT),
    demo_steps=demo_steps,
)
