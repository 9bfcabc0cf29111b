"""The `heard` command line (also `python -m bot`).

Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
import yaml
from rich.console import Console
from rich.table import Table

from bot.db import DatabaseUnavailable, ping
from bot.db.migrate import current_revision, upgrade
from bot.errors import Failure
from bot.settings import ConfigError, Settings, SlackMode, load_settings

# Piped output (grep, logs) gets wide lines instead of cells wrapped at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)

app = typer.Typer(
    name="heard",
    help="Heard keeps your company close to its customers, in Slack.\n\n"
    "Try it without a Slack account: heard demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
jobs_app = typer.Typer(help="Recurring jobs: list them, or run one now.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(db_app, name="db")


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def runtime_for_cli(settings: Settings):
    """A Runtime on a reachable, migrated database."""
    from bot.runtime import Runtime

    runtime = Runtime.from_settings(settings)
    ping(runtime.engine)
    upgrade(runtime.engine)
    return runtime


def _scheduler(runtime):
    from bot.scheduler.registry import default_registry
    from bot.scheduler.runner import HeardScheduler
    from bot.scheduler.schedules import load_default_schedules, schedules_dir

    defaults = load_default_schedules(schedules_dir(runtime.settings.heard_schedules_dir))
    return HeardScheduler(runtime, default_registry(), defaults)


@app.command()
def run(
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Serve Slack only; run `heard clock` elsewhere.")
    ] = False,
):
    """Serve Slack and run the scheduler.

    Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT at /slack/events
    (health check at /healthz). Applies pending migrations first.

    Example: SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… heard run
    """
    from bot.app import build_app

    settings = load_settings()
    mode = settings.require_slack()
    _configure_logging()
    runtime = runtime_for_cli(settings)
    scheduler = None if no_scheduler else _scheduler(runtime)
    bolt_app = build_app(runtime, on_workspace_change=scheduler.sync if scheduler else None)

    if mode is SlackMode.SOCKET:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(
            bolt_app, settings.slack_app_token, web_client=runtime.client()
        )
        if scheduler:
            scheduler.start()
        try:
            handler.start()
        finally:
            if scheduler:
                scheduler.shutdown()
        return

    from bot.web import HeardServer, create_wsgi_app

    def worker_started() -> None:
        # Connections opened before gunicorn forked belong to the parent.
        runtime.engine.dispose(close=False)
        if scheduler:
            scheduler.start()

    HeardServer(
        create_wsgi_app(runtime, bolt_app),
        port=settings.port,
        on_worker_start=worker_started,
        on_worker_exit=scheduler.shutdown if scheduler else None,
    ).run()


@app.command()
def clock():
    """Run only the scheduler: the `clock` process of a scaled deployment.

    Example: DATABASE_URL=postgresql+psycopg://… SLACK_BOT_TOKEN=xoxb-… heard clock
    """
    settings = load_settings()
    if not (settings.slack_bot_token or settings.slack_client_id):
        raise ConfigError(
            "the clock posts to Slack: set SLACK_BOT_TOKEN (one workspace) or "
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (installations in the database)"
        )
    _configure_logging()
    runtime = runtime_for_cli(settings)
    scheduler = _scheduler(runtime)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    scheduler.start()
    try:
        stop.wait()
    finally:
        scheduler.shutdown()


@jobs_app.command("list")
def jobs_list(
    team: Annotated[str | None, typer.Option("--team", help="Only this workspace (team id).")] = None,
):
    """Each job, its schedule per workspace, its last and next run.

    Example: heard jobs list --team T0123ABCD
    """
    from bot.scheduler.runner import job_statuses

    runtime = runtime_for_cli(load_settings())
    scheduler = _scheduler(runtime)
    if not len(scheduler.registry):
        defaults = ", ".join(f"{d.job} ({d.cadence})" for d in scheduler.defaults.values())
        console.print("No jobs are registered yet: each feature adds its jobs as it arrives.")
        if defaults:
            console.print(f"Default schedules waiting in schedules/: {defaults}")
        return
    rows = job_statuses(runtime, scheduler.registry, scheduler.defaults, team_id=team)
    if not rows:
        console.print("No workspace is installed" + (f" with team id {team}." if team else "."))
        return
    table = Table("job", "workspace", "schedule", "time zone", "last run", "next run")
    for row in rows:
        table.add_row(
            row.job,
            f"{row.workspace_name} ({row.team_id})",
            row.schedule,
            row.time_zone,
            row.last_run,
            _local(row.next_run, row.time_zone) if row.next_run else "—",
        )
    console.print(table)


def _local(moment: datetime, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%a %Y-%m-%d %H:%M")


@jobs_app.command("run")
def jobs_run(
    job: Annotated[str, typer.Argument(help="The job's name, e.g. leadership-digest.")],
    team: Annotated[str | None, typer.Option("--team", help="Only this workspace (team id).")] = None,
):
    """Run one job now, for one or every workspace. Runs once per job, workspace and period.

    Example: heard jobs run leadership-digest --team T0123ABCD
    """
    from bot.scheduler.runner import run_job
    from bot.workspaces import active_workspaces

    runtime = runtime_for_cli(load_settings())
    registry = _scheduler(runtime).registry
    if registry.get(job) is None:
        known = ", ".join(spec.name for spec in registry) or "none are registered yet"
        raise ConfigError(f"unknown job {job!r} (known jobs: {known})")
    with runtime.sessions() as session:
        teams = [w.team_id for w in active_workspaces(session)]
    if team:
        if team not in teams:
            raise ConfigError(f"no installed workspace has team id {team!r}")
        teams = [team]
    if not teams:
        raise Failure("no workspace is installed yet")
    failed = False
    for team_id in teams:
        outcome = run_job(runtime, registry, job, team_id, trigger="manual")
        failed |= outcome.status == "failed"
        console.print(f"{job} {team_id} {outcome.period or ''}: {outcome.status} — {outcome.detail}")
    if failed:
        raise typer.Exit(1)


@app.command()
def manifest(
    format: Annotated[str, typer.Option("--format", "-f", help="json or yaml.")] = "json",
    url: Annotated[
        str | None,
        typer.Option("--url", help="Public https URL of `heard run` (HTTP mode); omit for Socket Mode."),
    ] = None,
):
    """Print the Slack app manifest, for api.slack.com/apps → Create New App → From a manifest.

    Example: heard manifest --url https://heard.example.com --format yaml
    """
    from bot.slack.manifest import build_manifest

    if format not in ("json", "yaml"):
        raise ConfigError(f"--format must be json or yaml, not {format!r}")
    if url is not None and not url.startswith("https://"):
        raise ConfigError("--url must be the public https:// address Slack will call")
    command = load_settings().heard_slash_command
    data = build_manifest(command=command, request_url=url)
    if format == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")


@db_app.command("upgrade")
def db_upgrade():
    """Apply pending database migrations (DATABASE_URL).

    Example: DATABASE_URL=sqlite:///heard.db heard db upgrade
    """
    from bot.db import create_db_engine

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    ping(engine)
    applied = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if applied:
        console.print(f"Applied {', '.join(applied)} to {where}")
    else:
        console.print(f"{where} is up to date (revision {current_revision(engine)})")


@app.command()
def demo():
    """Run Heard on a simulated workspace: no Slack account, no OpenAI key.

    Uses a fresh SQLite file in a temporary directory and prints what Heard posts.
    """
    from bot.demo import run_demo

    run_demo(console)


def _feature_commands() -> None:
    """Each feature may add its own commands (`heard feedback import`, `heard export`)."""
    from bot.features import FEATURES

    for feature in FEATURES:
        register_cli = getattr(feature, "register_cli", None)
        if register_cli:
            register_cli(app)


_feature_commands()


def _fail(exc: Exception, status: int):
    # One line, never wrapped or styled: scripts and log collectors read it.
    print(f"heard: {exc}", file=sys.stderr)
    sys.exit(status)


def main() -> None:
    from bot.app import SlackUnavailable
    from bot.scheduler.schedules import ScheduleFileError

    try:
        app(standalone_mode=True)
    except (ConfigError, ScheduleFileError) as exc:
        _fail(exc, 2)
    except (DatabaseUnavailable, SlackUnavailable, Failure) as exc:
        _fail(exc, 1)
