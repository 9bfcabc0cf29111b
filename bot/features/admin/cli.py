"""The admin room's command line: `heard export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register_cli(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Directory to write the CSV files into (created if missing).",
        ),
    ],
    team: Annotated[
        str | None,
        typer.Option("--team", metavar="TEAM", help="Only this workspace (its team id, T…)."),
    ] = None,
):
    """Write Heard's data as CSV files, for people and BI tools.

    One file per kind of record (feedback.csv and audit.csv; each room adds its
    own): UTF-8, a header row, times in UTC (ISO 8601). Without --team, every
    workspace.

    \b
    Example:
      heard export --out ./heard-export --team T0123ABCD
    """
    from bot.cli import output, runtime_for_cli  # bot.cli loads this module: import at run time
    from bot.errors import Failure
    from bot.features import load_rooms
    from bot.features.admin.export import write_export
    from bot.settings import ConfigError, load_settings
    from bot.workspaces import find

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory")
    runtime = runtime_for_cli(load_settings())
    with runtime.sessions() as session:
        if team is not None and find(session, team) is None:
            raise ConfigError(f"no workspace has team id {team!r}")
        try:
            counts = write_export(session, out, load_rooms(), team_id=team)
        except OSError as exc:
            raise Failure(f"cannot write to {out}: {exc.strerror or exc}") from None
    for name, rows in counts.items():
        output().print(f"{out / name}: {rows} row{'s' if rows != 1 else ''}")
