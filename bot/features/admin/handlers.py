"""Bolt listeners for administration. Thin: parse, ack, call the service, reply."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.features.admin import service, views
from bot.runtime import Runtime
from bot.slack.blocks import escape
from bot.slack.requests import command_words
from bot.workspaces import find_active

log = logging.getLogger(__name__)

# (usage after the command name, what it does); features add theirs as they arrive.
COMMANDS = [("help", "what Heard does and the commands you can run")]


def register(app: App, runtime: Runtime, *, notify) -> None:
    command_name = runtime.settings.heard_slash_command

    @app.event("app_home_opened")
    def publish_home(event: dict, context: BoltContext, client: WebClient):
        if event.get("tab") != "home":
            return
        with runtime.sessions() as session:
            workspace = find_active(session, context.team_id)
            name = workspace.name if workspace else ""
        client.views_publish(
            user_id=event["user"], view=views.home_view(workspace_name=name, command=command_name)
        )

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
    def heard_command(ack: Ack, command: dict):
        words = command_words(command.get("text"))
        if not words or words[0].lower() == "help":
            ack(response_type="ephemeral", text=views.help_text(command_name, COMMANDS))
            return
        shown = escape(words[0][:40].replace("`", "'"))
        ack(
            response_type="ephemeral",
            text=views.usage_error(f"Unknown command `{shown}`.", f"{command_name} help"),
        )
