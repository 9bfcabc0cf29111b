"""`heard feedback import FILE.csv [--team T]`: the CSV door, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

feedback_cli = typer.Typer(help="Customer feedback: import it from other tools.", no_args_is_help=True)

SHOWN_BAD_ROWS = 20


@feedback_cli.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="A UTF-8 CSV with the columns text, author, created_at, source, url."),
    ],
    team: Annotated[
        str | None,
        typer.Option(
            "--team", metavar="TEAM",
            help="The workspace's team id (T…): needed when several are installed, or none is yet.",
        ),
    ] = None,
):
    """Import customer feedback from a CSV file.

    The header names the columns text, author, created_at, source and url (any order).
    created_at is ISO 8601 (2026-11-20T14:30:00Z; no zone means UTC); author may be a
    Slack user id (U0123ABCD) or a name; source says where the customer said it (email,
    phone, zendesk…). Bad rows are listed with their line numbers and skipped; importing
    the same file again adds nothing. A team Heard is not installed in yet is recorded as
    awaiting installation, so its history can be loaded before Slack is connected.

    \b
    Example:
      heard feedback import zendesk-export.csv --team T0123ABCD
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from bot.cli import runtime_for_cli
    from bot.features.feedback.importer import (
        CsvHeaderError,
        NoTeam,
        check_header,
        import_file,
        import_target,
    )
    from bot.settings import ConfigError, load_settings

    if not file.is_file():
        raise ConfigError(f"{file} is not a file")
    try:
        check_header(file)
    except CsvHeaderError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    runtime = runtime_for_cli(load_settings())
    try:
        with runtime.sessions.begin() as session:
            target = import_target(session, team)
    except NoTeam as exc:
        raise ConfigError(str(exc)) from None
    team = target.team_id
    if target.note:
        typer.echo(target.note)

    console = Console(stderr=True)
    size = file.stat().st_size
    columns = (TextColumn("Importing"), BarColumn(), TaskProgressColumn(), DownloadColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("import", total=size or 1)
            report = import_file(
                runtime.sessions, target.workspace_id, file, now=runtime.clock(),
                progress=lambda done: progress.update(task, completed=min(done, size or 1)),
                waiting=lambda: console.print(f"Waiting for another import into {team} to finish…", highlight=False),
            )  # fmt: skip
    except CsvHeaderError as exc:
        raise ConfigError(f"{file}: {exc}") from None

    # Plain lines, never wrapped: scripts read them.
    for bad in report.bad[:SHOWN_BAD_ROWS]:
        typer.echo(f"skipped {bad}")
    if report.bad_count > SHOWN_BAD_ROWS:
        typer.echo(f"… and {report.bad_count - SHOWN_BAD_ROWS} more bad row(s)")
    if report.ignored_columns:
        typer.echo(f"ignored column(s): {', '.join(report.ignored_columns)}")
    typer.echo(
        f"Imported {report.imported} new item(s) into {team}; {report.known} already known; "
        f"{report.bad_count} bad row(s) skipped."
    )


def register_cli(app: typer.Typer) -> None:
    app.add_typer(feedback_cli, name="feedback")
