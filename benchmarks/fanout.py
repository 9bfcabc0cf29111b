"""A 5,000-person DM fan-out through the outbox against a fake Slack that enforces a limit.

    .venv/bin/python benchmarks/fanout.py [--dms N] [--limit PER_MINUTE] [--speed X]

The sandbox's fake Slack (a thread of this process, on loopback) answers 429 with
Retry-After to any `chat.postMessage` that would make more than `--limit` calls in any
minute of its workspace: a Tier-3-like budget, per workspace and method. A minute lasts
60 / `--speed` seconds, for Slack and for Heard's rate limiter alike (both compress
time the same way), so 5,000 DMs at 300 a minute take 17 simulated minutes, about 35
seconds at the default speed of 30 (faster, and the sender itself, one thread writing
SQLite, becomes the limit rather than Slack's budget).

Heard queues one DM per person (5,000 rows, one transaction, SQLite on disk), then one
sender delivers them as `heard worker` does (`deliver_due(sweep=True)` in a loop). The
script prints the throughput as a fraction of the limit (DMs per simulated minute over
`--limit`; goal: at least 90%), the 429s Slack answered, and how many people got no DM
(lost) or more than one (duplicated): both must be 0.

A `--limit` below Heard's own figure (e.g. 50 a minute, Tier 3's floor, against Heard's
300) makes the fake stricter than Heard's limiter believes: on the 429 path, each 429
holding the bucket for Retry-After, nothing may be lost or doubled either.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db import create_db_engine  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Workspace  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.sandbox import FakeSlack, SeedUser, demo_workspace  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.slack import outbox, ratelimit  # noqa: E402
from bot.slack.ratelimit import RateLimiter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dms", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=int(ratelimit.POST_PER_WORKSPACE.per_minute),
                        help="chat.postMessage calls per minute the fake Slack allows (default: Heard's own figure)")
    parser.add_argument("--speed", type=float, default=30.0, help="how many times faster a minute passes")
    options = parser.parse_args()

    now = datetime.now(UTC)
    seed = demo_workspace(now)
    people = [SeedUser(id=f"U0FAN{n:05d}", name=f"member{n}", real_name=f"Member {n}") for n in range(options.dms)]
    seed = replace(seed, users=(*seed.users, *people))
    with tempfile.TemporaryDirectory() as folder, FakeSlack(seed) as slack:
        slack.limit_rate("chat.postMessage", options.limit, speed=options.speed)
        engine = create_db_engine(f"sqlite:///{Path(folder) / 'fanout.db'}")
        upgrade(engine)
        settings = Settings(_env_file=None, database_url=str(engine.url), slack_bot_token=seed.bot_token,
                            slack_signing_secret="s", slack_api_url=slack.url)  # fmt: skip
        runtime = Runtime(settings=settings, engine=engine)
        runtime.limiter = RateLimiter(speed=options.speed)
        with runtime.sessions.begin() as session:
            workspace = Workspace(team_id=seed.team_id, name=seed.name, installed_at=now)
            session.add(workspace)
            session.flush()
            for person in people:
                outbox.enqueue(session, workspace_id=workspace.id, key=f"fanout:{person.id}", method="chat.postMessage",
                               payload={"channel": person.id, "text": "This week's digest is ready."}, now=now)  # fmt: skip
        started = time.monotonic()
        while True:
            outbox.deliver_due(runtime, sweep=True)
            counts = outbox.counts(runtime)
            if counts.get("pending", 0) + counts.get("sending", 0) + counts.get("uncertain", 0) == 0:
                break
            time.sleep(0.05)  # rows put back for their turn at the rate limit
        elapsed = time.monotonic() - started

        received = Counter()
        for person in people:
            received[person.id] = len(slack.messages(person.id, team_id=seed.team_id))
        lost = sum(1 for person in people if received[person.id] == 0)
        duplicated = sum(1 for person in people if received[person.id] > 1)
        minutes = elapsed * options.speed / 60
        per_minute = options.dms / minutes
        print(f"{options.dms} DMs in {elapsed:.1f} s ({minutes:.1f} simulated minutes at {options.speed:g}x)")
        print(f"throughput: {per_minute:.0f} per minute against a limit of {options.limit}: "
              f"{per_minute / options.limit:.1%} of the limit (goal: at least 90%)")  # fmt: skip
        print(f"429s answered: {slack.rate_limited}; outbox: {dict(counts)}")
        print(f"lost: {lost}, duplicated: {duplicated}")
        engine.dispose()
        if lost or duplicated:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
