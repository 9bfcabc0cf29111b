"""The `heard` command line (also `python -m bot`).

Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.

This module is imported for every invocation, `heard --help` included, so it imports
only typer and the standard library at module level: SQLAlchemy, Alembic, Bolt,
pydantic and rich are imported inside the commands that use them
(`tests/cli/test_cli_startup.py` checks this). Help is Click's plain formatter
(`rich_markup_mode=None`): it wraps paragraphs at the terminal's width, keeps `\\b`
blocks (the examples) as written, and needs no rich.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click import exceptions as click_errors  # Typer 0.29 vendors Click as typer._click
from typer.core import TyperCommand, TyperGroup

from bot.features import ROOMS

if TYPE_CHECKING:
    from rich.console import Console

    from bot.settings import Settings

log = logging.getLogger(__name__)

# Exceptions that end a command with one line on stderr, by module and class name so that
# naming them here imports nothing: a class whose module was never imported cannot have
# been raised. ConfigError and ScheduleFileError are the operator's to fix (exit 2).
ONE_LINE_ERRORS = (
    ("bot.environ", "ConfigError", 2),  # bot.settings' too: it is the same class
    ("bot.scheduler.schedules", "ScheduleFileError", 2),
    ("bot.db", "DatabaseUnavailable", 1),
    ("bot.app", "SlackUnavailable", 1),
    ("bot.slack.socket_mode", "SocketModeRefused", 1),
    ("bot.errors", "Failure", 1),
    # Two rooms declaring one /heard form, job or callback id: a broken install, not a
    # passing fault; the line names both rooms.
    ("bot.rooms", "RoomConflict", 1),
    # A second processor or clock on one SQLite file.
    ("bot.db.locks", "AlreadyRunning", 1),
    # A SQLite database whose rows already broke a foreign key: the upgrade changed nothing.
    ("bot.db.migrate", "MigrationBrokeKeys", 1),
    # A database a newer Heard migrated (a deploy rolled back).
    ("bot.db.migrate", "UnknownRevision", 1),
)

# Loggers whose start-up chatter would bury `heard run`'s one-line error: Bolt warns that
# the token is unused when it is given a client, and slack_sdk logs every retry of
# auth.test before the start-up check gives up.
SLACK_LOGGERS = ("slack_bolt", "slack_sdk")


class _NamesItsHelp:
    """Usage errors raised while parsing know their command, so the error line can say
    which `--help` to read (Click's parser raises "option '--team' requires an argument"
    without one).

    And `-h/--help` defaults to False rather than None: Typer coerces every non-bool
    value through pydantic, whose import would double the time of `heard jobs --help`.
    """

    def get_help_option(self, ctx: typer.Context):
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click_errors.UsageError as exc:
            if exc.ctx is None:
                exc.ctx, exc.cmd = ctx, ctx.command
            raise


class HeardCommand(_NamesItsHelp, TyperCommand):
    """A command whose help names its arguments by their placeholder (`JOB`, `FILE`).

    Typer writes a required argument as `{JOB}` in the usage line and `JOB <str>` in
    the argument list; people copy what they see, so both say `JOB`.
    """

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [piece.removeprefix("{").removesuffix("}") for piece in pieces]

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                # Arguments are positional and always required here: the name and help say it all.
                help_text = record[1].replace("  [required]", "").removesuffix("[required]")
                arguments.append((param.metavar or param.name.upper(), help_text))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class UnknownCommand(click_errors.UsageError):
    """A command name that no group knows; carries the close matches for the message."""

    def __init__(self, name: str, matches: list[str], ctx: typer.Context):
        super().__init__(f"unknown command {name!r}", ctx)
        self.name = name
        self.matches = matches


class HeardGroup(_NamesItsHelp, TyperGroup):
    """A command group whose unknown-command error carries close matches, not prose."""

    def resolve_command(self, ctx: typer.Context, args: list[str]):
        name = args[0]
        if (
            not name.startswith("-")
            and self.get_command(ctx, name) is None
            and not ctx.resilient_parsing
        ):
            matches = difflib.get_close_matches(name, self.list_commands(ctx), n=2)
            raise UnknownCommand(name, matches, ctx)
        return super().resolve_command(ctx, args)


def _typer(**kwargs) -> typer.Typer:
    return typer.Typer(cls=HeardGroup, no_args_is_help=True, **kwargs)


app = _typer(
    name="heard",
    help="Heard keeps your company close to its customers, in Slack.\n\n"
    "Try it without a Slack account: heard demo",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
jobs_app = _typer(help="Recurring jobs: list them, or run one now.")
db_app = _typer(help="Database maintenance.")
inbox_app = _typer(help="Stored Slack events: list those that failed, queue them again.")
outbox_app = _typer(help="Queued Slack posts: list the parked ones, queue them again.")
app.add_typer(jobs_app, name="jobs")
app.add_typer(db_app, name="db")
app.add_typer(inbox_app, name="inbox")
app.add_typer(outbox_app, name="outbox")

TEAM_OPTION = typer.Option("--team", metavar="TEAM", help="Only this workspace (its team id, T…).")


@functools.cache
def output() -> Console:
    """The console commands print tables and reports to, made on first use (rich is slow to import)."""
    from rich.console import Console

    # Piped output (grep, logs) gets wide lines instead of cells wrapped at 80 columns.
    return Console(width=None if sys.stdout.isatty() else 160)


def __getattr__(name: str):
    # `from bot.cli import console` (rooms' commands) still works, without importing rich early.
    if name == "console":
        return output()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _configure_logging() -> None:
    """Timestamped INFO logs for the long-running processes (`run`, `clock`).

    Alembic's INFO lines ("Context impl SQLiteImpl.") come on every start even when
    nothing changes; `runtime_for_cli` says which migrations it applied instead.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Drop these libraries' log records for the block: its failure is reported in one line.

    A filter on the root handlers, not a logger level: Bolt copies the root's level onto
    each logger it creates, so raising the `slack_bolt` logger's level would not hold.
    """

    class Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return record.name.split(".")[0] not in names

    drop, handlers = Drop(), list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(drop)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(drop)


def runtime_for_cli(settings: Settings):
    """A Runtime on a reachable, migrated database, with every room loaded."""
    from bot.db import ping
    from bot.db.migrate import upgrade
    from bot.features import load_rooms
    from bot.runtime import Runtime

    runtime = Runtime.from_settings(settings)
    runtime.rooms = load_rooms()
    ping(runtime.engine)
    applied = upgrade(runtime.engine)
    if applied:
        log.info("applied database migrations %s", ", ".join(applied))
    return runtime


def _claim_roles(settings: Settings, *roles: str) -> None:
    """On SQLite, refuse (one line, exit 1) to be a second processor or clock, before
    touching the database."""
    from bot.db.locks import claim_role

    for role in roles:
        claim_role(settings.database_url, role)


def _scheduler(runtime):
    from bot.scheduler.runner import HeardScheduler
    from bot.scheduler.schedules import check_jobs_exist, load_default_schedules, schedules_dir

    defaults = load_default_schedules(schedules_dir(runtime.settings.heard_schedules_dir))
    check_jobs_exist(defaults, (spec.name for spec in runtime.rooms.registry))
    return HeardScheduler(runtime, runtime.rooms.registry, defaults)


@app.command(cls=HeardCommand)
def run(
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Serve Slack only; run `heard clock` elsewhere.")
    ] = False,
):
    """Serve Slack and run the scheduler.

    Socket Mode when SLACK_APP_TOKEN is set (health check at /healthz on $PORT when
    PORT is set), else HTTP on $PORT at /slack/events (health check at /healthz).
    Applies pending migrations first.

    \b
    Example:
      SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… heard run
    """
    from bot.environ import peek_port, peek_socket_mode

    _configure_logging()
    if peek_socket_mode():
        _run_socket_mode(no_scheduler)
        return
    port = peek_port()
    if port is None:  # not plain digits: only Settings can say what it means, or what is wrong
        from bot.settings import load_settings

        port = load_settings().port
    _serve_http(no_scheduler, port)


def _run_in_this_process(settings, no_scheduler: bool):
    """Everything `heard run` serves with, built here: (runtime, Bolt app, scheduler or None).

    Each step that can fail on a setting (the lock on an SQLite file, the database, Slack's
    answer to the token) raises an error of ONE_LINE_ERRORS.
    """
    _claim_roles(settings, "processor", *(() if no_scheduler else ("clock",)))
    runtime = runtime_for_cli(settings)
    scheduler = None if no_scheduler else _scheduler(runtime)
    with _quiet(*SLACK_LOGGERS):
        # Importing Bolt and checking the token; a failure is SlackUnavailable, one line.
        from bot.app import build_app

        bolt_app = build_app(runtime, on_workspace_change=scheduler.sync if scheduler else None)
    return runtime, bolt_app, scheduler


def _run_socket_mode(no_scheduler: bool) -> None:
    from bot.settings import load_settings

    settings = load_settings()
    settings.require_slack()
    _serve_socket_mode(*_run_in_this_process(settings, no_scheduler))


def _serve_http(no_scheduler: bool, port: int) -> None:
    """HTTP under gunicorn (`bot.web.HeardServer`). This process is gunicorn's master and
    imports nothing of the app: its worker builds Settings, the runtime and the app
    (`_build_web`), and a failure there comes back here as the same one line and status
    as if this process had built them."""
    from bot.web import BootFailed, HeardServer

    def explain(exc: BaseException) -> tuple[int, str] | None:
        status = _one_line_status(exc)
        return None if status is None else (status, f"heard: {exc}")

    from bot.errors import Failure

    try:
        HeardServer(build=lambda: _build_web(no_scheduler, port), port=port, explain=explain).run()
    except BootFailed as failed:
        _fail(failed.line, failed.status)
    except Failure:
        # The port is bound before the worker reads the settings: a setting that is wrong
        # (no Slack credentials on a first run, say) is what to report first, exit 2.
        from bot.settings import load_settings

        load_settings().require_slack()
        raise


def _build_web(no_scheduler: bool, port: int):
    """In gunicorn's worker: Settings, the runtime, the app, and what runs beside it."""
    from bot.errors import Failure
    from bot.settings import SlackMode, load_settings
    from bot.web import Served, create_wsgi_app

    settings = load_settings()
    mode = settings.require_slack()
    if mode is SlackMode.SOCKET or settings.port != port:  # bot.environ read them otherwise
        raise Failure(f"PORT and SLACK_APP_TOKEN read differently by bot.environ and Settings (port {port} "
                      f"against {settings.port}); please report this")  # fmt: skip
    runtime, bolt_app, scheduler = _run_in_this_process(settings, no_scheduler)

    def start() -> None:
        runtime.inbox.start()  # events stored before a restart are processed now
        if scheduler:
            scheduler.start()

    def stop() -> None:
        # SIGTERM: the batch in hand is finished; stored events wait for the next start.
        runtime.inbox.stop()
        if scheduler:
            scheduler.shutdown()

    return Served(create_wsgi_app(runtime, bolt_app), start=start, stop=stop)


def _serve_socket_mode(runtime, bolt_app, scheduler) -> None:
    """Socket Mode until SIGTERM or SIGINT: the websocket (`bot.slack.socket_mode`), the
    inbox's processor, the scheduler, and /healthz on $PORT when PORT is set."""
    import signal
    import threading

    from bot.errors import Failure
    from bot.slack.socket_mode import SocketMode
    from bot.web import HealthServer

    stop = threading.Event()
    settings = runtime.settings
    connection = SocketMode(runtime, bolt_app)

    def stopping(*_) -> None:
        stop.set()
        connection.interrupt()  # start() may still be trying for its first connection

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stopping)
    health = None
    if "port" in settings.fields_set:
        try:
            health = HealthServer(runtime, connection.state, port=settings.port).start()
        except OSError as exc:  # the port is taken
            raise Failure(f"cannot serve /healthz on port {settings.port}: {exc.strerror or exc}") from None
    runtime.inbox.start()  # events stored before a restart are processed now
    try:
        connection.start()
        if scheduler and not stop.is_set():
            scheduler.start()
        # Timed: Python runs a signal's handler in the main thread, between bytecodes. A
        # main thread blocked on a lock with no timeout never gets there when the kernel
        # handed SIGTERM to another thread (the websocket's, the scheduler's).
        while not stop.wait(1.0):
            pass
    finally:
        connection.stop()  # what is not acknowledged by now, Slack sends again
        runtime.inbox.stop()
        if scheduler:
            scheduler.shutdown()
        if health:
            health.stop()


@app.command(cls=HeardCommand)
def worker():
    """Process stored Slack events and send queued posts.

    The worker of a scaled deployment: `heard run` processes events itself; run workers beside it (on PostgreSQL) when
    events arrive faster than one process handles them. Each event is handled once,
    whichever process takes it.

    \b
    Example:
      DATABASE_URL=postgresql+psycopg://… SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… heard worker
    """
    import signal
    import threading

    from bot.settings import load_settings

    settings = load_settings()
    settings.require_slack()
    _configure_logging()
    _claim_roles(settings, "processor")
    runtime = runtime_for_cli(settings)
    with _quiet(*SLACK_LOGGERS):
        from bot.app import build_app

        build_app(runtime)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runtime.inbox.start()
    try:
        _send_queued(runtime, stop)
    finally:
        runtime.inbox.stop()


OUTBOX_SECONDS = 5.0


def _send_queued(runtime, stop) -> None:
    """`heard worker`'s sender: an outbox sweep every OUTBOX_SECONDS until `stop` is set."""
    from bot.slack.outbox import deliver_due

    while not stop.is_set():  # a sweep lasts at most outbox.SWEEP_BUDGET: SIGTERM waits no longer
        try:
            more = deliver_due(runtime, sweep=True).more  # retries and fan-outs; new posts go as they are queued
        except Exception:  # the database restarting, say: the worker lives on, the next sweep tries again
            log.exception("outbox: sweep failed; trying again in %.0f s", OUTBOX_SECONDS)
            more = False
        if not more:
            stop.wait(OUTBOX_SECONDS)


@inbox_app.command("list", cls=HeardCommand)
def inbox_list():
    """Stored Slack events by status, and the parked ones.

    Each parked event with why it failed and when it arrived. An event is parked after five failed tries; `heard inbox retry` queues it again.

    \b
    Example:
      heard inbox list
    """
    from bot.settings import load_settings
    from bot.slack import inbox

    runtime = runtime_for_cli(load_settings())
    counts = inbox.counts(runtime)
    typer.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in inbox.InboxStatus))
    for row in inbox.parked(runtime):  # plain lines: scripts read them
        why = (row.last_error or "").splitlines()[0] if row.last_error else ""
        typer.echo(f"parked {row.event_id} {row.team_id} received {row.received_at:%Y-%m-%dT%H:%M}Z "
                   f"after {row.attempts} tries: {why}")


@inbox_app.command("retry", cls=HeardCommand)
def inbox_retry(
    event_ids: Annotated[list[str] | None, typer.Argument(metavar="[EVENT_ID]...", help="Only these events.")] = None,
):
    """Queue parked events again.

    All of them, or those named, each with five fresh tries.

    \b
    Example:
      heard inbox retry Ev0123ABCD
    """
    from bot.settings import load_settings
    from bot.slack import inbox

    runtime = runtime_for_cli(load_settings())
    queued = inbox.retry(runtime, event_ids or None)
    typer.echo(f"Queued {queued} parked event(s) again; a running heard run or heard worker processes them.")
    _say_not_parked(event_ids, queued, "event", "heard inbox list")


def _say_not_parked(named: list[str] | None, queued: int, what: str, listing: str) -> None:
    """A retry that names rows queues only the parked ones among them: say how many were
    not (a mistyped id, a row already queued or done) rather than leave it to a count."""
    missing = len(set(named or ())) - queued
    if named and missing > 0:
        typer.echo(f"{missing} of the {what}s named {'is' if missing == 1 else 'are'} not parked; "
                   f"{listing} shows those that are.")  # fmt: skip


@outbox_app.command("list", cls=HeardCommand)
def outbox_list(team: Annotated[str | None, TEAM_OPTION] = None):
    """Queued Slack posts by status, and the parked ones.

    Each parked post with its key, workspace, channel and why it was parked: a permanent error from Slack (the channel is archived, Heard is not in it, the person left, the token is no longer valid), five failed tries, or a post whose fate Heard could not check in the channel's history. Fix the cause, then `heard outbox retry`.

    \b
    Example:
      heard outbox list --team T0123ABCD
    """
    from bot.settings import load_settings
    from bot.slack import outbox

    runtime = runtime_for_cli(load_settings())
    counts = outbox.counts(runtime)
    typer.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in outbox.OutboxStatus))
    for row in outbox.parked(runtime, team_id=team):  # plain lines: scripts read them
        typer.echo(f"parked {row.key} {row.team_id} {row.method} to {row.channel or '?'} queued "
                   f"{row.created_at:%Y-%m-%dT%H:%M}Z after {row.attempts} tries: {row.last_error or ''}")  # fmt: skip


@outbox_app.command("retry", cls=HeardCommand)
def outbox_retry(
    keys: Annotated[list[str] | None, typer.Argument(metavar="[KEY]...", help="Only the posts under these keys.")] = None,
    team: Annotated[str | None, TEAM_OPTION] = None,
):
    """Queue parked posts again.

    All of them, or those named by key, each with five fresh tries. A post parked because Heard could not check whether it was already made is looked for in the channel's history again first, so it is never posted twice.

    \b
    Example:
      heard outbox retry story:T0123ABCD:2026-W48:1
    """
    from bot.settings import load_settings
    from bot.slack import outbox

    runtime = runtime_for_cli(load_settings())
    queued = outbox.retry(runtime, keys or None, team_id=team)
    typer.echo(f"Queued {queued} parked post(s) again; a running heard run, heard clock or heard worker sends them.")
    _say_not_parked(keys, queued, "post", "heard outbox list")


@app.command(cls=HeardCommand)
def clock():
    """Run only the scheduler: the clock of a scaled deployment.

    Run clocks beside any number of `heard run --no-scheduler` processes; jobs run
    once per workspace and period whichever clock starts them (on SQLite, one clock).

    \b
    Example:
      DATABASE_URL=postgresql+psycopg://… SLACK_BOT_TOKEN=xoxb-… heard clock
    """
    import signal
    import threading

    from bot.settings import ConfigError, load_settings

    settings = load_settings()
    if not (settings.slack_bot_token or settings.slack_client_id):
        raise ConfigError(
            "the clock posts to Slack: set SLACK_BOT_TOKEN (one workspace) or "
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (installations in the database)"
        )
    _configure_logging()
    _claim_roles(settings, "clock")
    runtime = runtime_for_cli(settings)
    scheduler = _scheduler(runtime)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    scheduler.start()
    try:
        # Timed: a signal the kernel hands to one of the scheduler's threads only sets a
        # flag, and an untimed wait would never return to let the handler run.
        while not stop.wait(1.0):
            pass
    finally:
        scheduler.shutdown()


@jobs_app.command("list", cls=HeardCommand)
def jobs_list(team: Annotated[str | None, TEAM_OPTION] = None):
    """Each job, its schedule per workspace, its last and next run.

    Before any workspace is installed, each job and its default schedule (from
    schedules/).

    \b
    Example:
      heard jobs list --team T0123ABCD
    """
    from rich.table import Table

    from bot.scheduler.runner import job_statuses
    from bot.settings import load_settings

    console = output()
    runtime = runtime_for_cli(load_settings())
    scheduler = _scheduler(runtime)
    if not len(scheduler.registry):
        console.print("No jobs are registered yet: each feature adds its jobs as it arrives.")
        return
    rows = job_statuses(runtime, scheduler.registry, scheduler.defaults, team_id=team)
    if not rows and team:
        console.print(f"No workspace is installed with team id {team}.")
        return
    if not rows:
        table = Table("job", "default schedule", "does")
        for spec in scheduler.registry:
            default = scheduler.defaults.get(spec.name)
            table.add_row(
                spec.name,
                str(default.cadence) if default else f"none (add schedules/{spec.name}.toml)",
                spec.description,
            )
        console.print(table)
        console.print("No workspace is installed yet: each gets these schedules when it installs Heard.")
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
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(time_zone)).strftime("%a %Y-%m-%d %H:%M")


@jobs_app.command("run", cls=HeardCommand)
def jobs_run(
    job: Annotated[
        str, typer.Argument(metavar="JOB", help="The job's name; heard jobs list shows them.")
    ],
    team: Annotated[str | None, TEAM_OPTION] = None,
):
    """Run one job now, for one or every workspace.

    A job runs once per workspace and period: running it again in the same hour, day
    or week (as the job says) does nothing. What the job posts is sent before the
    command ends when Slack's credentials are set, else by a running `heard run`,
    `worker` or `clock`.

    \b
    Example:
      heard jobs run feedback-sweep --team T0123ABCD
    """
    from bot.errors import Failure
    from bot.scheduler.ledger import RunStatus
    from bot.scheduler.runner import run_job
    from bot.settings import ConfigError, load_settings
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
        failed |= outcome.status == RunStatus.FAILED
        output().print(
            f"{job} {team_id} {outcome.period or ''}: {outcome.status} — {outcome.detail}"
        )
    if runtime.settings.slack_mode is not None:  # without credentials here, a running sender sends it
        from bot.slack.outbox import deliver_due

        deliver_due(runtime)  # what the job queued, now rather than at a sender's next sweep
    if failed:
        raise typer.Exit(1)


@app.command(cls=HeardCommand)
def manifest(
    format: Annotated[
        str, typer.Option("--format", "-f", metavar="json|yaml", help="Output format.")
    ] = "json",
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="Public https URL of `heard run` (HTTP mode); omit for Socket Mode.",
        ),
    ] = None,
):
    """Print the Slack app manifest.

    Paste it at api.slack.com/apps: Create New App, From a manifest.

    \b
    Example:
      heard manifest --url https://heard.example.com --format yaml
    """
    import json

    from bot.features import load_rooms
    from bot.settings import ConfigError, load_settings

    if format not in ("json", "yaml"):
        raise ConfigError(f"--format must be json or yaml, not {format!r}")
    if url is not None and not url.startswith("https://"):
        raise ConfigError("--url must be the public https:// address Slack will call")
    command = load_settings().heard_slash_command
    data = load_rooms().manifest(command=command, request_url=url)
    if format == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")


@db_app.command("upgrade", cls=HeardCommand)
def db_upgrade():
    """Apply pending database migrations (DATABASE_URL).

    \b
    Example:
      DATABASE_URL=sqlite:///heard.db heard db upgrade
    """
    from bot.db import create_db_engine, ping
    from bot.db.migrate import current_revision, upgrade
    from bot.settings import load_settings

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    ping(engine)
    applied = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if applied:
        output().print(f"Applied {', '.join(applied)} to {where}")
    else:
        output().print(f"{where} is up to date (revision {current_revision(engine)})")


@app.command(cls=HeardCommand)
def demo(
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Over Socket Mode (a websocket Heard opens), not HTTP.")
    ] = False,
):
    """Try Heard on a simulated workspace, without Slack or OpenAI.

    Prints what Heard posts, step by step, and what the digest says. With --socket-mode,
    Heard connects to the simulated Slack's websocket, as `heard run` does when
    SLACK_APP_TOKEN is set, and the same story arrives over it.

    \b
    Examples:
      heard demo
      heard demo --socket-mode
    """
    from bot.demo import run_demo

    run_demo(output(), socket_mode=socket_mode)


def _room_commands() -> None:
    """Each room may add its own commands (`heard feedback import`, `heard export`).

    A room's `cli.py` imports only typer and the standard library at module level, so
    listing its commands costs nothing; its `room.py` (Bolt listeners, models) is never
    imported here.
    """
    for name in ROOMS:
        module_name = f"bot.features.{name}.cli"
        if importlib.util.find_spec(module_name) is not None:
            importlib.import_module(module_name).register_cli(app)


def _placeholders_in_help(group: typer.Typer) -> None:
    """Give every command, rooms' included, HeardCommand's help (as if each passed `cls=`)."""
    for command in group.registered_commands:
        if command.cls in (None, TyperCommand):  # Typer's default: the room chose none
            command.cls = HeardCommand
    for subgroup in group.registered_groups:
        subgroup.cls = subgroup.cls or HeardGroup  # as if add_typer(cls=HeardGroup)
        if subgroup.typer_instance is not None:
            _placeholders_in_help(subgroup.typer_instance)


_room_commands()
_placeholders_in_help(app)


def _database_refused(exc: BaseException) -> bool:
    """An operational error of the database (SQLAlchemy's OperationalError: a lock held
    too long, a read-only file, a full disk, a lost server): a fault of the moment, one
    line; other database errors are bugs and keep their traceback."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError)


def _one_line_status(exc: BaseException) -> int | None:
    for module_name, class_name, status in ONE_LINE_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return status
    return None


def _usage_line(exc: Exception) -> str:
    """Click's usage error as one line: what was wrong, and where the help is."""
    ctx = exc.ctx
    where = f"; see {ctx.command_path} --help" if ctx is not None else ""
    if isinstance(exc, UnknownCommand):
        group = ctx.command_path.removeprefix("heard").strip()  # "jobs" in `heard jobs lst`
        typed = f"{group} {exc.name}".strip()
        guess = " or ".join(repr(f"{group} {match}".strip()) for match in exc.matches)
        message = f"unknown command {typed!r}" + (f" (did you mean {guess}?)" if guess else "")
        return f"heard: {message}{where}"
    message = exc.message if type(exc).__name__ == "NoSuchOption" else exc.format_message()
    possibilities = sorted(getattr(exc, "possibilities", None) or ())
    if possibilities:
        message += f" (did you mean {' or '.join(possibilities)}?)"
    message = " ".join(message.split()).rstrip(".")
    return f"heard: {message[:1].lower()}{message[1:]}{where}"


def _fail(line: str, status: int):
    # One line, never wrapped or styled: scripts and log collectors read it.
    print(line, file=sys.stderr)
    sys.exit(status)


def main(args: list[str] | None = None) -> None:
    """Run the CLI; every error is one line on stderr and an exit status (see module doc).

    `standalone_mode=False` lets Click's usage errors reach us instead of being drawn
    as a box; `--help` and `typer.Exit` come back as the exit status.
    """
    import atexit
    import gc

    # At the process's exit, what is still alive (scikit-learn's and SciPy's modules, say)
    # goes to the collector's permanent generation, which the interpreter's finalization
    # then does not walk again and again: 0.45 s of a 100k-item digest preview's 5.5 s
    # went there. Objects are still freed and files flushed. (At exit, not when the
    # command returns: tests run commands in a process that goes on.)
    atexit.register(gc.freeze)
    try:
        status = app(args, prog_name="heard", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        # `heard` or `heard jobs` alone: the help is the answer, but nothing was done.
        print(exc.format_message(), file=sys.stderr)
        sys.exit(2)
    except click_errors.UsageError as exc:
        _fail(_usage_line(exc), 2)
    except click_errors.ClickException as exc:
        _fail(f"heard: {exc.format_message()}", exc.exit_code)
    except typer.Abort:
        _fail("heard: aborted", 1)
    except Exception as exc:
        status = _one_line_status(exc)
        if status is None and _database_refused(exc):  # locked, read-only, full, gone
            _fail(f"heard: the database refused: {' '.join(str(exc.orig).split())[:300]}", 1)
        if status is None:
            raise
        _fail(f"heard: {exc}", status)
    sys.exit(status if isinstance(status, int) else 0)


__all__ = ["app", "main", "output", "runtime_for_cli"]
