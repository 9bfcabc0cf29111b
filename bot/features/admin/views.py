"""Block Kit for administration: pure functions from values to blocks."""

from __future__ import annotations

from slack_sdk.models.views import View

from bot.slack.blocks import context, divider, escape, header, mention, section, to_dicts

HOW_HEARD_WORKS = [
    ("Customer feedback", "Messages in feedback channels are tracked until someone acknowledges "
     "them with a reply or a :eyes: reaction. What nobody acknowledges is flagged."),
    ("Weekly customer story", "A short, real customer story each week. React, reply, or "
     "share what you would change."),
    ("Decision logs", "Each department logs a decision and how it affected customers."),
    ("Leadership digest", "Leaders get ignored feedback grouped into themes, decision-log "
     "participation and story engagement, once a week."),
    ("Closing the loop", "When your feedback is acted on, Heard tells you."),
]  # fmt: skip


def how_heard_works(workspace_name: str, command: str) -> list[dict]:
    """The part of the App Home everyone sees: what Heard is and how it works."""
    blocks = [
        header("Heard"),
        section(f"Heard keeps *{escape(workspace_name)}* close to its customers."),
        divider(),
        section("*How Heard works*"),
    ]
    for title, text in HOW_HEARD_WORKS:
        blocks.append(section(f"*{title}*\n{text}"))
    blocks += [divider(), context(f"Type `{escape(command)} help` to see what you can do.")]
    return to_dicts(blocks)


def home_view(blocks: list[dict]) -> dict:
    """The App Home tab: every feature's sections, in feature order."""
    return View(type="home", blocks=blocks[:100]).to_dict()


def help_text(command: str, commands: list[tuple[str, str]]) -> str:
    """The reply to `/heard help`: what Heard does and the commands this person may run."""
    lines = [
        "*Heard* keeps your company close to its customers: it tracks customer feedback "
        "shared in Slack, flags what nobody acknowledged, and tells people when their "
        "feedback is acted on.",
        "",
        "*Commands*",
    ]
    lines += [f"• `{command} {usage}` — {what}" for usage, what in commands]
    return "\n".join(lines)


def not_admin(subcommand: str, admins: list[str]) -> str:
    """The refusal for a non-admin: names who can help, changes nothing."""
    named = ", ".join(mention(user) for user in admins)
    who = f"{named} or a workspace admin or owner" if named else "a workspace admin or owner"
    return f"Only Heard admins can use `{escape(subcommand)}`. Ask {who}."


def usage_error(message: str, usage: str) -> str:
    """One line: what was wrong, then the right usage."""
    return f"{message} Usage: `{usage}`"


__all__ = ["help_text", "home_view", "to_dicts", "usage_error"]
