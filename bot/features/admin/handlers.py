"""Bolt listeners for administration. Thin: parse, ack, call the service, reply.

The `/heard` dispatcher serves every feature's subcommands: it finds the subcommand,
checks admin rights, acks the ephemeral reply within Slack's 3 seconds and runs the
reply's slow work after the ack. The App Home is composed from every feature's
sections; admins also get the setup checklist, whose buttons open modals that save
through the same service functions as the slash commands.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.features.admin import commands, service, views
from bot.features.admin.commands import RESCHEDULING, job_catalog, shown
from bot.features.admin.service import AdminError, JobCatalog
from bot.runtime import Runtime
from bot.slack import outbox
from bot.slack.blocks import truncate
from bot.slack.channels import ChannelUnusable, ensure_postable
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

FEEDBACK_CHANNEL_COMMAND = "feedback-channel"  # the feedback room's; the App Home button runs it
# HomeContext carries no runtime; the Home's session carries it in `session.info`
# (SQLAlchemy's per-session dict) so the admin section can read settings and the clock.
RUNTIME_KEY = "heard.runtime"


def features():
    from bot.features import FEATURES  # the package imports this room: resolve at call time

    return FEATURES


def all_subcommands() -> dict[str, Subcommand]:
    found: dict[str, Subcommand] = {}
    for feature in features():
        for subcommand in getattr(feature, "SUBCOMMANDS", ()):
            found[subcommand.name] = subcommand
    return found


@dataclass
class Dispatched:
    """The ephemeral reply to ack, and the work to do once it is sent."""

    text: str
    blocks: list[dict] | None = None
    after: list[Callable[[], None]] = field(default_factory=list)

    def run_after(self) -> None:
        for work in self.after:
            work()


@dataclass
class Saved:
    """A modal submission: field errors to show in the modal, or work to do after the ack."""

    errors: dict[str, str] = field(default_factory=dict)
    after: list[Callable[[], None]] = field(default_factory=list)


class AdminRoom:
    """The admin room's listeners' logic, for one running app."""

    def __init__(self, runtime: Runtime, *, notify: Callable[[], None]):
        self.runtime = runtime
        self.notify = notify
        self.command = runtime.settings.heard_slash_command
        self.directory = service.AdminDirectory()

    @property
    def catalog(self) -> JobCatalog:
        return job_catalog(self.runtime.settings)

    # -- /heard ---------------------------------------------------------------------------------

    def dispatch(
        self, client: WebClient, *, team_id: str, user_id: str, text: str | None,
        channel_id: str = "", trigger_id: str | None = None,
    ) -> Dispatched:  # fmt: skip
        """Answer one `/heard` invocation. Bad input gets one line and the right usage."""
        words = command_words(text)
        if not words:
            return Dispatched(views.usage_error("Tell Heard what to do.", f"{self.command} help"))
        name = words[0].lower()
        subcommand = all_subcommands().get(name)
        if subcommand is None:
            return Dispatched(views.usage_error(f"Unknown command `{shown(words[0])}`.", f"{self.command} help"))
        now = self.runtime.clock()
        after: list[Callable[[], None]] = []
        with self.runtime.sessions.begin() as session:
            workspace = find_active(session, team_id)
            if workspace is None:  # the workspace guard drops these before they get here
                return Dispatched("Heard is not installed in this workspace.")
            is_admin = self.directory.is_admin(session, client, workspace, user_id, now)
            after += self._first_admin(session, client, workspace, user_id)
            workspace_id, admins = workspace.id, service.known_admins(session, workspace)
        if subcommand.admin_only and not is_admin:
            return Dispatched(views.not_admin(name, admins), after=after)
        request = CommandRequest(
            runtime=self.runtime, client=client, workspace_id=workspace_id, team_id=team_id,
            user_id=user_id, channel_id=channel_id, trigger_id=trigger_id, command=self.command,
            words=words[1:], text=_rest(text or "", name), is_admin=is_admin,
        )  # fmt: skip
        try:
            reply = subcommand.run(request)
        except UsageError as exc:
            usage = exc.usage or subcommand.usage
            return Dispatched(views.usage_error(exc.message, f"{self.command} {usage}"), after=after)
        except ChannelUnusable as exc:
            # A channel Heard cannot use is a bad argument, in any room: show the usage too.
            return Dispatched(views.usage_error(str(exc), f"{self.command} {subcommand.usage}"), after=after)
        except CommandFailed as exc:
            return Dispatched(" ".join(str(exc).split()), after=after)
        if reply.after:
            after.append(reply.after)
        if name in RESCHEDULING:
            after.append(self.notify)
        return Dispatched(reply.text, reply.blocks, after)

    def _first_admin(self, session: Session, client: WebClient, workspace, user_id: str) -> list[Callable[[], None]]:
        """Single-workspace mode: record the first Slack admin who uses Heard as its
        installer (see `service.claim_installer`), greet them, re-plan in their zone."""
        if workspace.installer_user_id is not None:
            return []
        now = self.runtime.clock()
        person = self.directory.person(client, workspace.team_id, user_id, now)
        if person is None or not person.is_admin:
            return []
        if not service.claim_installer(session, workspace.id, user_id, person.time_zone, now):
            return []
        log.info("recorded %s as the installer of %s", user_id, workspace.team_id)
        greet_installer(session, workspace.id, user_id, now=now, command=self.command, catalog=self.catalog)
        return [lambda: outbox.deliver_due(self.runtime), self.notify]

    # -- App Home -------------------------------------------------------------------------------

    def publish_home(self, client: WebClient, *, team_id: str, user_id: str) -> None:
        now = self.runtime.clock()
        with self.runtime.sessions.begin() as session:
            workspace = find_active(session, team_id)
            if workspace is None:
                return
            is_admin = self.directory.is_admin(session, client, workspace, user_id, now)
            after = self._first_admin(session, client, workspace, user_id)
            session.info[RUNTIME_KEY] = self.runtime
            home = HomeContext(session=session, workspace=workspace, user_id=user_id,
                               is_admin=is_admin, command=self.command)  # fmt: skip
            blocks = [
                block
                for feature in features()
                for section in getattr(feature, "HOME_SECTIONS", ())
                for block in section(home)
            ]
        client.views_publish(user_id=user_id, view=views.home_view(blocks))
        for work in after:
            work()

    # -- modals ---------------------------------------------------------------------------------

    def open_setting(self, client: WebClient, *, team_id: str, user_id: str, setting: str, trigger_id: str) -> None:
        """A checklist button: open the modal for `setting` (admins only)."""
        now = self.runtime.clock()
        with self.runtime.sessions() as session:
            workspace = find_active(session, team_id)
            if workspace is None:
                return
            if not self.directory.is_admin(session, client, workspace, user_id, now):
                view = None  # a stale Home tab of someone no longer admin: refresh it instead
            else:
                view = self._setting_view(session, client, workspace, setting)
        if view is None:
            self.publish_home(client, team_id=team_id, user_id=user_id)
            return
        client.views_open(trigger_id=trigger_id, view=view)

    def _setting_view(self, session: Session, client: WebClient, workspace, setting: str) -> dict | None:
        snapshot = service.config_snapshot(session, workspace.id, self.catalog, audit_entries=0)
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
        if setting == "feedback_channel" and FEEDBACK_CHANNEL_COMMAND in all_subcommands():
            return views.feedback_channel_modal()
        return None

    def save_setting(self, client: WebClient, *, team_id: str, user_id: str, setting: str, values: dict) -> Saved:
        """A modal submission, saved through the service functions the slash commands use."""
        now = self.runtime.clock()
        with self.runtime.sessions() as session:
            workspace = find_active(session, team_id)
            if workspace is None:
                return Saved({"_": "Heard is not installed here."})
            if not self.directory.is_admin(session, client, workspace, user_id, now):
                first = next(iter(values), "_")
                return Saved({first: "Only Heard admins can change this."})
            workspace_id, installer = workspace.id, workspace.installer_user_id
        try:
            return self._save(client, workspace_id, installer, team_id, user_id, setting, values, now)
        except (FieldError, AdminError, UsageError, CommandFailed) as exc:
            field_name = getattr(exc, "field", None) or next(iter(values), "_")
            return Saved({field_name: _plain(getattr(exc, "message", None) or str(exc))})

    def _save(self, client, workspace_id, installer, team_id, user_id, setting, values, now) -> Saved:
        picked = _picked(values)
        if setting in ("stories_channel", "digest_channel"):
            channel = picked.get("channel")
            if channel is not None:
                _postable(client, channel)
            elif setting == "stories_channel":
                raise FieldError("channel", "Pick a channel.")
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
            name = picked.get("name") or ""
            try:
                name = service.clean_department_name(name)
            except AdminError as exc:
                raise FieldError("name", str(exc)) from None
            channel = picked.get("channel")
            if channel is None:
                raise FieldError("channel", "Pick the department's channel.")
            _postable(client, channel)
            with self.runtime.sessions.begin() as session:
                try:
                    service.add_department(session, workspace_id, name, channel, picked.get("usergroup"),
                                           by=user_id, now=now)  # fmt: skip
                except AdminError as exc:
                    raise FieldError("name", str(exc)) from None
            return Saved()
        if setting == "schedules":
            with self.runtime.sessions.begin() as session:
                try:
                    service.set_schedule(session, workspace_id, picked.get("job") or "", picked.get("when") or "",
                                         catalog=self.catalog, by=user_id, now=now)  # fmt: skip
                except AdminError as exc:
                    raise FieldError("when", str(exc)) from None
            return Saved(after=[self.notify])
        if setting == "feedback_channel":
            return self._run_feedback_channel(client, workspace_id, team_id, user_id, picked.get("channel"))
        raise FieldError("_", "Heard does not know this setting.")

    def _run_feedback_channel(self, client, workspace_id, team_id, user_id, channel) -> Saved:
        """The feedback room owns feedback channels (adding one backfills its history):
        the modal runs its `/heard feedback-channel add` exactly as if typed."""
        subcommand = all_subcommands().get(FEEDBACK_CHANNEL_COMMAND)
        if subcommand is None or channel is None:
            raise FieldError("channel", "Pick a channel.")
        words = ["add", f"<#{channel}>"]
        request = CommandRequest(
            runtime=self.runtime, client=client, workspace_id=workspace_id, team_id=team_id,
            user_id=user_id, channel_id="", trigger_id=None, command=self.command, words=words,
            text=" ".join(words), is_admin=True,
        )  # fmt: skip
        try:
            reply: CommandReply = subcommand.run(request)
        except UsageError as exc:
            raise FieldError("channel", exc.message) from None
        except CommandFailed as exc:
            raise FieldError("channel", str(exc)) from None
        return Saved(after=[reply.after] if reply.after else [])


class FieldError(Exception):
    """A modal field's error: `field` is the input block's id."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def _postable(client: WebClient, channel: str) -> None:
    try:
        ensure_postable(client, channel)
    except ChannelUnusable as exc:
        raise FieldError("channel", str(exc)) from None


def _picked(values: dict) -> dict:
    """A modal's state values by block id: the selected channel, people, option or text."""
    picked = {}
    for block_id, actions in (values or {}).items():
        for state in actions.values():
            kind = state.get("type")
            if kind == "conversations_select":
                picked[block_id] = state.get("selected_conversation")
            elif kind == "multi_users_select":
                picked[block_id] = state.get("selected_users") or []
            elif kind == "static_select":
                picked[block_id] = (state.get("selected_option") or {}).get("value")
            else:
                picked[block_id] = state.get("value")
    return picked


def _plain(message: str) -> str:
    """Modal errors are plain text: no mrkdwn code marks or HTML entities."""
    text = message.replace("`", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return truncate(" ".join(text.split()), 150)


def greet_installer(session: Session, workspace_id: int, user_id: str, *, now, command: str, catalog: JobCatalog) -> bool:
    """Queue the DM that thanks the installer and shows the setup checklist: once per
    installer (a reinstall by the same person does not greet again)."""
    snapshot = service.config_snapshot(session, workspace_id, catalog, audit_entries=0)
    text, blocks = views.greeting(user_id, snapshot, service.setup_checklist(snapshot), command)
    _, created = outbox.enqueue(
        session, workspace_id=workspace_id, key=f"greeting:{snapshot.team_id}:{user_id}",
        method="chat.postMessage", payload={"channel": user_id, "text": text, "blocks": blocks}, now=now,
    )  # fmt: skip
    return created


def register(app: App, runtime: Runtime, *, notify) -> None:
    room = AdminRoom(runtime, notify=notify)

    @app.event("app_home_opened")
    def publish_home(event: dict, context: BoltContext, client: WebClient):
        if event.get("tab") != "home":
            return
        room.publish_home(client, team_id=context.team_id, user_id=event["user"])

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

    @app.command(runtime.settings.heard_slash_command)
    def heard_command(ack: Ack, command: dict, context: BoltContext, client: WebClient):
        try:
            result = room.dispatch(
                client, team_id=context.team_id, user_id=command["user_id"], text=command.get("text"),
                channel_id=command.get("channel_id", ""), trigger_id=command.get("trigger_id"),
            )  # fmt: skip
        except Exception:
            log.exception("/heard failed for %s in %s", command.get("user_id"), context.team_id)
            ack(response_type="ephemeral", text="Sorry, Heard hit an error doing that; please try again.")
            return
        ack(response_type="ephemeral", text=result.text, blocks=result.blocks)
        result.run_after()  # Bolt has already sent the ack; slow work happens here

    @app.action(re.compile(f"^{views.MODAL_ACTION}:"))
    def open_setting(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        ack()
        setting = body["actions"][0]["action_id"].split(":", 1)[1]
        room.open_setting(client, team_id=context.team_id, user_id=body["user"]["id"],
                          setting=setting, trigger_id=body["trigger_id"])  # fmt: skip

    @app.view(re.compile(f"^{views.MODAL_CALLBACK}:"))
    def save_setting(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        setting = view["callback_id"].split(":", 1)[1]
        user_id = body["user"]["id"]
        saved = room.save_setting(client, team_id=context.team_id, user_id=user_id, setting=setting,
                                  values=(view.get("state") or {}).get("values") or {})  # fmt: skip
        if saved.errors:
            ack(response_action="errors", errors=saved.errors)
            return
        ack()
        for work in saved.after:
            work()
        room.publish_home(client, team_id=context.team_id, user_id=user_id)


def _rest(text: str, name: str) -> str:
    """The raw text after the subcommand's name."""
    stripped = text.replace("\x00", "").strip()
    return stripped[len(name):].strip() if stripped.lower().startswith(name) else stripped


def help_command(request: CommandRequest) -> CommandReply:
    if request.words:
        raise UsageError("`help` takes no arguments.")
    usable = [s for s in all_subcommands().values() if request.is_admin or not s.admin_only]
    lines = [(usage, s.summary if usage == s.usage else "") for s in usable for usage in (s.usage, *s.extra_usages)]
    return CommandReply(views.help_text(request.command, lines))


def how_heard_works(home: HomeContext) -> list[dict]:
    return views.how_heard_works(home.workspace.name, home.command)


def admin_setup(home: HomeContext) -> list[dict]:
    """For admins: the setup checklist with buttons, the settings and the last changes."""
    if not home.is_admin:
        return []
    runtime: Runtime | None = home.session.info.get(RUNTIME_KEY)
    if runtime is None:  # a Home composed outside AdminRoom.publish_home
        return []
    snapshot = service.config_snapshot(home.session, home.workspace.id, job_catalog(runtime.settings),
                                       audit_entries=3)  # fmt: skip
    items = service.setup_checklist(snapshot)
    buttons = {item.key for item in items}
    if FEEDBACK_CHANNEL_COMMAND not in all_subcommands():
        buttons.discard("feedback_channel")
    return views.admin_home(snapshot, items, home.command, runtime.clock(), buttons=buttons)


SUBCOMMANDS = (
    Subcommand("help", "help", "what Heard does and the commands you can run", help_command),
    *commands.ADMIN_SUBCOMMANDS,
)
HOME_SECTIONS = (how_heard_works, admin_setup)
