"""The sending process of the R2 fault test (tests/faults/test_killed_sender.py): the
outbox's periodic sender, as `heard worker` runs it, until nothing is left to send.

`R2_LATER_MINUTES` moves its clock on: a process started again that long after the one
killed, so the claims the dead one left are stale (`bot.slack.outbox.STALE_CLAIM`).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import outbox
from bot.slack.ratelimit import RateLimiter

LATER = timedelta(minutes=float(os.environ.get("R2_LATER_MINUTES", "0")))


def main() -> None:
    settings = Settings(_env_file=None, database_url=os.environ["DATABASE_URL"], slack_bot_token=os.environ["SLACK_BOT_TOKEN"],
                        slack_signing_secret="s", slack_api_url=os.environ["SLACK_API_URL"])  # fmt: skip
    runtime = Runtime.from_settings(settings, clock=lambda: datetime.now(UTC) + LATER)
    runtime.limiter = RateLimiter(speed=20)  # 50 DMs in well under a second of the test's time
    while True:
        outbox.deliver_due(runtime, sweep=True)
        counts = outbox.counts(runtime)
        if not any(counts.get(status, 0) for status in ("pending", "sending", "uncertain")):
            return
        if counts.get("sending") and not counts.get("pending") and not counts.get("uncertain"):
            return  # only claims a dead process left, not yet stale: the next start settles them
        time.sleep(0.02)  # rows waiting for their turn at the rate limit


if __name__ == "__main__":
    main()
