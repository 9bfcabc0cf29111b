"""How `heard feedback import` scales: rows per second against a baseline in the same run.

    .venv/bin/python benchmarks/import_feedback.py [ROWS] [DATABASE_URL]

The baseline is reading and parsing the same file with the csv module alone, so the
ratio says what validating, hashing and inserting cost on this machine and database,
whatever the machine's speed. Two more lines split an import in two: reading and
checking the rows alone (`read_rows`), and sending the already-checked rows to the
database alone (the importer's bulk insert, into a second workspace). What can run
again without changing the database (the csv parse, a re-import, reading the rows) is
timed as the fastest of a few runs. Not a test: nothing here can fail a build.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.db import create_db_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.models import Workspace
from bot.features.feedback.importer import Row, _BulkInsert, import_file, read_rows


def write_rows(path: Path, rows: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "author", "created_at", "source", "url"])
        for i in range(rows):
            writer.writerow([f"Customer {i}: the export drops the time zone", f"Agent {i % 17}",
                             (start + timedelta(minutes=i)).isoformat(), "email",
                             f"https://support.example/t/{i}"])  # fmt: skip


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feedback.csv"
        write_rows(path, rows)
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{tmp}/bench.db"
        engine = create_db_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            workspace = Workspace(team_id=f"TBENCH{int(time.time())}", name="bench")
            session.add(workspace)
            session.flush()
            workspace_id = workspace.id
        now = datetime.now(UTC)

        def parse_only():
            with path.open(newline="", encoding="utf-8") as handle:
                for _ in csv.reader(handle):
                    pass

        checked: list[tuple] = []

        def check_only():
            with path.open("rb") as handle:
                checked.extend(row.values for row in read_rows(handle, now=now) if isinstance(row, Row))

        def insert_only():
            with sessions.begin() as session:
                other = Workspace(team_id=f"TBENCH{time.time_ns()}", name="bench, insert only")
                session.add(other)
                session.flush()
                other_id = other.id
            bulk = _BulkInsert(sessions, other_id, now)
            for values in checked:
                bulk.add((*values, "open", None))
            bulk.flush()

        # The fastest of several runs for what can run again (the csv parse, a re-import,
        # reading the rows): one run of a 0.1 s baseline moves with every other process.
        baseline = min(timed(parse_only) for _ in range(5))
        first = timed(lambda: import_file(sessions, workspace_id, path, now=now))
        again = min(timed(lambda: import_file(sessions, workspace_id, path, now=now)) for _ in range(3))
        reading = min(timed(lambda: (checked.clear(), check_only())) for _ in range(2))
        inserting = timed(insert_only)
        engine.dispose()
    print(f"{rows} rows on {engine.dialect.name}: csv alone {baseline:.2f}s")
    print(f"  import      {first:.2f}s  ({first / baseline:.1f}x the csv baseline, {rows / first:,.0f} rows/s)")
    print(f"  re-import   {again:.2f}s  ({again / baseline:.1f}x the csv baseline, adds nothing)")
    print(f"  of which: reading and checking the rows {reading:.2f}s ({reading / baseline:.1f}x), "
          f"the database's bulk insert {inserting:.2f}s ({inserting / baseline:.1f}x)")


if __name__ == "__main__":
    main()
