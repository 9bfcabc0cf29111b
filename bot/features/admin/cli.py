"""The admin room's command line: `heard export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register_cli(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the CSV files into (created if missing).")],
    team: Annotated[str | None, typer.Option("--team", help="Only this workspace (team id).")] = None,
):
    """Write feedback, decisions, stories, engagement and the audit log as CSV files.

    feedback.csv, decisions.csv, stories.csv, engagement.csv and audit.csv: UTF-8,
    a header row, times in UTC (ISO 8601). Without --team, every workspace.

    Example: heard export --out ./heard-export --team T0123ABCD
    """
    from bot.cli import console, runtime_for_cli  # bot.cli loads this room: import at run time
    from bot.errors import Failure
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
            counts = write_export(session, out, team_id=team)
        except OSError as exc:
            raise Failure(f"cannot write to {out}: {exc.strerror or exc}") from None
    for name, rows in counts.items():
        console.print(f"{out / name}: {rows} row{'s' if rows != 1 else ''}")
