"""`heard export`: a workspace's data as CSV files, for BI tools and for leaving Heard.

Each room adds its files (`Room.exports`); this room adds `audit.csv`. UTF-8, a header
row, one file per table, written with the csv module. Cells are
the stored values verbatim (ids as strings, times ISO 8601 in UTC, JSON for audit
values): a spreadsheet opening them should be told the columns are text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import AuditEntry, Workspace
from bot.rooms import ExportFile, Rooms

AUDIT_COLUMNS = ("id", "team_id", "at", "actor", "action", "old_value", "new_value")
BATCH = 500


def write_export(session: Session, directory: Path, rooms: Rooms, *, team_id: str | None = None) -> dict[str, int]:
    """Write every room's CSV files into `directory` (created if missing) for one
    workspace or all of them; returns rows written per file name."""
    directory.mkdir(parents=True, exist_ok=True)
    teams = select(Workspace.id, Workspace.team_id)
    if team_id is not None:
        teams = teams.where(Workspace.team_id == team_id)
    team_of = dict(session.execute(teams).all())
    return {file.name: _write(directory / file.name, file.columns, file.rows(session, team_of))
            for file in rooms.exports()}  # fmt: skip


def _write(path: Path, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(cell(value) for value in row)
            count += 1
    return count


def cell(value) -> str:
    """A stored value as a CSV cell: empty for none, ISO 8601 for times, else verbatim."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _audit(session: Session, team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.workspace_id.in_(list(team_of)))
        .order_by(AuditEntry.workspace_id, AuditEntry.at, AuditEntry.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for a in rows:
        yield (a.id, team_of[a.workspace_id], a.at, a.actor_user_id, a.action, _json(a.old_value),
               _json(a.new_value))  # fmt: skip


AUDIT_EXPORT = ExportFile("audit.csv", AUDIT_COLUMNS, _audit)
