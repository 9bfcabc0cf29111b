"""`heard demo`: Heard on a simulated workspace, with no Slack account and no OpenAI key.

The real app runs end to end: Bolt behind Heard's WSGI endpoint on a loopback
port, a fresh SQLite file, and the sandbox's fake Slack (the same one the tests
use, which validates every Block Kit payload). A scripted session sends signed
requests as Slack would and prints what Heard posted.
"""

from __future__ import annotations

import logging
import re
import tempfile
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
from bot.runtime import Runtime
from bot.sandbox import FakeSlack, SlackRequestSender, demo_workspace
from bot.sandbox.local_server import DrainableExecutor, LocalServer
from bot.scheduler.registry import default_registry
from bot.scheduler.schedules import load_default_schedules, schedules_dir
from bot.settings import Settings
from bot.slack.manifest import BOT_EVENTS, BOT_SCOPES, build_manifest
from bot.web import create_wsgi_app
from bot.workspaces import active_workspaces

DEMO_SECRET = "demo-signing-secret"


class Script:
    """Numbered steps of the demo, printed as they happen."""

    def __init__(self, console: Console):
        self.console = console
        self.number = 0

    def step(self, title: str, note: str = "") -> None:
        self.number += 1
        self.console.print()
        self.console.print(Rule(f"[bold]{self.number}. {title}", align="left"))
        if note:
            self.console.print(Text(note, style="dim"))


def run_demo(console: Console, *, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC).replace(microsecond=0)
    acme = demo_workspace(now)
    logging.getLogger().setLevel(logging.WARNING)
    script = Script(console)
    console.print(Panel.fit(
        "[bold]Heard demo[/bold] — a simulated Slack workspace on this machine.\n"
        "No Slack account, no OpenAI key: the real app talks to a fake Slack.",
        border_style="cyan",
    ))  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="heard-demo-") as tmp, FakeSlack(acme) as slack:
        database = Path(tmp) / "heard-demo.db"
        settings = Settings(
            _env_file=None, slack_bot_token=acme.bot_token, slack_signing_secret=DEMO_SECRET,
            slack_api_url=slack.url, database_url=f"sqlite:///{database}",
        )  # fmt: skip
        runtime = Runtime.from_settings(settings, clock=lambda: now)

        script.step("The simulated workspace", f"{acme.name}, as the fake Slack serves it.")
        console.print(workspace_table(acme))

        script.step("Install", "Heard starts in single-workspace mode with a bot token.")
        applied = upgrade(runtime.engine)
        console.print(f"Database: fresh SQLite file, migrations applied: {', '.join(applied)}")
        listeners = DrainableExecutor()
        app = build_app(runtime, listener_executor=listeners)
        with runtime.sessions() as session:
            workspace = active_workspaces(session)[0]
            console.print(
                f"Recorded workspace [bold]{workspace.name}[/] ({workspace.team_id}), "
                f"time zone {workspace.time_zone}."
            )

        with LocalServer(create_wsgi_app(runtime, app)) as server:
            sender = SlackRequestSender(
                server.url, DEMO_SECRET, bot_user_id=acme.bot_user_id,
                response_url_factory=slack.response_url,
            )  # fmt: skip
            console.print(f"Serving /slack/events and /healthz at {server.url} "
                          f"(health: {sender.get('/healthz').json()})")  # fmt: skip

            maya = acme.users[0]
            script.step("App Home", f"{maya.real_name} opens Heard's App Home tab.")
            accepted(sender.event(
                {"type": "app_home_opened", "user": maya.id, "channel": "D0MAYAHOME", "tab": "home"},
                team_id=acme.team_id,
            ))
            listeners.drain()
            console.print(render_view(slack.published_home(maya.id)))

            script.step("/heard help", f"{maya.real_name} asks what she can do.")
            reply = accepted(sender.command("help", team_id=acme.team_id, user_id=maya.id))
            console.print(render_reply(reply.json()))

            script.step("Bad input", "Someone tries to make Heard ping the whole channel.")
            reply = accepted(
                sender.command("<!channel> wake up", team_id=acme.team_id, user_id=maya.id)
            )
            console.print(render_reply(reply.json()))
            console.print(Text("Heard escaped it: Slack shows the text, nobody is pinged.", style="dim"))

            script.step("Forged request", "A request with a wrong signature.")
            forged = sender.command("help", team_id=acme.team_id, user_id=maya.id,
                                    sign_with="not-the-secret")  # fmt: skip
            console.print(f"HTTP {forged.status}: refused, nothing changed.")

            script.step("Slack retries an event", "The same event id, delivered twice.")
            event_id = sender.next_event_id()
            home = {"type": "app_home_opened", "user": maya.id, "channel": "D0MAYAHOME", "tab": "home"}
            before = len(slack.calls_to("views.publish"))
            for retry in (None, 1):
                accepted(sender.event(home, team_id=acme.team_id, event_id=event_id, retry_num=retry))
            listeners.drain()
            handled = len(slack.calls_to("views.publish")) - before
            console.print(f"Delivered twice, handled {handled} time(s).")

            script.step("The coming week", "What runs when, in the workspace's time zone.")
            console.print(week_table(runtime, workspace.time_zone))

            script.step("Create the real Slack app", "From the manifest Heard prints.")
            console.print(manifest_summary(settings.heard_slash_command))

        listeners.shutdown(wait=True)
        calls = slack.calls
        rejected = [c for c in calls if not c.ok]
        script.step("Summary")
        console.print(
            f"Heard made {len(calls)} Slack API calls; {len(rejected)} rejected by the fake "
            "Slack's method, argument and Block Kit checks."
        )
        runtime.engine.dispose()
    if rejected:
        raise RuntimeError(f"the fake Slack rejected {len(rejected)} call(s): {rejected[:3]}")


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


def week_table(runtime: Runtime, time_zone: str) -> Table:
    """The coming seven days: when each job of schedules/ fires, in the workspace's zone."""
    defaults = load_default_schedules(schedules_dir(runtime.settings.heard_schedules_dir))
    registered = {spec.name for spec in default_registry()}
    zone = ZoneInfo(time_zone)
    start = runtime.clock()
    end = start + timedelta(days=7)
    rows = []
    for name, schedule in defaults.items():
        trigger = schedule.cadence.trigger(time_zone)
        fire = trigger.get_next_fire_time(None, start) if trigger else None
        last_day = None
        while fire is not None and fire < end:
            local = fire.astimezone(zone)
            if not schedule.cadence.hourly:
                rows.append((local, name, local.strftime("%H:%M")))
            elif local.date() != last_day:  # one line a day for hourly jobs
                last_day = local.date()
                rows.append((local, name, "every hour"))
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    table = Table("day", "job", "at", "status", box=None, pad_edge=False)
    for local, name, when in sorted(rows, key=lambda row: (row[0].date(), row[1])):
        status = "runs" if name in registered else "arrives with its feature"
        table.add_row(local.strftime("%a %d %b"), name, when, status)
    return table


def manifest_summary(command: str) -> Group:
    manifest = build_manifest(command=command)
    feature = manifest["features"]
    lines = [
        "Run [bold]heard manifest[/bold] (Socket Mode) or "
        "[bold]heard manifest --url https://your-host[/bold] (HTTP), then on "
        "api.slack.com/apps: Create New App → From a manifest → paste it.",
        f"Slash command: {feature['slash_commands'][0]['command']}   "
        f"Shortcut: {feature['shortcuts'][0]['name']}   App Home: on",
        f"Bot scopes: {', '.join(BOT_SCOPES)}",
        f"Events: {', '.join(BOT_EVENTS)}",
    ]
    return Group(*(Text.from_markup(line) for line in lines))


# -- rendering Slack payloads for a terminal ------------------------------------------------

_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_MARKUP = re.compile(r"\*([^*\n]+)\*|`([^`\n]+)`|_([^_\n]+)_")


def mrkdwn(text: str) -> Text:
    """Slack mrkdwn to styled terminal text: *bold*, _italic_, `code`, entities decoded."""
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    out = Text()
    position = 0
    for match in _MARKUP.finditer(text):
        out.append(text[position : match.start()])
        bold, code, italic = match.groups()
        if bold is not None:
            out.append(bold, style="bold")
        elif code is not None:
            out.append(code, style="cyan")
        else:
            out.append(italic, style="italic")
        position = match.end()
    out.append(text[position:])
    return out


def render_blocks(blocks: list[dict]) -> Group:
    parts = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            parts.append(Text(block["text"]["text"], style="bold underline"))
        elif kind == "section":
            if block.get("text"):
                parts.append(mrkdwn(block["text"]["text"]))
            for field in block.get("fields", []):
                parts.append(mrkdwn(field["text"]))
        elif kind == "context":
            parts.append(Text.assemble(*(mrkdwn(e.get("text", "")) for e in block["elements"]), style="dim"))
        elif kind == "divider":
            parts.append(Text("─" * 40, style="dim"))
        elif kind == "actions":
            labels = [f"[ {e['text']['text']} ]" for e in block["elements"] if "text" in e]
            parts.append(Text("  ".join(labels), style="bold cyan"))
    return Group(*parts)


def render_view(view: dict | None) -> Panel:
    if view is None:
        return Panel("(nothing published)", title="App Home")
    return Panel(render_blocks(view.get("blocks", [])), title="App Home", border_style="green")


def render_reply(reply: dict) -> Panel:
    visibility = "only you can see this" if reply.get("response_type") == "ephemeral" else "in channel"
    return Panel(mrkdwn(reply.get("text", "")), title=f"Heard ({visibility})", border_style="blue")
