"""The digest room's `/heard` form: `digest now` (admins), the digest as leaders would get
it now, shown to the caller only."""

from __future__ import annotations

from bot.features.digest import service, views
from bot.slack.commands import Command, CommandReply, CommandRequest, UsageError


def digest_now_command(request: CommandRequest) -> CommandReply:
    """A preview: nothing is sent to leaders and nothing is recorded."""
    if request.words:
        raise UsageError("`digest now` takes no arguments.")
    runtime = request.runtime
    now = runtime.clock()
    with runtime.sessions() as session:
        digest = service.build_digest(session, request.workspace_id, end=now, settings=runtime.settings)
    text, blocks = views.preview_reply(digest, request.command)
    return CommandReply(text, blocks=blocks)


COMMANDS = (
    Command("digest now", "digest now", "preview the leadership digest as leaders would get it now (only you see it)",
            digest_now_command, admin_only=True),
)  # fmt: skip
