"""Bolt listeners for customer stories. Thin: ack, parse, call the service, send.

Reaction and message listeners claim only events on story posts (a reaction on one, a
reply in its thread or that reply deleted), read through the shared
:mod:`bot.slack.engagement`; the room's `owns_message` tells other rooms the same, so a
stories channel that is also a feedback channel counts both rooms' events.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import workspaces
from bot.db.models import Workspace
from bot.features.feedback import queries as feedback
from bot.features.stories import service, views
from bot.features.stories.models import Story
from bot.rooms import HomeContext, RoomContext
from bot.runtime import Runtime
from bot.slack import engagement
from bot.slack.outbox import deliver_due
from bot.slack.requests import MAX_INTEGER, FormValues, Interaction, View, interaction_of, record_id

log = logging.getLogger(__name__)


def register(app: App, room: RoomContext) -> None:
    runtime = room.runtime

    def concerns_stories(body: dict, context: BoltContext) -> bool:
        act = engagement.engagement(body.get("event") or {})
        about, workspace_id = engagement.engaged_ts(act), context.get("workspace_id")
        if about is None or workspace_id is None:
            return False
        with runtime.sessions() as session:
            return service.is_story_message(session, workspace_id, act.channel, about)

    @app.event("message", matchers=[concerns_stories])
    def on_message(event: dict, context: BoltContext):
        count_engagement(runtime, context["workspace_id"], event)

    @app.event("reaction_added", matchers=[concerns_stories])
    def on_reaction_added(event: dict, context: BoltContext):
        count_engagement(runtime, context["workspace_id"], event)

    @app.event("reaction_removed", matchers=[concerns_stories])
    def on_reaction_removed(event: dict, context: BoltContext):
        count_engagement(runtime, context["workspace_id"], event)

    @app.view(views.ADD_MODAL)
    def on_story_submitted(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        user = interaction_of(context, body).user_id
        caller = room.access(client, context.team_id, user)
        answer = story_submitted(runtime, context["workspace_id"], user, caller.is_admin, view)
        if "errors" in answer:
            return ack(response_action="errors", errors=answer["errors"])
        ack(response_action="update", view=answer["view"])
        deliver_due(runtime)

    @app.action(views.APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        ack()
        _review(runtime, room, client, body, context, respond, approve=True)

    @app.action(views.DISCARD_ACTION)
    def on_discard(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        ack()
        _review(runtime, room, client, body, context, respond, approve=False)

    @app.action(views.EDIT_ACTION)
    def on_edit(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        ack()
        request = interaction_of(context, body)
        if not room.access(client, context.team_id, request.user_id).is_admin:
            return _reply(request, respond, "Only Heard admins review stories.")
        with runtime.sessions() as session:
            try:
                story = service.find_story(session, context["workspace_id"], request.action_record_id)
            except service.StoryError as exc:
                return _reply(request, respond, str(exc))
            fields = {name: getattr(story, name) for name in (*service.LIMITS, "anonymous")}
        _open(client, body, views.story_modal(fields, {"edit": story.id}, editing=True))

    @app.action(views.FROM_FEEDBACK_ACTION)
    def on_story_from_feedback(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        """"Turn into a story" on a feedback card: the story modal, prefilled from the item."""
        ack()
        request = interaction_of(context, body)
        with runtime.sessions() as session:
            found = feedback.by_ids(session, context["workspace_id"], [request.value or ""])
        if not found:
            if request.response_url:
                respond(text="That feedback is no longer in Heard, so there is nothing to turn into a story.",
                        response_type="ephemeral", replace_original=False)  # fmt: skip
            return
        item = found[0]
        modal = views.story_modal(views.feedback_fields(item.text, item.customer, item.permalink),
                                  {"source": "feedback", "item": int(item.id)})  # fmt: skip
        _open(client, body, modal, push=request.container_type == "view")

    @app.action(views.REFLECT_ACTION)
    def on_reflect(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond):
        ack()
        request = interaction_of(context, body)
        with runtime.sessions() as session:
            try:
                post = service.find_post(session, context["workspace_id"], request.action_record_id)
            except service.StoryError as exc:
                return _reply(request, respond, str(exc))
            modal = views.reflect_modal(session.get(Story, post.story_id), post.id)
        _open(client, body, modal)

    @app.view(views.REFLECT_MODAL)
    def on_reflection(ack: Ack, body: dict, view: dict, context: BoltContext):
        answer = reflection_submitted(runtime, context["workspace_id"], interaction_of(context, body).user_id, view)
        if "errors" in answer:
            return ack(response_action="errors", errors=answer["errors"])
        ack(response_action="update", view=answer["view"])
        deliver_due(runtime)


# -- engagement ---------------------------------------------------------------------------------


def count_engagement(runtime: Runtime, workspace_id: int, event: dict) -> bool:
    """Count or withdraw one reaction or reply on a story post; True when something changed."""
    act = engagement.engagement(event)
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        workspace = workspaces.get(session, workspace_id)
        if isinstance(act, engagement.Deleted):
            return act.thread_ts is not None and service.withdraw_reply(session, workspace_id, act.channel, act.ts)
        if isinstance(act, engagement.Reply):
            post = service.post_at(session, workspace, act.channel, act.thread_ts, now=now)
            return post is not None and service.engage(session, workspace, post, kind="reply", user_id=act.user,
                                                       ref=act.ts, now=now)  # fmt: skip
        if isinstance(act, engagement.Reaction):
            post = service.post_at(session, workspace, act.channel, act.ts, now=now)
            if post is None:
                return False
            if act.added:
                return service.engage(session, workspace, post, kind="reaction", user_id=act.user, ref=act.name,
                                      now=now)  # fmt: skip
            return service.withdraw(session, post, kind="reaction", user_id=act.user, ref=act.name)
    return False


# -- modals ---------------------------------------------------------------------------------------


def _values(view: dict) -> FormValues:
    return FormValues.of(view.get("state"))  # shape-checked (bot.slack.requests)


def _text(view: dict, block_id: str) -> str:
    return _values(view).text(block_id) or ""


def _checked(view: dict, block_id: str) -> bool:
    return _values(view).checked(block_id)


def _metadata(view: dict) -> dict:
    return View.of(view).metadata()


def story_submitted(runtime: Runtime, workspace_id: int, user: str, is_admin: bool, view: dict) -> dict:
    """Store what the story modal submitted (a new story, or an admin's edit); returns
    {"errors": …} for the modal, or {"view": …} to show."""
    draft = service.StoryDraft(
        title=_text(view, views.TITLE), customer=_text(view, views.CUSTOMER),
        what_happened=_text(view, views.HAPPENED), learned=_text(view, views.LEARNED),
        link=_text(view, views.LINK), anonymous=_checked(view, views.ANONYMOUS),
    )  # fmt: skip
    meta, now = _metadata(view), runtime.clock()
    try:
        with runtime.sessions.begin() as session:
            workspace = session.get(Workspace, workspace_id)
            if meta.get("edit") is not None:
                if not is_admin:
                    return {"view": views.info_modal("Not saved", "Only Heard admins edit stories.")}
                story = service.edit_story(session, workspace_id, record_id(meta["edit"]), draft, user_id=user, now=now)
                return {"view": views.info_modal("Story saved", views.reviewed(story))}
            item = _feedback_item(session, workspace_id, record_id(meta.get("item"), MAX_INTEGER))
            submitted = service.submit_story(
                session, workspace, draft, user_id=user, is_admin=is_admin, now=now, submit_key=View.of(view).id,
                source="feedback" if item is not None else "command", feedback_item_id=item,
            )  # fmt: skip
            title, message = views.submitted(submitted.story, created=submitted.created, is_admin=is_admin)
    except service.StoryInvalid as exc:
        return {"errors": exc.errors}
    except service.StoryError as exc:
        return {"view": views.info_modal("Not saved", str(exc))}
    return {"view": views.info_modal(title, message)}


def _feedback_item(session, workspace_id: int, item: int | None) -> int | None:
    """The feedback item a story modal was opened from ("Turn into a story"), if it is this
    workspace's: the modal's metadata comes back from Slack, and an id from elsewhere links
    nothing. A person's modal is never a machine draft, whatever its metadata says."""
    if item is None:
        return None
    return item if feedback.by_ids(session, workspace_id, [str(item)]) else None


def reflection_submitted(runtime: Runtime, workspace_id: int, user: str, view: dict) -> dict:
    now = runtime.clock()
    try:
        with runtime.sessions.begin() as session:
            workspace = session.get(Workspace, workspace_id)
            post = service.find_post(session, workspace_id, record_id(_metadata(view).get("post")))
            shared = _checked(view, views.SHARE)
            service.reflect(session, workspace, post, user_id=user, text=_text(view, views.REFLECTION),
                            shared=shared, submit_key=View.of(view).id, now=now)  # fmt: skip
    except service.StoryInvalid as exc:
        return {"errors": {views.REFLECTION: next(iter(exc.errors.values()))}}
    except service.StoryError as exc:
        return {"view": views.info_modal("Not saved", str(exc))}
    return {"view": views.info_modal("Thanks", views.reflected(shared))}


def _review(runtime: Runtime, room: RoomContext, client: WebClient, body: dict, context: BoltContext, respond, *,
            approve: bool) -> None:  # fmt: skip
    request = interaction_of(context, body)
    user = request.user_id
    if not room.access(client, context.team_id, user).is_admin:
        _reply(request, respond, "Only Heard admins review stories.")
        return
    try:
        with runtime.sessions.begin() as session:
            story = service.review(session, context["workspace_id"], request.action_record_id, approve=approve,
                                   user_id=user, now=runtime.clock())  # fmt: skip
            text = views.reviewed(story)
    except service.StoryError as exc:
        text = str(exc)
    _reply(request, respond, text)


def _reply(request: Interaction, respond, text: str) -> None:
    """An ephemeral answer under the message the button is on. Slack sends a response_url
    with every message button; a payload without one has nowhere to be answered (Bolt's
    `respond` raises there), so it is a log line."""
    if request.response_url:
        respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        log.info("a story button's payload has no response_url; not answered")


def _open(client: WebClient, body: dict, view: dict, *, push: bool = False) -> None:
    """Open a modal (push it over the modal the button was in); an expired or used-up
    trigger is a log line (the person presses again)."""
    try:
        if push:
            client.views_push(trigger_id=body.get("trigger_id"), view=view)
        else:
            client.views_open(trigger_id=body.get("trigger_id"), view=view)
    except SlackApiError as exc:
        log.info("could not open a modal: %s", exc.response.get("error"))


# -- App Home ---------------------------------------------------------------------------------------


def stories_section(home: HomeContext) -> list[dict]:
    session, workspace = home.session, home.workspace
    latest = service.latest_post(session, workspace.id)
    story = session.get(Story, latest.story_id) if latest else None
    counts = service.engagement_of(session, [latest.id]) if latest else None
    entries = service.bank(session, workspace.id) if home.is_admin else None
    return views.home_section(story, counts, entries, home.command)
