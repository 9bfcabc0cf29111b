"""`heard export`: a workspace's data as CSV files, for BI tools and for leaving Heard.

Each room adds its files (`Room.exports`); this room adds `audit.csv`. UTF-8, a header
row, one file per table, written with the csv module. Cells are
the stored values (ids as strings, times ISO 8601 in UTC, JSON for audit values), but
text a spreadsheet would run as a formula gets an apostrophe first (`cell`); a
spreadsheet opening them should still be told the columns are text.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import AuditEntry, Workspace
from bot.rooms import FORMULA_START, ExportFile, Rooms

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
    """A stored value as a CSV cell: empty for none, ISO 8601 for times, numbers as they
    are, text verbatim unless a spreadsheet would run it: text that starts with `=`, `+`,
    `-`, `@`, a tab or a carriage return gets an apostrophe first, which makes it text in
    Excel, LibreOffice and Google Sheets (OWASP's advice on CSV injection: a customer's
    `=HYPERLINK(…)` is not a link on the reader's machine). Text that already starts with
    apostrophes before such a character gets one more, so `heard feedback import`, which
    takes one off, reads every cell back as it was stored. A plain number in text (`-3`)
    is left as it is: a spreadsheet reads it as the number it is."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if _FORMULA.match(value) and not _NUMBER.fullmatch(value) else value
    return str(value)


_FORMULA = re.compile("'*" + FORMULA_START)
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)


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
