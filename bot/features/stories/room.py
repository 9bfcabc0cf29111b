"""What the stories room adds to Heard (see `bot.rooms`)."""

from bot.features.stories import handlers, records, service, views
from bot.features.stories.commands import COMMANDS
from bot.features.stories.jobs import JOBS
from bot.rooms import CardButton, ManifestPart, Room


def demo_steps() -> tuple:
    """`heard demo`'s steps for this room, imported when the demo asks: its scripts and
    rich are no part of a server's start."""
    from bot.features.stories.demo import DEMO_STEPS

    return DEMO_STEPS


ROOM = Room(
    name="stories",
    about=(
        ("Customer stories", ("Every week Heard posts one real customer story from the story bank to the "
                              "stories channel. Anyone can submit one with /heard story add, or turn resolved "
                              "feedback into one; admins approve it first. When no story is approved, admins "
                              "get a draft from recent feedback the day before. Heard counts reactions, thread "
                              "replies and reflections.")),
    ),
    register=handlers.register,
    commands=COMMANDS,
    jobs=JOBS,
    home_sections=(handlers.stories_section,),
    manifest=ManifestPart(
        scopes={
            "channels:history": "read replies in the thread of the week's story",
            "groups:history": "read replies under a story in a private stories channel",
            "reactions:read": "count reactions to the week's story",
            "channels:read": "check the stories channel exists and is not archived before posting",
        },
        events=("message.channels", "message.groups", "reaction_added", "reaction_removed"),
        callbacks=(views.ADD_MODAL, views.REFLECT_MODAL, views.REFLECT_ACTION, views.APPROVE_ACTION,
                   views.EDIT_ACTION, views.DISCARD_ACTION, views.FROM_FEEDBACK_ACTION),
    ),
    forget=records.forget,
    exports=(records.STORIES_EXPORT, records.ENGAGEMENT_EXPORT),
    demo_steps=demo_steps,
    card_buttons=(CardButton("feedback", views.FROM_FEEDBACK_LABEL, views.FROM_FEEDBACK_ACTION, states=("resolved",)),),
    owns_message=service.is_story_message,
)
