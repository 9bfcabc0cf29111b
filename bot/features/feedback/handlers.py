"""Bolt listeners for customer feedback. Thin: ack, parse, call the service, send.

Message and reaction listeners claim only events that concern feedback (a feedback
channel, or a channel holding an item or a card), so other rooms can listen to the rest;
`bot.app` answers whatever nobody claimed.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import workspaces
from bot.db.models import Workspace
from bot.db.unit import on_commit
from bot.features.feedback import events, history, service, setup, views
from bot.features.feedback.config import load_config
from bot.features.feedback.kinds import AckKind, ItemStatus, Source
from bot.features.feedback.models import FeedbackItem
from bot.rooms import CardButton, HomeContext, RoomContext, Rooms
from bot.runtime import Runtime
from bot.slack.blocks import channel_link
from bot.slack.client import waiting_at_most
from bot.slack.engagement import engaged_ts, engagement
from bot.slack.history import any_message
from bot.slack.markup import is_conversation_id, is_user_id
from bot.slack.outbox import deliver_due
from bot.slack.requests import Interaction, View, interaction_of
from bot.slack.sealed import seal, unseal

log = logging.getLogger(__name__)

MAX_METADATA_TEXT = 2000


def register(app: App, room: RoomContext) -> None:
    runtime = room.runtime
    setup.register_setup(app, room)

    def concerns_feedback(body: dict, context: BoltContext) -> bool:
        event = body.get("event") or {}
        if event.get("type") == "message":
            incoming = events.classify(event)
            channel = None if isinstance(incoming, events.Ignored) else incoming.channel
        else:
            found = events.reaction(event)
            channel = found.channel if found else None
        if channel is None:
            return False
        return _tracked_channel(runtime, context.get("workspace_id"), channel,
                                engaged_ts(engagement(event)), room.rooms)  # fmt: skip

    @app.event("message", matchers=[concerns_feedback])
    def on_message(event: dict, context: BoltContext, client: WebClient):
        changed = handle_message(runtime, client, context["workspace_id"], event)
        _after_change(runtime, client, changed)

    @app.event("reaction_added", matchers=[concerns_feedback])
    def on_reaction_added(event: dict, context: BoltContext, client: WebClient):
        changed = handle_reaction(runtime, client, context["workspace_id"], event, added=True)
        _after_change(runtime, client, changed)

    @app.event("reaction_removed", matchers=[concerns_feedback])
    def on_reaction_removed(event: dict, context: BoltContext, client: WebClient):
        changed = handle_reaction(runtime, client, context["workspace_id"], event, added=False)
        _after_change(runtime, client, changed)

    @app.shortcut(views.LOG_SHORTCUT)
    def on_log_feedback(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        ack()
        request = interaction_of(context, body)
        _open(client, request, shortcut_view(runtime, client, context, request))

    @app.view(views.LOG_MODAL)
    def on_log_submitted(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        request = interaction_of(context, body)
        answer, changed = log_submitted(runtime, client, context["workspace_id"], request.user_id, request.view)
        ack(response_action="update", view=answer)
        _after_change(runtime, client, changed)

    @app.action(views.ACKNOWLEDGE_ACTION)
    def on_acknowledge(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        ack()
        request = interaction_of(context, body)
        user = request.user_id
        now = runtime.clock()
        with runtime.sessions.begin() as session:
            workspace = session.get(Workspace, context["workspace_id"])
            try:
                item = service.find_item(session, workspace.id, request.value)
            except service.UnknownItem as exc:
                return _answer(client, request, respond, str(exc))
            result = service.acknowledge(session, workspace, item, kind=AckKind.BUTTON, user_id=user,
                                         ref="acknowledge", now=now)  # fmt: skip
            text = acknowledge_answer(item, result, user)
        _answer(client, request, respond, text, item=item)
        _after_change(runtime, client, [item])

    @app.action(views.RESOLVE_ACTION)
    def on_resolve(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        ack()
        request = interaction_of(context, body)
        with runtime.sessions() as session:
            try:
                item = service.find_item(session, context["workspace_id"], request.value)
            except service.UnknownItem as exc:
                return _answer(client, request, respond, str(exc))
        if item.status == ItemStatus.RESOLVED:
            return _answer(client, request, respond, f"Already resolved by {views.person(item.resolved_by)}.")
        modal = views.resolve_modal(item, {"item": item.id})
        _open(client, request, modal, push=request.container_type == "view")

    @app.view(views.RESOLVE_MODAL)
    def on_resolve_submitted(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        request = interaction_of(context, body)
        note = request.view.values.filled(views.RESOLUTION_INPUT)
        item_id = request.view.metadata().get("item")  # any workspace's item is refused by find_item
        now = runtime.clock()
        with runtime.sessions.begin() as session:
            workspace = session.get(Workspace, context["workspace_id"])
            try:
                item = service.find_item(session, workspace.id, item_id)
                service.resolve(session, workspace, item, user_id=request.user_id, note=note, now=now)
            except service.FeedbackError as exc:
                return ack(response_action="errors", errors={views.RESOLUTION_INPUT: str(exc)})
        ack()
        _after_change(runtime, client, [item])


def _tracked_channel(runtime: Runtime, workspace_id: int | None, channel: str, engaged: str | None = None,
                     rooms: Rooms | None = None) -> bool:  # fmt: skip
    """A feedback channel, or one holding an item or a card. A reaction or reply on a
    message another room posted and follows (`engaged`: the story post in a stories channel
    that is also a feedback channel) is that room's event, never feedback's."""
    if workspace_id is None:
        return False
    with runtime.sessions() as session:
        if channel not in load_config(session, workspace_id).feedback_channels and \
                not service.has_items_in(session, workspace_id, channel):
            return False
        return engaged is None or rooms is None or rooms.message_owner(session, workspace_id, channel, engaged) is None


# -- events ------------------------------------------------------------------------------------


def handle_message(runtime: Runtime, client: WebClient, workspace_id: int, event: dict) -> list[FeedbackItem]:
    """Apply one message event; returns the items whose status may have changed."""
    incoming = events.classify(event)
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        workspace = workspaces.get(session, workspace_id)
        config = load_config(session, workspace_id)
        if isinstance(incoming, events.Post):
            if incoming.channel in config.feedback_channels:
                history.record_post(session, workspace, incoming, now=now)
            return []
        if isinstance(incoming, events.Reply):
            item = _item_for(session, client, workspace, config, incoming.channel, incoming.thread_ts, now)
            if item is None:
                return []
            service.acknowledge(session, workspace, item, kind=AckKind.REPLY, user_id=incoming.user,
                                ref=incoming.ts, now=now)  # fmt: skip
            return [item]
        if isinstance(incoming, events.Deleted):
            if incoming.thread_ts is None and service.forget_message(session, workspace_id, incoming.channel, incoming.ts):
                return []
            affected = service.withdraw_reply(session, workspace, incoming.channel, incoming.ts, now=now)
            item = service.item_at(session, workspace_id, incoming.channel, incoming.thread_ts) if incoming.thread_ts else None
            return [item] if affected and item else []
        if isinstance(incoming, events.Edited):
            service.update_text(session, workspace_id, incoming.channel, incoming.ts, incoming.text)
        return []


def handle_reaction(runtime: Runtime, client: WebClient, workspace_id: int, event: dict, *, added: bool) -> list[FeedbackItem]:
    """An acknowledgement reaction added or removed; other emoji change nothing."""
    found = events.reaction(event)
    if found is None:
        return []
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        workspace = workspaces.get(session, workspace_id)
        config = load_config(session, workspace_id)
        if added and found.name not in config.ack_emoji:
            return []
        if added:
            item = _item_for(session, client, workspace, config, found.channel, found.ts, now)
            if item is None:
                return []
            result = service.acknowledge(session, workspace, item, kind=AckKind.REACTION, user_id=found.user,
                                         ref=found.name, now=now)  # fmt: skip
            return [item] if result.counted else []
        # A removal counts whatever the emoji list says now: it undoes what was counted.
        item = service.item_at(session, workspace_id, found.channel, found.ts)
        if item is None:
            return []
        removed = service.withdraw_acknowledgement(session, workspace, item, kind=AckKind.REACTION,
                                                   user_id=found.user, ref=found.name, now=now)  # fmt: skip
        return [item] if removed else []


def _item_for(session, client, workspace, config, channel: str, ts: str, now) -> FeedbackItem | None:
    """The item at `ts` (its message or its card), catching up on what Heard missed: a
    card whose ts is not recorded yet, or a feedback post whose event has not arrived."""
    item = service.item_at(session, workspace.id, channel, ts)
    if item is None and service.link_cards(session, workspace.id, channel):
        item = service.item_at(session, workspace.id, channel, ts)
    if item is None and channel in config.feedback_channels:
        item = history.capture_missed(session, client, workspace, channel, ts, now=now)
    return item


def _after_change(runtime: Runtime, client: WebClient, items: list[FeedbackItem]) -> None:
    """After the transaction: send what was queued, and show the new status on cards
    (for an inbox event, once its batch has committed: `bot.db.unit.on_commit`)."""
    deliver_due(runtime)
    for item in items:
        on_commit(lambda item=item: refresh_card(runtime, client, item), key=("refresh-card", item.id))


def contributed(runtime: Runtime) -> tuple[CardButton, ...]:
    """The buttons other rooms add to feedback cards (`bot.rooms.CardButton`)."""
    return runtime.rooms.card_buttons("feedback") if runtime.rooms is not None else ()


def refresh_card(runtime: Runtime, client: WebClient, item: FeedbackItem) -> None:
    with runtime.sessions.begin() as session:
        service.link_cards(session, item.workspace_id)
        current = session.get(FeedbackItem, item.id)
        if current is None or not current.card_ts:
            return
        blocks, text = views.card(current, contributed(runtime))
        channel, ts = current.card_channel_id, current.card_ts
    try:
        client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
    except SlackApiError as exc:
        log.info("could not update card of item %s: %s", item.id, exc.response.get("error"))


# -- the shortcut --------------------------------------------------------------------------------


def shortcut_view(runtime: Runtime, client: WebClient, context: BoltContext, request: Interaction) -> dict:
    """The modal for "Log as customer feedback": details to fill in, or why not."""
    channel, ts = request.channel_id, request.message_ts
    if request.message is None or ts is None or channel is None:
        return views.info_modal("Can't log this", "Slack did not say which message this is.")
    message = request.message
    with runtime.sessions() as session:
        item = service.item_at(session, context["workspace_id"], channel, ts)
        config = load_config(session, context["workspace_id"])
        heard = session.get(Workspace, context["workspace_id"]).bot_user_id
        if item is not None:
            return views.info_modal("Already tracked", "Heard already tracks this as customer feedback.", item,
                                    contributed(runtime))  # fmt: skip
    if heard and message.user == heard:
        return views.info_modal("Can't log this", "That is one of Heard's own messages, not customer feedback.")
    text = events.message_text(message.raw)
    if not text.strip():
        return views.info_modal("Nothing to log", "That message has no text (only files or attachments), "
                                "so there is nothing to track. Describe it with `/heard feedback`.")  # fmt: skip
    by_a_person = is_user_id(message.user) and not message.by_a_bot
    author = message.user if by_a_person else None
    bot_name = None if by_a_person else message.bot_name
    metadata = {"c": channel, "ts": ts, "a": author, "bn": bot_name}
    if len(json.dumps(text)) <= MAX_METADATA_TEXT:
        metadata["t"] = text  # else re-read from Slack on submit: private_metadata is small
    card_channel = config.feedback_channels[0] if config.feedback_channels and channel not in config.feedback_channels else None
    return views.log_modal(text, author, seal(metadata, runtime.settings.sealing_secret), card_channel)


def log_submitted(runtime: Runtime, client: WebClient, workspace_id: int, user: str, view: View):
    """Store what the shortcut's modal submitted; returns the view to show and the items."""
    meta = unseal(view.private_metadata, runtime.settings.sealing_secret)
    try:  # None: changed on the way, so not what Heard wrote (a forged reporter, channel or text)
        channel, ts = str(meta["c"]), str(meta["ts"])
    except (KeyError, TypeError):
        log.warning("log-feedback submission by %s with metadata Heard did not write; refused", user)
        return views.info_modal("Can't log this", "Heard lost track of the message; try again."), []
    if not events.valid_ts(ts) or not is_conversation_id(channel):
        return views.info_modal("Can't log this", "Heard lost track of the message; try again."), []
    text = meta.get("t") if isinstance(meta.get("t"), str) else _read_text(client, channel, ts)
    if not text:
        return views.info_modal("Can't log this", "Heard could not read that message's text. "
                                "Copy it into `/heard feedback` instead."), []  # fmt: skip
    author = meta.get("a") if is_user_id(meta.get("a")) else None
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        workspace = session.get(Workspace, workspace_id)
        said = service.Said(
            text=text, said_at=events.ts_time(ts), source=Source.SHORTCUT,
            reporter_user_id=author or user,
            reporter_name=meta.get("bn") if isinstance(meta.get("bn"), str) else None,
            customer=view.values.filled(views.CUSTOMER_INPUT), origin=view.values.filled(views.ORIGIN_INPUT),
            note=view.values.filled(views.NOTE_INPUT), channel_id=channel, message_ts=ts,
            permalink=service.message_link(workspace, channel, ts), logged_by_user_id=user,
        )  # fmt: skip
        captured = service.capture(session, workspace, said, now=now)
        if not captured.created:
            return views.info_modal("Already tracked", "Heard already tracks this as customer feedback.",
                                    captured.item), []  # fmt: skip
        card_channel = service.post_card(session, workspace, captured.item, load_config(session, workspace_id), now=now,
                                         buttons=contributed(runtime))  # fmt: skip
        who = "you" if said.reporter_user_id == user else views.person(said.reporter_user_id)
        where = f" and posted it in {channel_link(card_channel)}" if card_channel else ""
        answer = views.info_modal(
            "Logged",
            f"Logged as customer feedback{where}. Heard will tell {who} when someone acknowledges it.",
        )
    return answer, [captured.item]


def _read_text(client: WebClient, channel: str, ts: str) -> str | None:
    """The message's text, read while Slack waits for the modal's answer (three seconds):
    a rate-limited read is not slept out, the modal says it could not read the message."""
    try:
        with waiting_at_most(0):
            message = any_message(client, channel, ts)
    except SlackApiError as exc:
        log.info("could not read %s/%s: %s", channel, ts, exc.response.get("error"))
        return None
    return (events.message_text(message) or None) if message else None


# -- helpers -------------------------------------------------------------------------------------


def acknowledge_answer(item: FeedbackItem, result: service.AckResult, user: str) -> str:
    if result.newly_acknowledged:
        told = f" {views.reporter(item)} was told." if item.reporter_user_id else ""
        return f"Thanks, you acknowledged this feedback.{told}"
    if result.reason.startswith("the reporter"):
        return "This is your own feedback: someone else has to acknowledge it. You can still resolve it."
    if result.counted or result.reason == "already recorded":
        return f"Noted. It was already acknowledged by {views.person(item.acknowledged_by)}."
    return "Nothing changed."


def _answer(client: WebClient, request: Interaction, respond, text: str, *, item: FeedbackItem | None = None) -> None:
    """Tell the person who pressed a button what happened: ephemerally under a message,
    or by updating the modal the button was in."""
    if request.container_type == "view" and request.view and request.view.id:
        try:
            client.views_update(view_id=request.view.id, hash=request.view.hash,
                                view=views.info_modal("Customer feedback", text, item))  # fmt: skip
        except SlackApiError as exc:
            log.info("could not update view: %s", exc.response.get("error"))
        return
    if request.response_url:
        respond(text=text, response_type="ephemeral", replace_original=False)


def _open(client: WebClient, request: Interaction, view: dict, *, push: bool = False) -> None:
    """Open (or push) a modal. Slack refuses an expired trigger (three seconds) or a second
    use of one: the person sees nothing happen and can press again; that is a log line,
    not a listener's traceback."""
    try:
        if push:
            client.views_push(trigger_id=request.trigger_id, view=view)
        else:
            client.views_open(trigger_id=request.trigger_id, view=view)
    except SlackApiError as exc:
        log.info("could not open a modal: %s", exc.response.get("error"))


# -- App Home --------------------------------------------------------------------------------------


def my_feedback_section(home: HomeContext) -> list[dict]:
    mine = service.feedback_of(home.session, home.workspace.id, home.user_id)
    links = {item.id: service.item_link(home.workspace, item) for item in mine.items}
    return views.home_section(mine, links, home.command)

