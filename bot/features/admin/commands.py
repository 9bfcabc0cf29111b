"""The admin room's `/heard` subcommands: parse the words, check what Slack must
confirm (a channel Heard can post in, a real person), call the service, reply.

Every refusal is a `UsageError`: one line saying what was wrong, then the usage of
the form that was meant. Nothing is written before every argument has been checked.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.features.admin import service, views
from bot.features.admin.service import AdminError
from bot.roles import find_installer
from bot.rooms import SetupRequest
from bot.runtime import Runtime
from bot.scheduler.catalog import JobCatalog
from bot.scheduler.catalog import job_catalog as catalog_of
from bot.slack.blocks import channel_link, escape, mention, truncate
from bot.slack.channels import ChannelUnusable, ensure_postable
from bot.slack.commands import Command, CommandReply, CommandRequest, UsageError, shown
from bot.slack.engagement import SLACKBOT
from bot.slack.people import slack_person
from bot.slack.requests import channel_id, user_id, usergroup_id

log = logging.getLogger(__name__)

USAGE = {
    "config": "config",
    "channel": "channel stories|digest #channel|off",
    "department add": "department add NAME #channel [@usergroup]",
    "department remove": "department remove NAME",
    "department list": "department list",
    "leader": "leader add|remove @person",
    "admin": "admin add|remove @person",
    "schedule": 'schedule JOB "mon 10:00"|off',
    "schedule list": "schedule",
    "pause": "pause",
    "resume": "resume",
    "forget": "forget @person",
}
BROADCASTS = ("<!channel", "<!here", "<!everyone")


def job_catalog(runtime: Runtime) -> JobCatalog:
    """The jobs an admin may schedule: the rooms' and those with a default in schedules/."""
    return catalog_of(runtime.settings.heard_schedules_dir, runtime.rooms.registry)


def room_settings(runtime: Runtime, session, workspace_id: int, command: str) -> list[str]:
    """Every room's sections of `/heard config` and the admins' App Home."""
    return runtime.rooms.settings(SetupRequest(session, workspace_id, command, runtime))


# -- arguments ---------------------------------------------------------------------------------


def refusal(exc: AdminError) -> str:
    """A service refusal as reply text: escaped, and short even if it quotes long input."""
    return escape(truncate(" ".join(str(exc).split()), 300))


def no_more(words: list[str], usage: str) -> None:
    if words:
        raise UsageError(f"Unexpected `{shown(' '.join(words))}`.", usage)


def person_word(word: str | None, usage: str) -> str:
    """The user id of an @mention; broadcasts and groups are refused, never echoed raw."""
    if not word:
        raise UsageError("Name a person with @.", usage)
    found = user_id(word)
    if found:
        return found
    if word.startswith(BROADCASTS):
        raise UsageError("Name one person with @, not a whole channel.", usage)
    if usergroup_id(word) or word.startswith("<!subteam"):
        raise UsageError("Name one person with @, not a user group.", usage)
    raise UsageError(f"`{shown(word)}` is not a person; mention them with @.", usage)


def ensure_person(client: WebClient, user: str, usage: str) -> None:
    """The person exists in this workspace, is active and is not an app (Slackbot
    included: users.info says it is no bot, but no one can ask it for anything)."""
    try:
        info = client.users_info(user=user)["user"]
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in ("user_not_found", "users_not_found"):
            raise UsageError("I can't find that person in this workspace.", usage) from None
        raise UsageError(f"Slack would not tell me about that person ({error}).", usage) from None
    person = slack_person(info)
    if person.is_bot or person.user_id == SLACKBOT:
        raise UsageError("That is an app, not a person.", usage)
    if person.deleted:
        raise UsageError("That person's account is deactivated.", usage)


def channel_word(word: str | None, usage: str) -> str:
    if not word:
        raise UsageError("Name a channel with #.", usage)
    found = channel_id(word)
    if found:
        return found
    if word.startswith("#"):
        raise UsageError(f"I don't know `{shown(word)}`; pick the channel from Slack's # list.", usage)
    raise UsageError(f"`{shown(word)}` is not a channel; name it with #.", usage)


def postable_channel(client: WebClient, word: str | None, usage: str) -> str:
    """A channel Heard can post in, joining it if public; refusals say what to do."""
    channel = channel_word(word, usage)
    try:
        ensure_postable(client, channel)
    except ChannelUnusable as exc:
        raise UsageError(str(exc), usage) from None
    return channel


def usergroup_word(client: WebClient, word: str, usage: str) -> str:
    group = usergroup_id(word)
    if not group:
        if user_id(word):
            raise UsageError("Give the department's user group (@group), not a person.", usage)
        if word.startswith(BROADCASTS):
            raise UsageError("Give the department's user group (@group), not a broadcast.", usage)
        raise UsageError(f"`{shown(word)}` is not a user group; name it with @.", usage)
    if group not in dict(usergroups(client)):
        raise UsageError("I can't find that user group in this workspace.", usage)
    return group


def usergroups(client: WebClient) -> list[tuple[str, str]]:
    """(id, handle) of the workspace's active user groups; empty if Slack won't say."""
    try:
        found = client.usergroups_list()["usergroups"]
    except SlackApiError as exc:
        log.warning("usergroups.list failed: %s", exc.response.get("error"))
        return []
    return [(g["id"], g.get("handle") or g.get("name") or g["id"]) for g in found if not g.get("date_delete")]


# -- subcommands --------------------------------------------------------------------------------


def config_command(request: CommandRequest) -> CommandReply:
    no_more(request.words, USAGE["config"])
    now = request.runtime.clock()
    with request.runtime.sessions() as session:
        snapshot = service.config_snapshot(session, request.workspace_id, job_catalog(request.runtime))
        settings = room_settings(request.runtime, session, request.workspace_id, request.command)
    blocks = views.config_blocks(snapshot, settings, request.command, now, request.runtime.rooms.audit_formats())
    return CommandReply(f"Heard settings for {escape(snapshot.workspace_name)}", blocks=blocks)


def channel_command(request: CommandRequest) -> CommandReply:
    usage = USAGE["channel"]
    words = request.words
    if not words:
        raise UsageError("Say which channel: stories or digest.", usage)
    kind = words[0].lower()
    if kind not in service.CHANNEL_KINDS:
        raise UsageError(f"`{shown(words[0])}` is not a Heard channel; use stories or digest.", usage)
    if len(words) < 2:
        raise UsageError(f"Name the {kind} channel with #.", usage)
    no_more(words[2:], usage)
    target = None if words[1].lower() == "off" else postable_channel(request.client, words[1], usage)
    with request.runtime.sessions.begin() as session:
        old = service.set_channel(session, request.workspace_id, kind, target,
                                  by=request.user_id, now=request.runtime.clock())  # fmt: skip
    what = "The weekly customer story" if kind == "stories" else "The leadership digest"
    if target is None:
        text = f"{what} is no longer posted in a channel." + (
            " Leaders still get it by DM." if kind == "digest" else ""
        )
        return CommandReply(text if old else f"{what} had no channel; nothing changed.")
    if old == target:
        return CommandReply(f"{what} is already posted in {channel_link(target)}.")
    return CommandReply(f"{what} will be posted in {channel_link(target)}.")


def department_command(request: CommandRequest) -> CommandReply:
    words = request.words
    action = words[0].lower() if words else ""
    if action == "add":
        return _department_add(request, words[1:])
    if action == "remove":
        name = " ".join(words[1:])
        if len(name) > service.DEPARTMENT_NAME_MAX:
            raise UsageError(f"There is no department called `{shown(name)}`.", USAGE["department remove"])
        if not name:
            raise UsageError("Say which department to remove.", USAGE["department remove"])
        with request.runtime.sessions.begin() as session:
            try:
                removed = service.remove_department(session, request.workspace_id, name,
                                                    by=request.user_id, now=request.runtime.clock())  # fmt: skip
            except AdminError as exc:
                raise UsageError(refusal(exc), USAGE["department remove"]) from None
        return CommandReply(f"Removed the {escape(removed.name)} department. Its logged decisions stay.")
    if action == "list":
        no_more(words[1:], USAGE["department list"])
        with request.runtime.sessions() as session:
            departments = service.list_departments(session, request.workspace_id)
        return CommandReply(views.departments_text(departments, request.command))
    if not words:
        raise UsageError("Say add, remove or list.", USAGE["department add"])
    raise UsageError(f"`{shown(words[0])}` is not add, remove or list.", USAGE["department add"])


def _department_add(request: CommandRequest, words: list[str]) -> CommandReply:
    usage = USAGE["department add"]
    at = next((i for i, word in enumerate(words) if word.startswith(("<#", "#"))), None)
    if at is None:
        if not words:
            raise UsageError("Give the department a name and a channel.", usage)
        raise UsageError("Name the department's channel with #.", usage)
    name_words, channel_text, rest = words[:at], words[at], words[at + 1 :]
    try:
        name = service.clean_department_name(" ".join(name_words))
    except AdminError as exc:
        raise UsageError(str(exc), usage) from None
    if len(rest) > 1:
        no_more(rest[1:], usage)
    channel_word(channel_text, usage)  # the shape first: no Slack call for a typo
    group = usergroup_word(request.client, rest[0], usage) if rest else None
    with request.runtime.sessions() as session:
        taken = {d.name.lower() for d in service.list_departments(session, request.workspace_id)}
    if name.lower() in taken:
        raise UsageError(f"There is already a department called {escape(name)}; remove it first to change it.", usage)
    channel = postable_channel(request.client, channel_text, usage)
    with request.runtime.sessions.begin() as session:
        try:
            added = service.add_department(session, request.workspace_id, name, channel, group,
                                           by=request.user_id, now=request.runtime.clock())  # fmt: skip
        except AdminError as exc:
            raise UsageError(refusal(exc), usage) from None
    return CommandReply(f"Added the department {views.department_line(added)}. "
                        "Its decision prompts go to that channel.")  # fmt: skip


def role_command(role: str):
    usage = USAGE[role]
    label = {"leader": "a leader", "admin": "a Heard admin"}[role]

    def run(request: CommandRequest) -> CommandReply:
        words = request.words
        action = words[0].lower() if words else ""
        if action not in ("add", "remove"):
            what = f"`{shown(words[0])}` is not add or remove." if words else "Say add or remove."
            raise UsageError(what, usage)
        person = person_word(words[1] if len(words) > 1 else None, usage)
        no_more(words[2:], usage)
        now = request.runtime.clock()
        if action == "add":
            ensure_person(request.client, person, usage)
            with request.runtime.sessions.begin() as session:
                added = service.add_role(session, request.workspace_id, role, person, by=request.user_id, now=now)
            if not added:
                return CommandReply(f"{mention(person)} is already {label}.")
            return CommandReply(f"{mention(person)} is now {label}." + (
                " They get the weekly leadership digest." if role == "leader" else ""
            ))  # fmt: skip
        with request.runtime.sessions.begin() as session:
            if role == "admin" and find_installer(session, request.workspace_id) == person:
                raise UsageError("The person who installed Heard is always a Heard admin.", usage)
            removed = service.remove_role(session, request.workspace_id, role, person, by=request.user_id, now=now)
        if not removed:
            extra = " Workspace admins and owners always are." if role == "admin" else ""
            raise UsageError(f"That person is not {label} in Heard.{extra}", usage)
        return CommandReply(f"{mention(person)} is no longer {label}.")

    return run


def schedule_command(request: CommandRequest) -> CommandReply:
    usage = USAGE["schedule"]
    runtime = request.runtime
    catalog = job_catalog(runtime)
    now = runtime.clock()
    if not request.words:
        with runtime.sessions() as session:
            snapshot = service.config_snapshot(session, request.workspace_id, catalog, audit_entries=0)
        return CommandReply(views.schedules_text(snapshot.schedules, snapshot.time_zone, now,
                                                 snapshot.paused, request.command))  # fmt: skip
    job = request.words[0].lower()
    if len(request.words) < 2:
        if job not in catalog.names:
            raise UsageError(f"There is no job called `{shown(request.words[0])}`. Jobs: {', '.join(catalog.names)}.", usage)
        raise UsageError(f'Say when `{escape(job)}` should run, e.g. "mon 10:00", or off.', usage)
    if job not in catalog.names:
        raise UsageError(f"There is no job called `{shown(request.words[0])}`. Jobs: {', '.join(catalog.names)}.", usage)
    when = " ".join(request.words[1:])
    with runtime.sessions.begin() as session:
        try:
            cadence = service.set_schedule(session, request.workspace_id, job, when, catalog=catalog,
                                           by=request.user_id, now=now)  # fmt: skip
        except AdminError as exc:
            raise UsageError(refusal(exc), usage) from None
        snapshot = service.config_snapshot(session, request.workspace_id, catalog, audit_entries=0)
    if cadence.off:
        return CommandReply(f"`{escape(job)}` is off for this workspace. "
                            f"Turn it back on with `{request.command} schedule {escape(job)} \"mon 10:00\"`.")  # fmt: skip
    [row] = [r for r in snapshot.schedules if r.job == job]
    upcoming = cadence.trigger(snapshot.time_zone).get_next_fire_time(None, now)
    when = (f"Next run: {views.local_time(upcoming, snapshot.time_zone)}." if row.registered
            else "It starts once its feature is installed.")  # fmt: skip
    return CommandReply(f"`{escape(job)}` now runs {cadence} ({escape(snapshot.time_zone)}). {when}")


def pause_command(paused: bool):
    def run(request: CommandRequest) -> CommandReply:
        no_more(request.words, USAGE["pause" if paused else "resume"])
        with request.runtime.sessions.begin() as session:
            changed = service.set_paused(session, request.workspace_id, paused,
                                         by=request.user_id, now=request.runtime.clock())  # fmt: skip
        if paused:
            if not changed:
                return CommandReply(f"Heard is already paused. `{request.command} resume` restarts it.")
            return CommandReply("Heard is paused: no scheduled posts in this workspace until "
                                f"`{request.command} resume`. Feedback is still recorded.")  # fmt: skip
        if not changed:
            return CommandReply("Heard is already running.")
        return CommandReply("Heard is running again: scheduled posts resume at their next time.")

    return run


def forget_command(request: CommandRequest) -> CommandReply:
    usage = USAGE["forget"]
    person = person_word(request.words[0] if request.words else None, usage)
    no_more(request.words[1:], usage)
    with request.runtime.sessions.begin() as session:
        report = service.forget_person(session, request.workspace_id, person, rooms=request.runtime.rooms,
                                       by=request.user_id, now=request.runtime.clock())  # fmt: skip
    return CommandReply(views.forget_text(person, report))


COMMANDS = (
    Command("config", USAGE["config"], "every setting of this workspace and the last changes",
            config_command, admin_only=True),
    Command("channel", USAGE["channel"], "where the weekly story and the leadership digest are posted",
            channel_command, admin_only=True),
    Command("department", USAGE["department add"], "departments that log decisions",
            department_command, admin_only=True,
            extra_usages=(USAGE["department remove"], USAGE["department list"])),
    Command("leader", USAGE["leader"], "who gets the weekly leadership digest",
            role_command("leader"), admin_only=True),
    Command("admin", USAGE["admin"], "who else may configure Heard",
            role_command("admin"), admin_only=True),
    Command("schedule", USAGE["schedule"], "when each job runs, in this workspace's time zone",
            schedule_command, admin_only=True, extra_usages=(USAGE["schedule list"],), reschedules=True),
    Command("pause", USAGE["pause"], "stop every scheduled post in this workspace",
            pause_command(True), admin_only=True, reschedules=True),
    Command("resume", USAGE["resume"], "restart scheduled posts", pause_command(False), admin_only=True,
            reschedules=True),
    Command("forget", USAGE["forget"], "delete a person's personal data", forget_command, admin_only=True),
)  # fmt: skip
