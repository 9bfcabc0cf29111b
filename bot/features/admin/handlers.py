"""Bolt listeners for administration. Thin: ack, parse, call the service, reply.

The App Home is composed from every room's sections; admins also get the setup
checklist, whose buttons open modals. A modal is checked in two steps: what needs no
Slack (a name, a schedule) before the ack, so mistakes show in the modal; what needs
Slack (joining a channel, looking a person up) after it, and a refusal then reaches the
admin as a DM, as the slash commands' replies do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.features.admin import commands, service, views
from bot.features.admin.commands import job_catalog, room_settings
from bot.features.admin.service import AdminError
from bot.roles import find_installer
from bot.rooms import HomeContext, RoomContext, SetupRequest
from bot.runtime import Runtime
from bot.slack import outbox
from bot.slack.blocks import truncate
from bot.slack.channels import ChannelUnusable, ensure_postable
from bot.slack.commands import UsageError
from bot.slack.requests import FormValues, interaction_of

log = logging.getLogger(__name__)

SETTINGS = ("stories_channel", "digest_channel", "leaders", "admins", "departments", "schedules")
"""The settings whose App Home buttons and modals belong to this room."""


class FieldError(Exception):
    """A modal field's error: `field` is the input block's id."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class Saved:
    """A modal submission: field errors to show in the modal, or work to do after the ack."""

    errors: dict[str, str] = field(default_factory=dict)
    after: list[Callable[[], None]] = field(default_factory=list)


class AdminRoom:
    """The admin room's listeners' logic, for one running app."""

    def __init__(self, context: RoomContext):
        self.context = context
        self.runtime = context.runtime
        self.command = context.runtime.settings.heard_slash_command

    def publish_home(self, client: WebClient, *, team_id: str, user_id: str) -> None:
        self.context.publish_home(client, team_id, user_id)

    # -- setup modals ---------------------------------------------------------------------------

    def open_setting(self, client: WebClient, *, team_id: str, user_id: str, setting: str, trigger_id: str) -> None:
        """A checklist button: open the modal for `setting` (admins only)."""
        caller = self.context.access(client, team_id, user_id)
        if caller.workspace_id is None:
            return
        if not caller.is_admin:  # a stale Home tab of someone no longer admin: refresh it instead
            self.publish_home(client, team_id=team_id, user_id=user_id)
            return
        with self.runtime.sessions() as session:
            snapshot = service.config_snapshot(session, caller.workspace_id, job_catalog(self.runtime), audit_entries=0)
        view = self._setting_view(client, snapshot, setting)
        if view is not None:
            try:
                client.views_open(trigger_id=trigger_id, view=view)
            except SlackApiError as exc:  # an expired trigger: the admin presses again
                log.info("could not open the %s modal: %s", setting, exc.response.get("error"))

    def _setting_view(self, client: WebClient, snapshot: service.ConfigSnapshot, setting: str) -> dict | None:
        if setting == "stories_channel":
            return views.channel_modal("stories", snapshot.config.stories_channel)
        if setting == "digest_channel":
            return views.channel_modal("digest", snapshot.config.digest_channel)
        if setting == "leaders":
            return views.people_modal("leader", snapshot.leaders)
        if setting == "admins":
            return views.people_modal("admin", snapshot.admins)
        if setting == "departments":
            return views.department_modal(commands.usergroups(client))
        if setting == "schedules":
            return views.schedule_modal(snapshot.schedules, snapshot.time_zone)
        return None

    def check_setting(self, setting: str, values: FormValues) -> dict[str, str]:
        """What a submission gets wrong without asking Slack; shown in the modal."""
        picked = _picked(values)
        try:
            if setting == "stories_channel" and picked.get("channel") is None:
                raise FieldError("channel", "Pick a channel.")
            if setting == "departments":
                try:
                    service.clean_department_name(picked.get("name") or "")
                except AdminError as exc:
                    raise FieldError("name", str(exc)) from None
                if picked.get("channel") is None:
                    raise FieldError("channel", "Pick the department's channel.")
            if setting == "schedules":
                catalog = job_catalog(self.runtime)
                try:
                    service.check_schedule(picked.get("job") or "", picked.get("when") or "", catalog)
                except AdminError as exc:
                    raise FieldError("when", str(exc)) from None
        except FieldError as exc:
            return {exc.field: _plain(exc.message)}
        return {}

    def save_setting(self, client: WebClient, *, team_id: str, user_id: str, setting: str, values: FormValues) -> Saved:
        """A modal submission, after the ack: saved through the service functions the slash
        commands use. A refusal comes back as `errors` for the caller to pass on."""
        caller = self.context.access(client, team_id, user_id)
        if caller.workspace_id is None:
            return Saved({"_": "Heard is not installed here."})
        after = list(caller.after)
        if not caller.is_admin:
            if self.context.people.person(client, team_id, user_id, self.runtime.clock()) is None:
                # Not someone Slack knows here: a DM could not reach them, and its failure
                # would only tell the installer about a stranger.
                log.warning("%s modal submitted in %s by %s, whom Slack does not know there; ignored",
                            setting, team_id, user_id)  # fmt: skip
                return Saved({}, after)
            return Saved({"_": "Only Heard admins can change this."}, after)
        with self.runtime.sessions() as session:
            installer = find_installer(session, caller.workspace_id)
        try:
            saved = self._save(client, caller.workspace_id, installer, user_id, setting, values)
        except (FieldError, AdminError, UsageError) as exc:
            field_name = getattr(exc, "field", None) or "_"
            return Saved({field_name: _plain(getattr(exc, "message", None) or str(exc))}, after)
        saved.after[:0] = after
        return saved

    def _save(self, client, workspace_id, installer, user_id, setting, values) -> Saved:
        picked, now = _picked(values), self.runtime.clock()
        if setting in ("stories_channel", "digest_channel"):
            channel = picked.get("channel")
            if channel is not None:
                _postable(client, channel)
            with self.runtime.sessions.begin() as session:
                service.set_channel(session, workspace_id, setting.split("_")[0], channel, by=user_id, now=now)
            return Saved()
        if setting in ("leaders", "admins"):
            role = "leader" if setting == "leaders" else "admin"
            wanted = [u for u in picked.get("people") or [] if u != installer or role == "leader"]
            with self.runtime.sessions() as session:
                current = service.people_with_role(session, workspace_id, role)
            for person in wanted:
                if person not in current:
                    try:
                        commands.ensure_person(client, person, "")
                    except UsageError as exc:
                        raise FieldError("people", exc.message) from None
            with self.runtime.sessions.begin() as session:
                service.set_role_members(session, workspace_id, role, wanted, by=user_id, now=now)
            return Saved()
        if setting == "departments":
            channel = picked.get("channel")
            _postable(client, channel)
            with self.runtime.sessions.begin() as session:
                try:
                    service.add_department(session, workspace_id, picked.get("name") or "", channel,
                                           picked.get("usergroup"), by=user_id, now=now)  # fmt: skip
                except AdminError as exc:
                    raise FieldError("name", str(exc)) from None
            return Saved()
        if setting == "schedules":
            with self.runtime.sessions.begin() as session:
                try:
                    service.set_schedule(session, workspace_id, picked.get("job") or "", picked.get("when") or "",
                                         catalog=job_catalog(self.runtime), by=user_id, now=now)  # fmt: skip
                except AdminError as exc:
                    raise FieldError("when", str(exc)) from None
            return Saved(after=[self.context.notify])
        raise FieldError("_", "Heard does not know this setting.")

    def tell(self, workspace_id: int | None, user_id: str, setting: str, errors: dict[str, str],
             ref: str | None) -> None:  # fmt: skip
        """A modal refused after its ack: the admin hears why in a DM, through the outbox."""
        if workspace_id is not None:
            text = views.setting_refused(setting, " ".join(errors.values()))
            outbox.follow_up(self.runtime, workspace_id=workspace_id, user_id=user_id, text=text, ref=ref)


def _postable(client: WebClient, channel: str) -> None:
    try:
        ensure_postable(client, channel)
    except ChannelUnusable as exc:
        raise FieldError("channel", str(exc)) from None


def _picked(values: FormValues) -> dict:
    """A modal's state values by block id: the selected channel, option or text (a str), or
    the people picked (a list, in the "people" block).

    Anything not shaped as Slack sends it (a forged submission) reads as nothing picked.
    """
    picked = {}
    for block_id, actions in values.blocks.items():
        for state in actions.values():
            kind = state.get("type")
            if kind == "conversations_select":
                value = state.get("selected_conversation")
            elif kind == "multi_users_select":
                value = state.get("selected_users") or []
                value = [u for u in value if isinstance(u, str)] if isinstance(value, list) else []
            elif kind == "static_select":
                option = state.get("selected_option")
                value = option.get("value") if isinstance(option, dict) else None
            else:
                value = state.get("value")
            # People come as a list, everything else as text: a list under "name" or text
            # under "people" (an element of another type in the block) is nothing picked.
            picked[block_id] = value if isinstance(value, list if block_id == "people" else str) else None
    return picked


def _plain(message: str) -> str:
    """Modal errors are plain text: no mrkdwn code marks or HTML entities."""
    text = message.replace("`", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return truncate(" ".join(text.split()), 150)


# -- what the room declares -----------------------------------------------------------------------


def greet_installer(session: Session, workspace_id: int, user_id: str, now, runtime: Runtime) -> bool:
    """Queue the DM that thanks the installer and shows the setup checklist: once per
    installer (a reinstall by the same person does not greet again)."""
    command = runtime.settings.heard_slash_command
    snapshot = service.config_snapshot(session, workspace_id, job_catalog(runtime), audit_entries=0)
    items = runtime.rooms.checklist(SetupRequest(session, workspace_id, command, runtime))
    text, blocks = views.greeting(user_id, snapshot, items, runtime.rooms.about(), command)
    _, created = outbox.enqueue(
        session, workspace_id=workspace_id, key=f"greeting:{snapshot.team_id}:{user_id}",
        method="chat.postMessage", payload={"channel": user_id, "text": text, "blocks": blocks}, now=now,
    )  # fmt: skip
    return created


def checklist(request: SetupRequest) -> list:
    snapshot = service.config_snapshot(request.session, request.workspace_id, job_catalog(request.runtime),
                                       audit_entries=0)  # fmt: skip
    return views.checklist_items(snapshot, request.command)


def how_heard_works(home: HomeContext) -> list[dict]:
    return views.how_heard_works(home.workspace.name, home.runtime.rooms.about(), home.command)


def admin_setup(home: HomeContext) -> list[dict]:
    """For admins: the setup checklist with buttons, the settings and the last changes."""
    if not home.is_admin:
        return []
    runtime, workspace_id = home.runtime, home.workspace.id
    snapshot = service.config_snapshot(home.session, workspace_id, job_catalog(runtime), audit_entries=3)
    items = runtime.rooms.checklist(SetupRequest(home.session, workspace_id, home.command, runtime))
    settings = room_settings(runtime, home.session, workspace_id, home.command)
    return views.admin_home(snapshot, items, settings, home.now, runtime.rooms.audit_formats())


def register(app: App, context: RoomContext) -> None:
    room = AdminRoom(context)
    runtime, notify = context.runtime, context.notify

    @app.event("app_home_opened")
    def publish_home(event: dict, context: BoltContext, client: WebClient):
        if event.get("tab") != "home" or not isinstance(event.get("user"), str):
            return
        room.publish_home(client, team_id=context.team_id, user_id=event["user"])

    @app.event("app_uninstalled")
    def on_uninstalled(context: BoltContext):
        service.uninstall_workspace(runtime, team_id=context.team_id, enterprise_id=context.enterprise_id)
        notify()

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict, context: BoltContext):
        # Heard holds only bot tokens; losing them is the same as being uninstalled.
        tokens = event.get("tokens")
        if isinstance(tokens, dict) and tokens.get("bot"):
            service.uninstall_workspace(runtime, team_id=context.team_id, enterprise_id=context.enterprise_id)
            notify()

    for setting in SETTINGS:
        _register_setting(app, room, setting)


def _register_setting(app: App, room: AdminRoom, setting: str) -> None:
    @app.action(views.setup_action(setting))
    def open_setting(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        ack()
        request = interaction_of(context, body)
        room.open_setting(client, team_id=context.team_id, user_id=request.user_id,
                          setting=setting, trigger_id=request.trigger_id)  # fmt: skip

    @app.view(views.setting_callback(setting))
    def save_setting(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        request = interaction_of(context, body)
        values = request.view.values
        errors = room.check_setting(setting, values)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        user_id = request.user_id
        saved = room.save_setting(client, team_id=context.team_id, user_id=user_id, setting=setting, values=values)
        if saved.errors:
            room.tell(context.get("workspace_id"), user_id, setting, saved.errors, request.trigger_id)
        for work in saved.after:
            work()
        room.publish_home(client, team_id=context.team_id, user_id=user_id)
