"""The `/heard` router: every room's forms, one dispatcher.

A room declares its forms (:class:`Command`): the words that select it (`feedback`,
`story add`, `story now`), its usage, a summary for `/heard help`, whether only admins
may run it, and the function that runs it. The router picks the longest form whose
words start the text, so `story add` (anyone) and `story now` (admins) live side by
side; two rooms declaring one form fail at start-up with one line naming both.

Slack gives a slash command three seconds. The router answers at once when the text
names no form (a one-line error and the usage); otherwise it acks empty, and only then
asks Slack who the caller is, runs the form and sends the ephemeral reply through the
command's `response_url`. Work a form leaves for later (`CommandReply.after`) runs
after that reply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.slack.blocks import escape, mention, truncate
from bot.slack.requests import command_words

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

_FORM_WORD = re.compile(r"^[a-z][a-z0-9-]*$")  # what people can type after /heard
SORRY = "Sorry, Heard hit an error doing that; please try again."


class UsageError(Exception):
    """Bad arguments: the reply is the message and the form's usage, on one line."""

    def __init__(self, message: str, usage: str | None = None):
        super().__init__(message)
        self.message = message
        self.usage = usage


class CommandFailed(Exception):
    """A well-formed command that cannot be done (unknown channel, nothing to remove…)."""


class DuplicateCommand(Exception):
    """Two rooms declared the same `/heard` form."""


@dataclass
class CommandRequest:
    """One `/heard` invocation, already tied to an installed workspace."""

    runtime: Runtime
    client: WebClient
    workspace_id: int
    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str | None
    command: str  # "/heard" (HEARD_SLASH_COMMAND)
    words: list[str]  # the words after the form's name, quotes removed
    text: str  # the raw text after the form's name
    is_admin: bool = False


@dataclass
class CommandReply:
    """The ephemeral answer; `after` runs once it has been sent (slow work)."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    after: Callable[[], None] | None = None


@dataclass(frozen=True)
class Command:
    """One `/heard` form."""

    name: str  # the words that select it: "feedback", "feedback-channel", "story add"
    usage: str  # after the command: 'feedback TEXT [customer:NAME] [source:SOURCE]'
    summary: str  # one line for `/heard help`
    run: Callable[[CommandRequest], CommandReply]
    admin_only: bool = False
    extra_usages: tuple[str, ...] = ()  # further shapes of the same form, shown in help
    reschedules: bool = False  # the running scheduler re-reads its plan after it

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.lower().split())


@dataclass(frozen=True)
class Match:
    command: Command
    words: list[str]  # what follows the form's words


class CommandRouter:
    """Every room's forms, found by their leading words."""

    def __init__(self, forms: Iterable[tuple[str, Command]]):
        self._forms: dict[tuple[str, ...], Command] = {}
        owners: dict[tuple[str, ...], str] = {}
        for room, command in forms:
            key = command.words
            if not key or not all(_FORM_WORD.match(word) for word in key):
                raise ValueError(f"the {room} room declares /heard {command.name!r}: use lower-case words")
            if key in owners or key == ("help",):
                first = owners.get(key, "core")
                raise DuplicateCommand(
                    f"/heard {command.name} is declared by both the {first} and the {room} rooms"
                )
            self._forms[key], owners[key] = command, room

    def __iter__(self):
        return iter(self._forms.values())

    def match(self, words: list[str]) -> Match | None:
        """The longest form whose words start `words`, and the words after it."""
        lowered = [word.lower() for word in words]
        for length in range(len(lowered), 0, -1):
            command = self._forms.get(tuple(lowered[:length]))
            if command is not None:
                return Match(command, words[length:])
        return None

    def forms_starting(self, word: str) -> list[Command]:
        return [c for key, c in self._forms.items() if key[0] == word.lower()]

    def usable(self, is_admin: bool) -> list[Command]:
        return [c for c in self._forms.values() if is_admin or not c.admin_only]


# -- replies ----------------------------------------------------------------------------------


def shown(word: str, limit: int = 40) -> str:
    """A word the caller typed, safe to quote back inside backticks."""
    return escape(truncate(word.replace("`", "'").replace("\n", " "), limit))


def usage_error(message: str, usage: str) -> str:
    """One line: what was wrong, then the right usage."""
    flat = " ".join(message.split())
    return f"{flat} Usage: `{usage}`"


def not_admin(form: str, admins: list[str]) -> str:
    """The refusal for a non-admin: names who can help, changes nothing."""
    named = ", ".join(mention(user) for user in admins)
    who = f"{named} or a workspace admin or owner" if named else "a workspace admin or owner"
    return f"Only Heard admins can use `{escape(form)}`. Ask {who}."


def help_text(command: str, commands: list[Command], intro: str = "") -> str:
    """The reply to `/heard help`: what Heard does (`intro`, from the rooms) and the
    commands this person may run."""
    lines = [
        f"*Heard* keeps your company close to its customers. {intro}".strip(),
        "",
        "*Commands*",
        f"• `{command} help` — what Heard does and the commands you can run",
    ]
    for form in commands:
        lines.append(f"• `{command} {form.usage}` — {form.summary}")
        lines += [f"• `{command} {usage}`" for usage in form.extra_usages]
    return "\n".join(lines)


def unknown(router: CommandRouter, command: str, words: list[str]) -> str:
    """The one-line answer to text that names no form."""
    if not words:
        return usage_error("Tell Heard what to do.", f"{command} help")
    near = router.forms_starting(words[0])
    if near:
        usages = " | ".join(f"{command} {form.usage}" for form in near)
        return usage_error(f"`{shown(' '.join(words[:2]))}` is not a Heard command.", usages)
    return usage_error(f"Unknown command `{shown(words[0])}`.", f"{command} help")


def _rest(text: str, count: int) -> str:
    """The raw text after the form's `count` words."""
    parts = text.replace("\x00", "").strip().split(None, count)
    return parts[count].strip() if len(parts) > count else ""


# -- dispatch -----------------------------------------------------------------------------------


@dataclass
class Dispatched:
    """The ephemeral reply, and the work to do once it is sent."""

    text: str
    blocks: list[dict] | None = None
    after: list[Callable[[], None]] = field(default_factory=list)

    def run_after(self) -> None:
        for work in self.after:
            try:
                work()
            except Exception:
                log.exception("work after a /heard reply failed")


Access = Callable[["WebClient", str, str], "Caller"]


@dataclass
class Caller:
    """Who is running a command: their workspace, whether they are a Heard admin, and
    whom to name when they are not. `after` holds work their arrival caused (the first
    admin of a single-workspace install is greeted)."""

    workspace_id: int | None
    is_admin: bool
    admins: Callable[[], list[str]]
    after: list[Callable[[], None]] = field(default_factory=list)


class SlashDispatcher:
    """Runs one `/heard` invocation against the router."""

    def __init__(self, runtime: Runtime, router: CommandRouter, access: Access, *,
                 notify: Callable[[], None], intro: str = ""):  # fmt: skip
        self.runtime = runtime
        self.intro = intro  # what the installed rooms do, for `/heard help`
        self.router = router
        self.access = access
        self.notify = notify
        self.command = runtime.settings.heard_slash_command

    def quick_answer(self, text: str | None) -> str | None:
        """The reply when the text names no form: Slack needs nothing to know it."""
        words = command_words(text)
        if words and (words[0].lower() == "help" or self.router.match(words)):
            return None
        return unknown(self.router, self.command, words)

    def dispatch(self, client: WebClient, *, team_id: str, user_id: str, text: str | None,
                 channel_id: str = "", trigger_id: str | None = None) -> Dispatched:  # fmt: skip
        words = command_words(text)
        quick = self.quick_answer(text)
        if quick is not None:
            return Dispatched(quick)
        caller = self.access(client, team_id, user_id)
        after = list(caller.after)
        if caller.workspace_id is None:  # the workspace guard drops these before they get here
            return Dispatched("Heard is not installed in this workspace.", after=after)
        if words[0].lower() == "help":
            if len(words) > 1:
                return Dispatched(usage_error("`help` takes no arguments.", f"{self.command} help"), after=after)
            return Dispatched(help_text(self.command, self.router.usable(caller.is_admin), self.intro), after=after)
        match = self.router.match(words)
        form = match.command
        if form.admin_only and not caller.is_admin:
            return Dispatched(not_admin(form.name, caller.admins()), after=after)
        request = CommandRequest(
            runtime=self.runtime, client=client, workspace_id=caller.workspace_id, team_id=team_id,
            user_id=user_id, channel_id=channel_id, trigger_id=trigger_id, command=self.command,
            words=match.words, text=_rest(text or "", len(form.words)), is_admin=caller.is_admin,
        )  # fmt: skip
        try:
            reply = form.run(request)
        except UsageError as exc:
            usage = exc.usage or form.usage
            return Dispatched(usage_error(exc.message, f"{self.command} {usage}"), after=after)
        except CommandFailed as exc:
            return Dispatched(" ".join(str(exc).split()), after=after)
        if reply.after:
            after.append(reply.after)
        if form.reschedules:
            after.append(self.notify)
        return Dispatched(reply.text, reply.blocks, after)


def register_slash_command(app: App, dispatcher: SlashDispatcher) -> None:
    """Attach `/heard` to the Bolt app: ack within Slack's window, then do the work."""

    @app.command(dispatcher.command)
    def heard_command(ack, command: dict, context, client, respond):
        text = command.get("text") if isinstance(command.get("text"), str) else ""
        quick = dispatcher.quick_answer(text)
        if quick is not None:
            ack(response_type="ephemeral", text=quick)
            return
        ack()
        trigger_id = command.get("trigger_id")
        if isinstance(trigger_id, str) and trigger_id:
            from bot.slack import inbox  # here: `heard --help` loads this module, not SQLAlchemy

            runtime = dispatcher.runtime
            if not inbox.first_delivery(runtime, f"command:{trigger_id}", now=runtime.clock()):
                # The same signed request again (Slack sends each command once, with a new
                # trigger_id): someone replayed it. It changes nothing and gets no reply.
                log.warning("replayed /heard from %s in %s dropped", command.get("user_id"), context.team_id)
                return
        try:
            result = dispatcher.dispatch(
                client, team_id=context.team_id, user_id=str(command["user_id"]), text=text,
                channel_id=command.get("channel_id", ""), trigger_id=command.get("trigger_id"),
            )  # fmt: skip
        except Exception:
            log.exception("/heard failed for %s in %s", command.get("user_id"), context.team_id)
            result = Dispatched(SORRY)
        try:
            respond(response_type="ephemeral", text=result.text, blocks=result.blocks)
        except Exception as exc:  # an expired or used-up response_url: the reply is lost, the work is not
            log.warning("could not reply to /heard for %s: %s", command.get("user_id"), exc)
        result.run_after()
