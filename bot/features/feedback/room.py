"""What the feedback room adds to Heard (see `bot.rooms`)."""

from bot.features.feedback import handlers, records, setup, views
from bot.features.feedback.commands import COMMANDS
from bot.features.feedback.jobs import JOBS
from bot.rooms import ManifestPart, Room, Shortcut


def demo_steps() -> tuple:
    """`heard demo`'s steps for this room, imported when the demo asks: its scripts and
    rich are no part of a server's start."""
    from bot.features.feedback.demo import DEMO_STEPS

    return DEMO_STEPS


ROOM = Room(
    name="feedback",
    about=(
        ("Customer feedback", "Messages in feedback channels are tracked until someone acknowledges "
         "them with a reply or a :eyes: reaction. What nobody acknowledges is flagged."),
        ("Closing the loop", "When your feedback is acknowledged or resolved, Heard tells you."),
    ),
    register=handlers.register,
    commands=COMMANDS,
    jobs=JOBS,
    home_sections=(handlers.my_feedback_section,),
    checklist=setup.checklist,
    settings=setup.settings,
    audit_formats=setup.AUDIT_FORMATS,
    manifest=ManifestPart(
        scopes={
            "channels:history": "read messages in public feedback channels",
            "groups:history": "read messages in private feedback channels Heard was invited to",
            "reactions:read": "acknowledgement reactions",
            "emoji:read": "check a custom acknowledgement emoji exists (/heard ack-emoji add)",
        },
        events=("message.channels", "message.groups", "reaction_added", "reaction_removed"),
        shortcuts=(Shortcut("Log as customer feedback", views.LOG_SHORTCUT,
                            "Record this message as customer feedback in Heard"),),
        callbacks=(views.LOG_SHORTCUT, views.LOG_MODAL, views.RESOLVE_MODAL, views.ACKNOWLEDGE_ACTION,
                   views.RESOLVE_ACTION, setup.SETUP_ACTION, setup.SETUP_MODAL),
    ),
    forget=records.forget,
    exports=(records.FEEDBACK_EXPORT,),
    demo_steps=demo_steps,
)
