"""How `heard feedback import` scales: rows per second against a baseline in the same run.

    .venv/bin/python benchmarks/import_feedback.py [ROWS] [DATABASE_URL]

The baseline is reading and parsing the same file with the csv module alone, so the
ratio says what validating, hashing and inserting cost on this machine and database,
whatever the machine's speed. Two more lines split an import in two: reading and
checking the rows alone (`read_chunks`), and sending the already-checked rows to the
database alone (the importer's bulk insert, into a second workspace, one batch at a
time in the caller's thread: the import itself writes from a thread of its own while it
reads, two on PostgreSQL). Each is timed as the fastest of a few runs (imports and bulk
inserts each into an empty workspace: on SQLite in a new database file, on PostgreSQL
in the database given, whose workspaces made here are deleted at the end), since one
run moves with every other process on the machine; the load average is printed.
Not a test: nothing here can fail a build.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import delete

from bot.db import create_db_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.models import Workspace
from bot.features.feedback.importer import _BulkInsert, _importing, import_file, read_chunks


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


def cpu_timed(work) -> tuple[float, float]:
    """Seconds of wall time and of this process's CPU time (every thread; not the
    PostgreSQL server's), which moves less with the machine's other load."""
    started, used = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - started, time.process_time() - used


IMPORTS = 3  # imports timed, each into an empty workspace; the fastest is reported


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feedback.csv"
        write_rows(path, rows)
        given = sys.argv[2] if len(sys.argv) > 2 else None
        engines, made = [], []

        def target(name: str) -> tuple:
            """An empty workspace: on SQLite in a database file of its own (the same start
            each time), on PostgreSQL a new workspace in the database given."""
            engine = create_db_engine(given or f"sqlite:///{tmp}/{name}.db")
            engines.append(engine)
            upgrade(engine)
            sessions = session_factory(engine)
            with sessions.begin() as session:
                workspace = Workspace(team_id=f"TBENCH{time.time_ns()}", name=f"bench {name}")
                session.add(workspace)
                session.flush()
                made.append(workspace.id)
                return sessions, workspace.id

        now = datetime.now(UTC)

        def parse_only():
            with path.open(newline="", encoding="utf-8") as handle:
                for _ in csv.reader(handle):
                    pass

        checked: list[tuple] = []

        def check_only():  # as the import reads: without the cycle collector
            with _importing(), path.open("rb") as handle:
                for chunk in read_chunks(handle, now=now, known=set()):
                    checked.extend(chunk.rows)

        def insert_only(sessions, workspace_id):
            bulk = _BulkInsert(sessions, workspace_id, now)
            bulk.extend(checked)
            bulk.close()

        # The fastest of several runs of each: one run of a 0.1 s baseline, or of a 2 s
        # import, moves with every other process on the machine.
        parses = [cpu_timed(parse_only) for _ in range(5)]
        baseline, baseline_cpu = min(wall for wall, _ in parses), min(cpu for _, cpu in parses)
        imports, agains = [], []
        for attempt in range(IMPORTS):
            sessions, workspace_id = target(f"import{attempt}")
            run = partial(import_file, sessions, workspace_id, path, now=now)
            imports.append(cpu_timed(run))
            if not attempt:
                agains = [cpu_timed(run) for _ in range(3)]
        first, first_cpu = min(wall for wall, _ in imports), min(cpu for _, cpu in imports)
        again, again_cpu = min(wall for wall, _ in agains), min(cpu for _, cpu in agains)
        reading = min(timed(lambda: (checked.clear(), check_only())) for _ in range(2))
        inserting = min(timed(partial(insert_only, *target(f"insert{attempt}"))) for attempt in range(2))
        dialect = engines[0].dialect.name
        if given:  # the database given is left as it was found: each run adds 500,000 rows
            with engines[0].begin() as connection:
                connection.execute(delete(Workspace).where(Workspace.id.in_(made)))
        for engine in engines:
            engine.dispose()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{rows} rows on {dialect}: csv alone {baseline:.2f}s (load average {load}, {os.cpu_count()} cores)")
    runs = ", ".join(f"{seconds:.2f}" for seconds, _ in imports)
    print(f"  import      {first:.2f}s  ({first / baseline:.1f}x the csv baseline, {rows / first:,.0f} rows/s; "
          f"runs {runs})")
    print(f"  re-import   {again:.2f}s  ({again / baseline:.1f}x the csv baseline, adds nothing)")
    server = " (not counting the server's)" if dialect == "postgresql" else ""
    print(f"  CPU time{server}: csv alone {baseline_cpu:.2f}s, import {first_cpu:.2f}s "
          f"({first_cpu / baseline_cpu:.1f}x), re-import {again_cpu:.2f}s ({again_cpu / baseline_cpu:.1f}x)")
    print(f"  of which: reading and checking the rows {reading:.2f}s ({reading / baseline:.1f}x), "
          f"the database's bulk insert {inserting:.2f}s ({inserting / baseline:.1f}x)")


if __name__ == "__main__":
    main()
