"""`heard demo`: Heard on a simulated workspace, with no Slack account and no OpenAI key.

The real app runs end to end: Bolt behind Heard's WSGI endpoint on a loopback
port, a SQLite file, and the sandbox's fake Slack (the same one the tests use, which
validates every Block Kit payload). A scripted session sends signed requests as Slack
would and prints what Heard posted. With `socket_mode` (`heard demo --socket-mode`), Heard
connects to the fake Slack's websocket instead (`apps.connections.open` with an app-level
token) and the same story arrives as Socket Mode envelopes.

The database is kept (`heard-demo.db` in the working directory, replaced by the next
run) and the demo ends with the commands that explore it.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from bot.app import build_app
from bot.db.migrate import upgrade
from bot.errors import Failure
from bot.runtime import Runtime
from bot.sandbox import FakeSlack, SeedUser, SeedWorkspace, SlackRequestSender, demo_workspace
from bot.sandbox.fake_socket import FakeSocketMode, SocketModeSender
from bot.sandbox.local_server import DrainableExecutor, LocalServer
from bot.scheduler.runner import effective_cadence
from bot.scheduler.schedules import load_default_schedules, schedules_dir
from bot.settings import Settings
from bot.slack.socket_mode import SocketMode
from bot.slack.ratelimit import RateLimiter
from bot.web import HealthServer, create_wsgi_app
from bot.workspaces import active_workspaces, find

DEMO_SECRET = "demo-signing-secret"
DEMO_APP_TOKEN = "xapp-1-A0HEARD-1-demo"  # Socket Mode's app-level token, as the fake Slack knows it
DEMO_PACE = 600  # the rate limiter's minutes last a tenth of a second in the demo
DEMO_DATABASE = Path("heard-demo.db")
EXPORT_DIR = "heard-export"


@dataclass
class DemoSession:
    """Everything a demo step needs: the running app, the fake Slack, a signed sender."""

    console: Console
    runtime: Runtime
    slack: FakeSlack
    sender: SlackRequestSender
    listeners: DrainableExecutor
    acme: SeedWorkspace
    team_id: str
    number: int = 0
    socket: FakeSocketMode | None = None  # the fake Slack's websocket, in Socket Mode

    def step(self, title: str, note: str = "") -> None:
        """Start a numbered step: a rule with the title, then a dim note."""
        self.number += 1
        self.console.print()
        self.console.print(Rule(f"[bold]{self.number}. {title}", align="left"))
        if note:
            self.console.print(Text(note, style="dim"))

    def user(self, name: str) -> SeedUser:
        return self.acme.user_named(name)

    def event(self, event: dict, **kwargs) -> None:
        """Deliver a signed event and wait until Heard has handled it."""
        accepted(self.sender.event(event, team_id=self.team_id, **kwargs))
        self.listeners.drain()

    def command(self, text: str, *, user: str) -> dict:
        """Run `/heard TEXT` as `user`; returns Heard's reply, once its follow-up work is done."""
        url = self.slack.response_url(self.team_id)
        reply = accepted(self.sender.command(text, team_id=self.team_id, user_id=user, response_url=url))
        self.listeners.drain()
        return self.slack.slash_reply(reply, url)

    @property
    def render(self) -> SlackRenderer:
        return SlackRenderer(self.acme)

    def show_reply(self, reply: dict) -> None:
        """A slash-command reply in a panel."""
        self.console.print(self.render.reply(reply))

    def show_text(self, markdown: str, *, indent: str = "") -> None:
        """Slack mrkdwn on one line, mentions by name."""
        self.console.print(Text(indent).append(self.render.text(markdown)))

    def show_message(self, message: dict) -> None:
        self.console.print(self.render.message(message))

    def show_home(self, user_id: str) -> None:
        self.console.print(self.render.view(self.slack.published_home(user_id)))

    def show_messages(self, channel: str, *, since: int = 0) -> None:
        """Heard's own messages in `channel` (a channel id or a user id for a DM)."""
        for message in self.slack.messages(channel)[since:]:
            if message.get("user") == self.acme.bot_user_id or message.get("bot_id"):
                self.show_message(message)


def run_demo(console: Console, *, now: datetime | None = None, database: Path = DEMO_DATABASE,
             socket_mode: bool = False) -> None:  # fmt: skip
    """Run the scripted demo, keeping its SQLite database at `database` (replaced); with
    `socket_mode`, over Socket Mode instead of HTTP."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    replace_database(database)
    acme = demo_workspace(now)
    logging.getLogger().setLevel(logging.WARNING)
    console.print(Panel.fit(
        "[bold]Heard demo[/bold] — a simulated Slack workspace on this machine.\n"
        "No Slack account, no OpenAI key: the real app talks to a fake Slack.",
        border_style="cyan",
    ))  # fmt: skip

    with FakeSlack(acme, clock=now.timestamp) as slack:  # Slack and Heard share the demo clock
        transport = {"slack_app_token": DEMO_APP_TOKEN} if socket_mode else {"slack_signing_secret": DEMO_SECRET}
        settings = Settings(
            _env_file=None, slack_bot_token=acme.bot_token, slack_api_url=slack.url,
            database_url=f"sqlite:///{database.resolve()}", **transport,
        )  # fmt: skip
        runtime = Runtime.from_settings(settings, clock=lambda: now)
        runtime.limiter = RateLimiter(speed=DEMO_PACE)  # the demo's days pass in seconds; so do its minutes
        listeners = DrainableExecutor()
        demo = DemoSession(console, runtime, slack, None, listeners, acme, acme.team_id)

        demo.step("The simulated workspace", f"{acme.name}, as the fake Slack serves it.")
        console.print(workspace_table(acme))

        demo.step("Install", "Heard starts in single-workspace mode with a bot token"
                  + (" and an app-level token (Socket Mode)." if socket_mode else "."))  # fmt: skip
        applied = upgrade(runtime.engine)
        console.print(f"Database: a new {database} (SQLite), migrations applied: {', '.join(applied)}")
        app = build_app(runtime, listener_executor=listeners)
        with runtime.sessions() as session:
            workspace = active_workspaces(session)[0]
            console.print(
                f"Recorded workspace [bold]{workspace.name}[/] ({workspace.team_id}), "
                f"time zone {workspace.time_zone}."
            )

        with serving(demo, app, socket_mode=socket_mode):
            for step in runtime.rooms.demo_steps():
                step(demo)

            safety_steps(demo)

            demo.step("The coming week", "What runs when, with the schedules set above.")
            console.print(week_table(runtime, acme.team_id))

            demo.step("Create the real Slack app", "From the manifest Heard prints.")
            console.print(manifest_summary(runtime.rooms.manifest(command=settings.heard_slash_command)))

        listeners.shutdown(wait=True)
        calls = slack.calls
        rejected = [c for c in calls if not c.ok]
        demo.step("Summary")
        console.print(
            f"Heard made {len(calls)} Slack API calls; {len(rejected)} rejected by the fake "
            "Slack's method, argument and Block Kit checks."
        )
        runtime.engine.dispose()
    if rejected:
        raise RuntimeError(f"the fake Slack rejected {len(rejected)} call(s): {rejected[:3]}")
    demo.step("Explore what the demo stored", f"Its database is kept in {database} "
              "(the next heard demo replaces it). From this directory:")  # fmt: skip
    for command in explore_commands(database, acme.team_id):
        console.print(Text(f"  {command}"), soft_wrap=True)  # never wrapped: people paste these
    console.print(Text("The demo moved its clock days ahead to show the feedback-sweep, so jobs list "
                       "dates that run in the future.", style="dim"))  # fmt: skip


@contextmanager
def serving(demo: DemoSession, app, *, socket_mode: bool) -> Iterator[None]:
    """Heard answering Slack for the demo's steps: its HTTP endpoint, or in Socket Mode its
    websocket to the fake Slack; `demo.sender` delivers the requests either way."""
    slack, acme, console = demo.slack, demo.acme, demo.console
    if not socket_mode:
        with LocalServer(create_wsgi_app(demo.runtime, app)) as server:
            demo.sender = SlackRequestSender(
                server.url, DEMO_SECRET, bot_user_id=acme.bot_user_id,
                response_url_factory=slack.response_url,
            )  # fmt: skip
            console.print(f"Serving /slack/events and /healthz at {server.url} "
                          f"(health: {demo.sender.get('/healthz').json()})")  # fmt: skip
            yield
        return
    with FakeSocketMode(slack, app_token=DEMO_APP_TOKEN, app_id=acme.app_id) as socket:
        connection = SocketMode(demo.runtime, app)
        connection.start()
        health = HealthServer(demo.runtime, connection.state, port=0, host="127.0.0.1").start()
        try:
            demo.socket = socket
            demo.sender = SocketModeSender(
                socket, base_url=f"http://127.0.0.1:{health.port}", bot_user_id=acme.bot_user_id,
                response_url_factory=slack.response_url,
            )  # fmt: skip
            console.print(f"Connected in Socket Mode: apps.connections.open, then the websocket at "
                          f"ws://127.0.0.1:{socket.port} (health: {demo.sender.get('/healthz').json()['socket']}). "
                          "No public URL: Heard dials out to Slack.")  # fmt: skip
            yield
        finally:
            health.stop()
            connection.stop()


def replace_database(database: Path) -> None:
    """Delete the previous demo's SQLite file and its WAL side files."""
    try:
        for path in (database, *(database.with_name(database.name + end) for end in ("-wal", "-shm", "-journal"))):
            path.unlink(missing_ok=True)
    except OSError as exc:
        raise Failure(f"cannot replace the demo database {database}: {exc.strerror or exc}") from None


def explore_commands(database: Path, team_id: str) -> list[str]:
    """Commands that read the demo's database, as this shell can run them."""
    url = f"sqlite:///{database.as_posix()}"
    prefix = f"DATABASE_URL={shlex.quote(url)} {heard_invocation()}"
    return [
        f"{prefix} jobs list",
        f"{prefix} export --out {EXPORT_DIR} --team {team_id}",
        f"{prefix} digest preview --team {team_id}",
    ]


def heard_invocation() -> str:
    """How to run `heard` from the working directory: `heard` when it is on PATH,
    else the script beside this Python (`.venv/bin/heard` after `make demo`)."""
    script = Path(sys.executable).parent / "heard"  # not resolved: a venv's python is a symlink
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m bot"
    on_path = shutil.which("heard")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "heard"
    try:
        relative = script.absolute().relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(script.absolute()))
    return shlex.quote(relative.as_posix()) if os.sep in str(relative) else f"./{relative.as_posix()}"


def safety_steps(demo: DemoSession) -> None:
    """What Heard refuses: forged requests (over HTTP), and Slack's retried deliveries."""
    maya = demo.acme.users[0]
    if demo.socket is not None:
        socket_steps(demo)
    else:
        demo.step("Forged request", "A request with a wrong signature.")
        forged = demo.sender.command("help", team_id=demo.team_id, user_id=maya.id,
                                     sign_with="not-the-secret")  # fmt: skip
        demo.console.print(f"HTTP {forged.status}: refused, nothing changed.")

    demo.step("Slack retries an event", "The same event id, delivered twice.")
    event_id = demo.sender.next_event_id()
    home = {"type": "app_home_opened", "user": maya.id, "channel": "D0MAYAHOME", "tab": "home"}
    before = len(demo.slack.calls_to("views.publish"))
    for retry in (None, 1):
        demo.event(home, event_id=event_id, retry_num=retry)
    handled = len(demo.slack.calls_to("views.publish")) - before
    demo.console.print(f"Delivered twice, handled {handled} time(s).")


def socket_steps(demo: DemoSession) -> None:
    """Socket Mode's own trials: an acknowledgement lost on the way, a new connection asked for."""
    maya = demo.acme.users[0]
    home = {"type": "app_home_opened", "user": maya.id, "channel": "D0MAYAHOME", "tab": "home"}
    demo.step("An acknowledgement lost on the way",
              "Heard stores the event, then acknowledges it; Slack never gets the acknowledgement.")  # fmt: skip
    before = len(demo.slack.calls_to("views.publish"))
    body = {"type": "event_callback", "team_id": demo.team_id, "api_app_id": demo.acme.app_id,
            "event_id": demo.sender.next_event_id(), "event": home, "event_time": 1}  # fmt: skip
    delivery = demo.socket.deliver("events_api", body, ack_within=1.0, lose_acks=1)
    if not delivery.wait(15):
        raise RuntimeError("Heard did not acknowledge the event Slack sent again")
    demo.listeners.drain()
    handled = len(demo.slack.calls_to("views.publish")) - before
    attempts = ", ".join(str(attempt) for _, attempt in delivery.sends)
    demo.console.print(f"Slack sent it {len(delivery.sends)} times (retry_attempt {attempts}); "
                       f"Heard handled it {handled} time(s).")  # fmt: skip

    demo.step("Slack asks for a new connection", "Before a deploy Slack sends disconnect (refresh_requested).")
    [old] = demo.socket.connections
    demo.socket.disconnect("refresh_requested", close_after=5.0)
    demo.socket.wait_until(lambda: demo.socket.connections not in ([], [old]))
    demo.console.print(f"Heard opened connection {demo.socket.connections[-1]} and left connection {old}.")


def accepted(response):
    """The demo's requests are all genuine: anything but 200 is a bug worth stopping for."""
    if response.status != 200:
        raise RuntimeError(f"Heard answered HTTP {response.status}: {response.text[:200]}")
    return response


def workspace_table(acme) -> Table:
    table = Table("who", "role", "time zone", box=None, pad_edge=False)
    for user in acme.users:
        if user.is_bot or user.deleted or user.id == "USLACKBOT":
            continue
        role = "owner" if user.is_owner else "admin" if user.is_admin else (user.title or "member")
        table.add_row(user.real_name, role, user.tz)
    channels = ", ".join(
        f"#{c.name}" + (" (private)" if c.is_private else "") + (" (archived)" if c.is_archived else "")
        for c in acme.channels
    )
    return Group(table, Text(f"Channels: {channels}"))


def week_table(runtime: Runtime, team_id: str) -> Group:
    """The coming seven days in the workspace's time zone: when each job fires, with the
    schedules admins changed (`/heard schedule`) in force, as `heard jobs list` plans them."""
    defaults = load_default_schedules(schedules_dir(runtime.settings.heard_schedules_dir))
    registered = {spec.name for spec in runtime.rooms.registry}
    start = runtime.clock()
    end = start + timedelta(days=7)
    rows, notes = [], []
    with runtime.sessions() as session:
        workspace = find(session, team_id)
        zone = ZoneInfo(workspace.time_zone)
        for name in sorted(set(defaults) | registered):
            default = defaults[name].cadence if name in defaults else None
            cadence, custom = effective_cadence(session, workspace, name, default)
            if custom:
                notes.append(f"{name} runs {cadence}, set with /heard schedule (default: {default or 'none'}).")
            trigger = cadence.trigger(workspace.time_zone) if cadence else None
            fire = trigger.get_next_fire_time(None, start) if trigger else None
            last_day = None
            while fire is not None and fire < end:
                local = fire.astimezone(zone)
                if not cadence.hourly:
                    rows.append((local, name, local.strftime("%H:%M") + (" (custom)" if custom else "")))
                elif local.date() != last_day:  # one line a day for hourly jobs
                    last_day = local.date()
                    rows.append((local, name, "every hour"))
                fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    table = Table("day", "job", f"at ({zone.key})", "status", box=None, pad_edge=False)
    for local, name, when in sorted(rows, key=lambda row: (row[0].date(), row[1])):
        status = "runs" if name in registered else "arrives with its feature"
        table.add_row(local.strftime("%a %d %b"), name, when, status)
    return Group(table, *(Text(note, style="dim") for note in notes))


def manifest_summary(manifest: dict) -> Group:
    feature = manifest["features"]
    lines = [
        "Run [bold]heard manifest[/bold] (Socket Mode) or "
        "[bold]heard manifest --url https://your-host[/bold] (HTTP), then on "
        "api.slack.com/apps: Create New App → From a manifest → paste it.",
        f"Slash command: {feature['slash_commands'][0]['command']}   "
        f"Shortcut: {feature['shortcuts'][0]['name']}   App Home: on",
        f"Bot scopes: {', '.join(manifest['oauth_config']['scopes']['bot'])}",
        f"Events: {', '.join(manifest['settings']['event_subscriptions']['bot_events'])}",
    ]
    return Group(*(Text.from_markup(line) for line in lines))


# -- rendering Slack payloads for a terminal ------------------------------------------------

_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# Order matters: links and mentions first (they hold _ and *), emoji kept as written.
_MARKUP = re.compile(
    r"<(?P<link>https?://[^|>]+)(?:\|(?P<label>[^>]+))?>"
    r"|<(?P<mention>[@#][A-Z0-9]+|!subteam\^[A-Z0-9]+)(?:\|[^>]*)?>"
    r"|(?P<emoji>:[a-z0-9_+'\-]+:)"
    r"|\*(?P<bold>[^*\n]+)\*|`(?P<code>[^`\n]+)`|(?<![\w])_(?P<italic>[^_\n]+)_(?![\w])"
)


class SlackRenderer:
    """Slack messages, views and replies as rich renderables, mentions shown by name."""

    def __init__(self, workspace: SeedWorkspace):
        self.names = {user.id: f"@{user.name}" for user in workspace.users}
        self.names |= {channel.id: f"#{channel.name}" for channel in workspace.channels}
        self.names |= {group.id: f"@{group.handle}" for group in workspace.usergroups}

    def text(self, markdown: str) -> Text:
        """Slack mrkdwn to styled terminal text."""
        out = Text()
        position = 0
        for match in _MARKUP.finditer(markdown):
            out.append(_decode(markdown[position : match.start()]))
            part = match.groupdict()
            if part["link"]:
                out.append(_decode(part["label"] or part["link"]), style="underline cyan")
            elif part["mention"]:
                raw = part["mention"].removeprefix("!subteam^").lstrip("@#")
                out.append(self.names.get(raw, part["mention"]), style="bold blue")
            elif part["emoji"]:
                out.append(part["emoji"])
            elif part["bold"]:
                out.append(_decode(part["bold"]), style="bold")
            elif part["code"]:
                out.append(_decode(part["code"]), style="cyan")
            else:
                out.append(_decode(part["italic"]), style="italic")
            position = match.end()
        out.append(_decode(markdown[position:]))
        return out

    def blocks(self, blocks: list[dict]) -> Group:
        parts = []
        for block in blocks:
            kind = block.get("type")
            if kind == "header":
                parts.append(Text(block["text"]["text"], style="bold underline"))
            elif kind == "section":
                if block.get("text"):
                    parts.append(self.text(block["text"]["text"]))
                for field in block.get("fields", []):
                    parts.append(self.text(field["text"]))
            elif kind == "context":
                line = Text(" ").join(self.text(e.get("text", "")) for e in block["elements"])
                line.stylize("dim")
                parts.append(line)
            elif kind == "divider":
                parts.append(Text("─" * 40, style="dim"))
            elif kind == "actions":
                labels = [f"[ {e['text']['text']} ]" for e in block["elements"] if "text" in e]
                parts.append(Text("  ".join(labels), style="bold cyan"))
        return Group(*parts)

    def view(self, view: dict | None) -> Panel:
        if view is None:
            return Panel("(nothing published)", title="App Home")
        return Panel(self.blocks(view.get("blocks", [])), title="App Home", border_style="green")

    def message(self, message: dict) -> Panel:
        blocks = message.get("blocks")
        body = self.blocks(blocks) if blocks else self.text(message.get("text", ""))
        where = "in thread" if message.get("thread_ts") not in (None, message.get("ts")) else "message"
        return Panel(body, title=f"Heard ({where})", border_style="magenta")

    def reply(self, reply: dict) -> Panel:
        """A reply to a slash command; its blocks when it has them, else its text."""
        ephemeral = reply.get("response_type") == "ephemeral"
        visibility = "only you can see this" if ephemeral else "in channel"
        blocks = reply.get("blocks")
        body = self.blocks(blocks) if blocks else self.text(reply.get("text", ""))
        return Panel(body, title=f"Heard ({visibility})", border_style="blue")


def _decode(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text
