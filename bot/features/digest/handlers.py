"""Bolt listeners for the digest's buttons. Thin: ack, parse, call the service, send.

- **Acknowledge** counts like the card's button (the feedback room's rule, through its
  queries): the reporter is told once, and the presser gets an ephemeral answer.
- **Assign to department…** opens a modal to pick the department; its submission
  records who asked which department, and where, and posts the item in that
  department's channel (`delivery.assign_to_department`).
- **Resolve…** opens a modal for an optional note; its submission closes the item through
  the feedback room's queries (`resolve_by_button`), the rule of the card's own Resolve:
  anyone in the workspace may, resolving also acknowledges, and the reporter is told once.
  The item id travels sealed in the modal, so a forged submission is refused.
- **Open thread** is a link button: Slack opens the URL and still sends an action,
  which is acknowledged so Slack shows no warning.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db.models import Workspace
from bot.features.digest import delivery, views
from bot.features.feedback import queries as feedback
from bot.rooms import RoomContext
from bot.runtime import Runtime
from bot.slack.blocks import escape
from bot.slack.outbox import deliver_due
from bot.slack.requests import interaction_of
from bot.slack.sealed import seal, unseal

log = logging.getLogger(__name__)


def register(app: App, room: RoomContext) -> None:
    runtime = room.runtime

    @app.action(views.ACKNOWLEDGE_ACTION)
    def on_acknowledge(ack: Ack, body: dict, context: BoltContext, respond):
        ack()
        request = interaction_of(context, body)
        text = acknowledge(runtime, context["workspace_id"], request.value, request.user_id)
        if request.response_url:
            respond(text=text, response_type="ephemeral", replace_original=False)
        deliver_due(runtime)

    @app.action(views.ASSIGN_ACTION)
    def on_assign(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        ack()
        request = interaction_of(context, body)
        view = assign_view(runtime, context["workspace_id"], request.value, request.channel_id)
        try:
            client.views_open(trigger_id=request.trigger_id, view=view)
        except SlackApiError as exc:  # an expired trigger: the person can press again
            log.info("could not open the assign modal: %s", exc.response.get("error"))

    @app.action(views.RESOLVE_ACTION)
    def on_resolve(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        ack()
        request = interaction_of(context, body)
        view, refusal = resolve_view(runtime, context["workspace_id"], request.value)
        if refusal:
            if request.response_url:
                respond(text=refusal, response_type="ephemeral", replace_original=False)
            return
        try:
            client.views_open(trigger_id=request.trigger_id, view=view)
        except SlackApiError as exc:  # an expired trigger: the person can press again
            log.info("could not open the resolve modal: %s", exc.response.get("error"))

    @app.view(views.RESOLVE_MODAL)
    def on_resolve_submitted(ack: Ack, body: dict, context: BoltContext):
        request = interaction_of(context, body)
        ack(**resolve_submitted(runtime, context["workspace_id"], request))
        deliver_due(runtime)

    @app.action(views.OPEN_ACTION)
    def on_open(ack: Ack):
        ack()  # a link button: Slack opened the thread itself

    @app.view(views.ASSIGN_MODAL)
    def on_assign_submitted(ack: Ack, body: dict, context: BoltContext):
        request = interaction_of(context, body)
        ack(**assign_submitted(runtime, context["workspace_id"], request))
        deliver_due(runtime)


def acknowledge(runtime: Runtime, workspace_id: int, item_id: str | None, user_id: str) -> str:
    """Acknowledge the item for `user_id`; returns what to tell them."""
    with runtime.sessions.begin() as session:
        try:
            result = feedback.acknowledge_by_button(session, workspace_id, item_id or "", user_id=user_id,
                                                    now=runtime.clock())  # fmt: skip
        except feedback.UnknownFeedback as exc:
            return str(exc)
    if result.counted:
        return "Acknowledged. The person who shared it is told that you saw it."
    if result.reason.startswith("the reporter"):
        return "This is your own feedback: someone else has to acknowledge it."
    if result.reason == "already recorded":
        return "You had already acknowledged it."
    return f"Nothing changed ({escape(result.reason)})."


def resolve_view(runtime: Runtime, workspace_id: int, item_id: str | None) -> tuple[dict | None, str | None]:
    """The resolve modal for an item, or what to tell the presser instead."""
    with runtime.sessions() as session:
        found = feedback.by_ids(session, workspace_id, [item_id or ""])
    if not found:
        return None, "That feedback item does not exist any more."
    if found[0].status == feedback.ItemStatus.RESOLVED:
        return None, "That feedback was already resolved."
    sealed = seal({"item": found[0].id}, runtime.settings.sealing_secret)
    return views.resolve_modal(found[0].text, sealed), None


def resolve_submitted(runtime: Runtime, workspace_id: int, request) -> dict:
    """Resolve the item the modal was opened for; returns the ack's arguments."""
    metadata = unseal(request.view.private_metadata, runtime.settings.sealing_secret) or {}
    item_id = metadata.get("item")
    note = request.view.values.filled(views.RESOLUTION_INPUT)
    if not isinstance(item_id, str):
        return {"response_action": "errors", "errors": {views.RESOLUTION_INPUT: "That feedback item does not exist."}}
    try:
        with runtime.sessions.begin() as session:
            result = feedback.resolve_by_button(session, workspace_id, item_id, user_id=request.user_id, note=note,
                                                now=runtime.clock())  # fmt: skip
    except feedback.UnknownFeedback as exc:
        return {"response_action": "errors", "errors": {views.RESOLUTION_INPUT: str(exc)}}
    if not result.resolved:
        return {"response_action": "errors", "errors": {views.RESOLUTION_INPUT: result.reason}}
    return {"response_action": "update",
            "view": views.info_modal("Resolved", "Resolved. The person who shared it is told who resolved it.")}  # fmt: skip


def assign_view(runtime: Runtime, workspace_id: int, item_id: str | None, where: str | None) -> dict:
    """The department picker for an item, or why there is none."""
    command = runtime.settings.heard_slash_command
    with runtime.sessions() as session:
        names = delivery.department_names(session, workspace_id)
        found = feedback.by_ids(session, workspace_id, [item_id or ""])
    if not found:
        return views.info_modal("Assign feedback", "That feedback item does not exist any more.")
    if not names:
        return views.info_modal("Assign feedback", "There are no departments yet; an admin adds them with "
                                f"`{escape(command)} department add NAME #channel`.")  # fmt: skip
    sealed = seal({"item": found[0].id, "where": where}, runtime.settings.sealing_secret)
    return views.assign_modal(found[0].text, names, sealed)


def assign_submitted(runtime: Runtime, workspace_id: int, request) -> dict:
    """Record the assignment the modal submitted; returns the ack's arguments."""
    metadata = unseal(request.view.private_metadata, runtime.settings.sealing_secret) or {}
    item_id, where = metadata.get("item"), metadata.get("where")
    department = request.view.values.selected(views.DEPARTMENT_INPUT)
    if not isinstance(item_id, str) or not department:
        return {"response_action": "errors", "errors": {views.DEPARTMENT_INPUT: "Choose a department."}}
    try:
        with runtime.sessions.begin() as session:
            workspace = session.get(Workspace, workspace_id)
            assigned = delivery.assign_to_department(
                session, workspace, item_id, department, by=request.user_id,
                where=where if isinstance(where, str) else None, now=runtime.clock(),
            )  # fmt: skip
    except delivery.DigestError as exc:
        return {"response_action": "errors", "errors": {views.DEPARTMENT_INPUT: str(exc)}}
    return {"response_action": "update", "view": views.info_modal("Assigned", delivery.assigned_reply(assigned))}
