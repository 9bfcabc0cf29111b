"""The feedback room's part of setting Heard up: its setup-checklist step (feedback
channels, with a button and a modal), and its lines of `/heard config`."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.features.feedback import commands, views
from bot.features.feedback.config import load_config
from bot.rooms import ChecklistItem, RoomContext, SetupRequest
from bot.slack import outbox
from bot.slack.blocks import channel_link, escape, section
from bot.slack.commands import CommandFailed, UsageError
from bot.slack.requests import Interaction, interaction_of

log = logging.getLogger(__name__)

SETUP_ACTION = "feedback_setup_channel"  # the App Home button
SETUP_MODAL = "feedback_setup_channel_modal"


def checklist(request: SetupRequest) -> list[ChecklistItem]:
    """Heard works once it has a feedback channel: the first step of the checklist."""
    channels = load_config(request.session, request.workspace_id).feedback_channels
    detail = (", ".join(channel_link(c) for c in channels) if channels
              else f"Where people share what customers say: `{request.command} feedback-channel add #channel`")  # fmt: skip
    return [ChecklistItem("feedback_channel", "Feedback channel", bool(channels), detail, rank=10,
                          button="Add a feedback channel", action_id=SETUP_ACTION)]  # fmt: skip


def settings(request: SetupRequest) -> list[str]:
    config = load_config(request.session, request.workspace_id)
    emoji = " ".join(f":{escape(name)}:" for name in config.ack_emoji) or "none"
    channels = ", ".join(channel_link(c) for c in config.feedback_channels) or "none yet"
    return [
        "*Feedback*\n"
        f"Feedback channels: {channels}\n"
        f"Ignored after {views.duration(config.ignore_after)} without acknowledgement\n"
        f"Acknowledgement emoji: {emoji}\n"
        f"Reminders in ignored threads: {'on' if config.ignored_reminders else 'off'}"
    ]


def _emoji(value) -> str:
    name = str(value)
    return f":{name}:" if re.fullmatch(r"[a-z0-9_+'-]+", name) else escape(name)


def _duration(value) -> str:
    return views.duration(timedelta(seconds=value)) if isinstance(value, int | float) else escape(str(value))


AUDIT_FORMATS = {"ignore-after": _duration, "ack-emoji": _emoji}
"""How the feedback settings read in the audit log (`/heard config`'s last changes)."""


def channel_modal() -> dict:
    return View(
        type="modal", callback_id=SETUP_MODAL, title=PlainTextObject(text="Feedback channel"),
        submit=PlainTextObject(text="Add"), close=PlainTextObject(text="Cancel"),
        blocks=[
            section("Top-level messages people post in a feedback channel become feedback items; "
                    "Heard flags those nobody acknowledges."),
            InputBlock(
                block_id="channel", label=PlainTextObject(text="Channel"),
                hint=PlainTextObject(text="Adding a channel also picks up its recent history."),
                element=ConversationSelectElement(
                    action_id="pick", placeholder=PlainTextObject(text="Pick a channel"),
                    filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True,
                                              exclude_external_shared_channels=True),
                ),
            ),
        ],
    ).to_dict()  # fmt: skip


def _picked_channel(request: Interaction) -> str | None:
    return request.view.values.conversation("channel")


def register_setup(app: App, room: RoomContext) -> None:
    runtime = room.runtime

    @app.action(SETUP_ACTION)
    def open_modal(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        ack()
        request = interaction_of(context, body)
        caller = room.access(client, context.team_id, request.user_id)
        if caller.is_admin:
            try:
                client.views_open(trigger_id=request.trigger_id, view=channel_modal())
            except SlackApiError as exc:  # an expired trigger: the admin presses again
                log.info("could not open the feedback-channel modal: %s", exc.response.get("error"))

    @app.view(SETUP_MODAL)
    def save(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        request = interaction_of(context, body)
        channel = _picked_channel(request)
        if channel is None:
            ack(response_action="errors", errors={"channel": "Pick a channel."})
            return
        ack()  # joining the channel and reading its history happen after Slack's 3 seconds
        user_id, team_id = request.user_id, context.team_id
        caller = room.access(client, team_id, user_id)
        if caller.workspace_id is None:
            return
        if not caller.is_admin and room.people.person(client, team_id, user_id, runtime.clock()) is None:
            log.warning("feedback-channel modal submitted in %s by %s, whom Slack does not know there; ignored",
                        team_id, user_id)  # fmt: skip
            return  # a DM could not reach them; its failure would only tell the installer about a stranger
        try:
            if not caller.is_admin:
                raise CommandFailed("Only Heard admins can add a feedback channel.")
            added = commands.add_feedback_channel(runtime, client, caller.workspace_id, user_id, channel)
        except (CommandFailed, UsageError) as exc:
            outbox.follow_up(runtime, workspace_id=caller.workspace_id, user_id=user_id, ref=request.trigger_id,
                             text=f"I couldn't add that feedback channel: {exc}")  # fmt: skip
            return
        room.publish_home(client, team_id, user_id)  # the checklist shows the channel at once
        commands.backfill_and_report(runtime, client, caller.workspace_id, user_id, added,
                                     ref=request.trigger_id)  # fmt: skip
