"""What the admin room adds to Heard (see `bot.rooms`)."""

from bot.features.admin import handlers
from bot.features.admin.commands import COMMANDS
from bot.features.admin.export import AUDIT_EXPORT
from bot.rooms import ManifestPart, Room


def demo_steps() -> tuple:
    """`heard demo`'s steps for this room, imported when the demo asks: its scripts and
    rich are no part of a server's start."""
    from bot.features.admin.demo import DEMO_STEPS

    return DEMO_STEPS


ROOM = Room(
    name="admin",
    register=handlers.register,
    commands=COMMANDS,
    home_sections=(handlers.how_heard_works, handlers.admin_setup),
    checklist=handlers.checklist,
    manifest=ManifestPart(
        scopes={"usergroups:read": "department user groups"},
        events=("app_home_opened", "app_uninstalled", "tokens_revoked"),
        callbacks=tuple(
            name for setting in handlers.SETTINGS
            for name in (handlers.views.setup_action(setting), handlers.views.setting_callback(setting))
        ),
    ),
    exports=(AUDIT_EXPORT,),
    on_install=handlers.greet_installer,
    demo_steps=demo_steps,
)
