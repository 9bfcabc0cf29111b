"""The decisions room's `/heard` subcommands: `decision` (anyone) opens the decision log,
`decision-nudges channel|dm` (admins) chooses how silent departments are reminded."""

from __future__ import annotations

from bot.features.decisions import handlers
from bot.features.decisions.config import NUDGE_VIA, nudge_via
from bot.features.decisions.kinds import NudgeVia
from bot.slack.commands import (
    Command,
    CommandFailed,
    CommandReply,
    CommandRequest,
    UsageError,
    shown,
)
from bot.workspace_settings import change_setting


def decision_command(request: CommandRequest) -> CommandReply:
    if request.words:
        raise UsageError("`decision` takes no arguments; the modal asks for the rest.")
    opened = handlers.open_modal(request.runtime, request.client, request.workspace_id, user_id=request.user_id,
                                 channel_id=request.channel_id, trigger_id=request.trigger_id)  # fmt: skip
    if not opened:
        raise CommandFailed("Slack did not let me open the decision log in time; please try again.")
    return CommandReply("Opened the decision log.")


def decision_nudges_command(request: CommandRequest) -> CommandReply:
    runtime = request.runtime
    if not request.words:
        with runtime.sessions() as session:
            current = nudge_via(session, request.workspace_id)
        raise UsageError(f"Silent departments are nudged {_where(current)} now; say `channel` or `dm`.")
    if len(request.words) != 1 or request.words[0].lower() not in set(NudgeVia):
        raise UsageError(f"`{shown(' '.join(request.words))}` is not `channel` or `dm`.")
    via = NudgeVia(request.words[0].lower())
    with runtime.sessions.begin() as session:
        old = nudge_via(session, request.workspace_id)
        if old != via:
            change_setting(session, request.workspace_id, NUDGE_VIA, via.value, by=request.user_id,
                           now=runtime.clock(), action="decision-nudges")  # fmt: skip
    note = (" A department without a user group is still nudged in its channel." if via == NudgeVia.DM else "")
    return CommandReply(f"Departments that log nothing after their prompt are nudged {_where(via)}.{note}")


def _where(via: NudgeVia) -> str:
    return "by DM to their user group's members" if via == NudgeVia.DM else "in their channel"


COMMANDS = (
    Command("decision", "decision", "log a decision your department made and how it affected customers",
            decision_command),
    Command("decision-nudges", "decision-nudges channel|dm",
            "nudge a silent department in its channel or by DM to its user group",
            decision_nudges_command, admin_only=True),
)  # fmt: skip
