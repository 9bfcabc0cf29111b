"""Bolt listeners for administration. Thin: parse, ack, call the service, reply."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.features.admin import service, views
from bot.runtime import Runtime
from bot.slack.blocks import escape
from bot.slack.extensions import (
    CommandFailed,
    CommandReply,
    CommandRequest,
    HomeContext,
    Subcommand,
    UsageError,
)
from bot.slack.requests import command_words
from bot.workspaces import find_active

log = logging.getLogger(__name__)


def features():
    from bot.features import FEATURES  # the package imports this room: resolve at call time

    return FEATURES


def all_subcommands() -> dict[str, Subcommand]:
    found: dict[str, Subcommand] = {}
    for feature in features():
        for subcommand in getattr(feature, "SUBCOMMANDS", ()):
            found[subcommand.name] = subcommand
    return found


def register(app: App, runtime: Runtime, *, notify) -> None:
    command_name = runtime.settings.heard_slash_command
    directory = service.AdminDirectory()

    @app.event("app_home_opened")
    def publish_home(event: dict, context: BoltContext, client: WebClient):
        if event.get("tab") != "home":
            return
        with runtime.sessions() as session:
            workspace = find_active(session, context.team_id)
            is_admin = directory.is_admin(session, client, workspace, event["user"], runtime.clock())
            home = HomeContext(
                session=session, workspace=workspace, user_id=event["user"],
                is_admin=is_admin, command=command_name,
            )  # fmt: skip
            blocks = [
                block
                for feature in features()
                for section in getattr(feature, "HOME_SECTIONS", ())
                for block in section(home)
            ]
        client.views_publish(user_id=event["user"], view=views.home_view(blocks))

    @app.event("app_uninstalled")
    def on_uninstalled(context: BoltContext):
        service.uninstall_workspace(
            runtime, team_id=context.team_id, enterprise_id=context.enterprise_id
        )
        notify()

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict, context: BoltContext):
        # Heard holds only bot tokens; losing them is the same as being uninstalled.
        if (event.get("tokens") or {}).get("bot"):
            service.uninstall_workspace(
                runtime, team_id=context.team_id, enterprise_id=context.enterprise_id
            )
            notify()

    @app.command(command_name)
    def heard_command(ack: Ack, command: dict, context: BoltContext, client: WebClient):
        words = command_words(command.get("text"))
        name = words[0].lower() if words else "help"
        subcommands = all_subcommands()
        subcommand = subcommands.get(name)
        if subcommand is None:
            shown = escape(words[0][:40].replace("`", "'"))
            ack(response_type="ephemeral",
                text=views.usage_error(f"Unknown command `{shown}`.", f"{command_name} help"))  # fmt: skip
            return
        with runtime.sessions() as session:
            workspace = find_active(session, context.team_id)
            is_admin = directory.is_admin(session, client, workspace, command["user_id"], runtime.clock())
            admins = service.known_admins(session, workspace)
        if subcommand.admin_only and not is_admin:
            ack(response_type="ephemeral", text=views.not_admin(name, admins))
            return
        request = CommandRequest(
            runtime=runtime, client=client, workspace_id=context["workspace_id"],
            team_id=context.team_id, user_id=command["user_id"],
            channel_id=command.get("channel_id", ""), trigger_id=command.get("trigger_id"),
            command=command_name, words=words[1:], text=_rest(command.get("text") or "", name),
            is_admin=is_admin,
        )  # fmt: skip
        try:
            reply = subcommand.run(request)
        except UsageError as exc:
            usage = exc.usage or subcommand.usage
            ack(response_type="ephemeral",
                text=views.usage_error(exc.message, f"{command_name} {usage}"))  # fmt: skip
            return
        except CommandFailed as exc:
            ack(response_type="ephemeral", text=str(exc))
            return
        ack(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
        if reply.after:
            reply.after()  # Bolt has already sent the ack; slow work happens here


def _rest(text: str, name: str) -> str:
    """The raw text after the subcommand's name."""
    stripped = text.replace("\x00", "").strip()
    return stripped[len(name):].strip() if stripped.lower().startswith(name) else stripped


def help_command(request: CommandRequest) -> CommandReply:
    if request.words:
        raise UsageError("`help` takes no arguments.")
    usable = [s for s in all_subcommands().values() if request.is_admin or not s.admin_only]
    lines = [(usage, s.summary) for s in usable for usage in (s.usage, *s.extra_usages)]
    return CommandReply(views.help_text(request.command, lines))


def how_heard_works(home: HomeContext) -> list[dict]:
    return views.how_heard_works(home.workspace.name, home.command)


SUBCOMMANDS = (
    Subcommand("help", "help", "what Heard does and the commands you can run", help_command),
)
HOME_SECTIONS = (how_heard_works,)
