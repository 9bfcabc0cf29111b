"""How long the leadership digest takes for 1k, 10k and 100k ignored items.

    .venv/bin/python benchmarks/digest.py [RUNS]

For each size, a fresh SQLite database (migrated, one workspace) is filled with that many
ignored feedback items, said over the last twelve weeks: the quality corpus
(tests/data/themes/feedback.csv) rewritten at random as in benchmarks/themes.py, so almost
every item is distinct. Three figures per size, each the fastest of RUNS (default 3):

- `themes`: `themes.find_themes` over the items, in this process (the engine alone);
- `build`: `service.build_digest` in this process (reading the backlog through the
  feedback room's queries, themes, related decisions, weekly counts, trend);
- `preview`: the whole `heard digest preview --format json` as a person runs it, a new
  process (imports, migrations check, the digest, the JSON of every item) to its exit.

The baseline, in the same run, is `python -c "import json"` in a new process: what any
command costs before it does anything. Goals (issue 18): themes on 100k ≤ 1.5 s, the whole
preview on 100k ≤ 5 s, time growing no faster than linearly. Not a test.
"""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (1_000, 10_000, 100_000)
NOW = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


def texts_of(size: int, seed: int = 18) -> list[str]:
    """The corpus rewritten at random, as benchmarks/themes.py makes its items."""
    from themes import items_of  # benchmarks/themes.py, beside this script

    return [text for _, text in items_of(size, seed)]


def database_with(size: int, directory: Path) -> str:
    """A migrated SQLite database with one workspace and `size` ignored items."""
    from sqlalchemy import insert

    from bot.db import create_db_engine
    from bot.db.migrate import upgrade
    from bot.db.models import Workspace
    from bot.features import load_models
    from bot.features.feedback.models import FeedbackItem

    url = f"sqlite:///{directory / f'digest-{size}.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    load_models()
    rng = random.Random(size)
    with engine.begin() as connection:
        workspace_id = connection.execute(insert(Workspace).values(
            team_id="T0BENCH01", name="Bench", domain="bench", time_zone="UTC", installed_at=NOW - timedelta(days=200),
        )).inserted_primary_key[0]  # fmt: skip
        rows = []
        for number, text in enumerate(texts_of(size)):
            said = NOW - timedelta(days=4) - timedelta(seconds=rng.randrange(80 * 86400))
            rows.append({"workspace_id": workspace_id, "text": text, "source": "import", "said_at": said,
                         "stored_at": NOW, "status": "ignored", "ignored_at": said + timedelta(hours=72),
                         "reporter_name": f"customer {number % 997}", "import_key": f"bench-{number}"})  # fmt: skip
        for start in range(0, len(rows), 20_000):
            connection.execute(insert(FeedbackItem), rows[start : start + 20_000])
    engine.dispose()
    return url


def best(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    from bot.db import create_db_engine, session_factory
    from bot.features.digest import service, themes

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "OPENAI_", "HEARD_"))}
    baseline = best(lambda: subprocess.run([sys.executable, "-c", "import json"], check=True), runs)
    print(f"baseline (a new Python process): {baseline:.2f} s")
    print(f"{'items':>8} {'themes':>7} {'themes s':>9} {'build s':>8} {'preview s':>10} {'JSON MB':>8} "
          f"{'preview per 1k':>15}")  # fmt: skip
    themes.find_themes([(str(i), t) for i, t in enumerate(texts_of(200))])  # imports out of the figures
    with tempfile.TemporaryDirectory() as directory:
        for size in SIZES:
            url = database_with(size, Path(directory))
            items = [(str(i), t) for i, t in enumerate(texts_of(size))]
            engine_time = best(lambda items=items: themes.find_themes(items), runs)
            engine = create_db_engine(url)
            found: list = []

            def build(engine=engine, found=found):
                with session_factory(engine)() as session:
                    found[:] = [service.build_digest(session, 1, end=NOW)]

            build_time = best(build, runs)
            engine.dispose()
            out = Path(directory) / f"digest-{size}.json"
            command = [sys.executable, "-m", "bot", "digest", "preview", "--format", "json", "--out", str(out)]
            preview = best(lambda command=command, url=url: subprocess.run(
                command, check=True, cwd=directory, env=env | {"DATABASE_URL": url}, capture_output=True), runs)  # fmt: skip
            print(f"{size:>8} {len(found[0].themes):>7} {engine_time:>9.2f} {build_time:>8.2f} {preview:>10.2f} "
                  f"{out.stat().st_size / 1e6:>8.1f} {preview / size * 1000:>15.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
