"""Bolt listeners for decision logs. Thin: ack, parse, call the service, send.

The "Log a decision" button (on prompts and nudges) and `/heard decision` open the modal;
its submission is validated and stored in one transaction (errors go back inline, nothing
stored); the linked-feedback picker's options are one indexed search, well inside Slack's
three seconds.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db.models import Workspace
from bot.features.admin import queries as admin
from bot.features.decisions import members, service, views
from bot.features.decisions.kinds import Field
from bot.features.feedback import queries as feedback
from bot.rooms import HomeContext, RoomContext
from bot.runtime import NoTokenForWorkspace, Runtime
from bot.slack.markup import is_conversation_id
from bot.slack.outbox import deliver_due
from bot.slack.requests import Interaction, interaction_of
from bot.slack.sealed import seal, unseal

log = logging.getLogger(__name__)

MAX_QUERY = 100  # characters of a picker search that count; Slack sends up to 10 KB
LINKABLE_FOR = timedelta(days=180)  # the picker offers recent feedback
OPTIONS_SHOWN = 25
METADATA_LIMIT = 3000  # Slack's private_metadata limit


def register(app: App, room: RoomContext) -> None:
    runtime = room.runtime

    @app.action(views.LOG_ACTION)
    def on_log_pressed(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        ack()
        request = interaction_of(context, body)
        open_modal(runtime, client, context["workspace_id"], user_id=request.user_id, channel_id=request.channel_id,
                   trigger_id=request.trigger_id, department=request.value)  # fmt: skip

    @app.view(views.LOG_MODAL)
    def on_log_submitted(ack: Ack, body: dict, context: BoltContext):
        answer = submit(runtime, context["workspace_id"], interaction_of(context, body))
        ack(**answer)
        deliver_due(runtime)

    @app.options(views.LINKS_ACTION)
    def on_links_search(ack: Ack, body: dict, context: BoltContext):
        ack(options=feedback_options(runtime, context["workspace_id"], interaction_of(context, body).value))


def open_modal(runtime: Runtime, client: WebClient, workspace_id: int, *, user_id: str, channel_id: str | None,
               trigger_id: str | None, department: str | None = None) -> bool:  # fmt: skip
    """Open the decision modal, its department preselected from `department` (a prompt's
    button), else the channel it was opened in, else the person's user group. Returns
    False when Slack refused (an expired trigger): the person can try again."""
    with runtime.sessions() as session:
        departments = admin.departments(session, workspace_id)
    command = runtime.settings.heard_slash_command
    if not departments:
        return _open(client, trigger_id, views.no_departments_modal(command))
    names = [d.name for d in departments]
    selected = department if department in names else None
    if selected is None:
        selected = members.preselect(client, departments, user_id, channel_id if is_conversation_id(channel_id) else None)
    channels = {d.name: d.channel_id for d in departments}
    metadata = {"channels": channels} if len(json.dumps(channels)) < METADATA_LIMIT - 100 else {}
    sealed = seal(metadata, runtime.settings.sealing_secret)
    return _open(client, trigger_id, views.decision_modal(names, selected, sealed))


def _open(client: WebClient, trigger_id: str | None, view: dict) -> bool:
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        log.info("could not open the decision modal: %s", exc.response.get("error"))
        return False
    return True


def submission_of(request: Interaction, secret: str) -> service.Submission:
    """The modal's values as the service takes them (shape checked at the edge, nothing
    believed; the departments' channels only from metadata Heard sealed itself)."""
    view = request.view
    values = view.values
    metadata = unseal(view.private_metadata, secret) or {}  # changed on the way: not believed
    channels = metadata.get("channels")
    return service.Submission(
        author_user_id=request.user_id, department=values.selected(Field.DEPARTMENT),
        decided=values.text(Field.DECIDED), impact=values.selected(Field.IMPACT),
        affected=values.text(Field.AFFECTED), evidence=values.text(Field.EVIDENCE),
        feedback_ids=values.selected_values(Field.LINKS), submission_key=view.id, author_name=request.user_name,
        known_channels={str(k): str(v) for k, v in channels.items()} if isinstance(channels, dict) else {},
    )  # fmt: skip


def submit(runtime: Runtime, workspace_id: int, request: Interaction) -> dict:
    """Store what the modal submitted; returns the ack's arguments (inline errors, or the
    modal turned into a confirmation)."""
    submission = submission_of(request, runtime.settings.sealing_secret)
    now = runtime.clock()
    try:
        with runtime.sessions.begin() as session:
            workspace = session.get(Workspace, workspace_id)
            logged = service.log_decision(session, workspace, submission, now=now)
            answer = views.logged_modal(logged.decision, len(logged.linked), again=not logged.created)
    except service.DecisionError as exc:
        return {"response_action": "errors", "errors": {str(k): v for k, v in exc.errors.items()}}
    return {"response_action": "update", "view": answer}


def feedback_options(runtime: Runtime, workspace_id: int, query: object) -> list[dict]:
    """The picker's options for `query`: feedback of the last 180 days whose text or customer
    holds it, newest first.
    A hostile or huge query is cut to its first words and searched as plain text."""
    started = time.monotonic()
    words = " ".join(str(query or "")[:MAX_QUERY].split()) if isinstance(query, str) else ""
    try:
        with runtime.sessions() as session:
            found = feedback.search(session, workspace_id, words, since=runtime.clock() - LINKABLE_FOR,
                                    limit=OPTIONS_SHOWN)  # fmt: skip
    except Exception:  # an options request must get an answer, even an empty one
        log.exception("feedback search for the decision picker failed")
        return []
    elapsed = time.monotonic() - started
    if elapsed > 1:
        log.warning("feedback search for the decision picker took %.1f s", elapsed)
    return [views.feedback_option(item) for item in found]


# -- App Home --------------------------------------------------------------------------------------


def my_departments_section(home: HomeContext) -> list[dict]:
    """Everyone's "your department's recent decisions" (nothing while there are no departments)."""
    departments = admin.departments(home.session, home.workspace.id)
    if not departments:
        return []
    try:
        client = home.runtime.client_for(home.workspace.team_id, home.workspace.enterprise_id)
    except NoTokenForWorkspace:
        return []
    mine = members.departments_of(client, departments, home.user_id)
    decisions = service.recent_decisions(home.session, home.workspace.id, mine)
    return views.home_section(decisions, mine, home.command)
