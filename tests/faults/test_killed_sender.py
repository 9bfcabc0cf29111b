"""R2: a digest fan-out to 50 leaders, the sending process killed with SIGKILL at a random
point, then started again: each leader has exactly one digest in the fake Slack.

The real `leadership-digest` job queues the fan-out (a digest and its chart for each
leader, once per week: `bot.features.digest.delivery`); the outbox's periodic sender
sends it in a process of its own (tests/faults/r2_sender.py), the way `heard worker`
does. The kill lands when the fake Slack has taken a random number of the digests:
sometimes between Slack's answer and the sender recording it, which leaves a row
`sending` that the restarted process (its clock past the claim's lease and the charts'
short wait) settles from the DM's history instead of posting again.
"""

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.features import load_rooms
from bot.features.admin.service import add_role
from bot.runtime import Runtime
from bot.sandbox import FakeSlack, SeedUser
from bot.scheduler.ledger import RunStatus
from bot.scheduler.runner import run_job
from bot.settings import Settings
from bot.slack import outbox

UPLOAD_DONE = "files.completeUploadExternal"
LEADERS = [SeedUser(id=f"U0LEAD{n:04d}", name=f"leader{n}", real_name=f"Leader {n}") for n in range(50)]
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def digests(slack: FakeSlack, conversation: str) -> list[dict]:
    """The digests in a leader's DM (the outbox's key is in each post's metadata)."""
    return [message for message in slack.messages(conversation)
            if ((message.get("metadata") or {}).get("event_payload") or {}).get("key", "").startswith("digest:")]


def sender(env: dict, log: Path, later_minutes: int = 0) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, "-m", "tests.faults.r2_sender"], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, env={**env, "R2_LATER_MINUTES": str(later_minutes)})  # fmt: skip


@pytest.mark.parametrize("seed", [2, 5])  # killed after 8 and after 44 posts
def test_a_killed_fan_out_sends_each_leader_one_dm(engine, db_url, acme, make_workspace, tmp_path, seed):
    kill_after = random.Random(seed).randint(5, 45)
    with FakeSlack(replace(acme, users=(*acme.users, *LEADERS))) as slack:
        workspace = make_workspace(acme.team_id)
        settings = Settings(_env_file=None, database_url=db_url, slack_bot_token=acme.bot_token,
                            slack_signing_secret="s", slack_api_url=slack.url)  # fmt: skip
        runtime = Runtime(settings=settings, engine=engine)
        with runtime.sessions.begin() as session:
            for leader in LEADERS:
                add_role(session, workspace.id, "leader", leader.id, by=None, now=datetime.now(UTC))
        outcome = run_job(runtime, load_rooms().registry, "leadership-digest", acme.team_id, trigger="manual")
        assert outcome.status is RunStatus.SUCCEEDED, outcome.detail
        assert outbox.counts(runtime) == {"pending": 2 * len(LEADERS)}  # a digest and its chart each
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
        env |= {"DATABASE_URL": db_url, "SLACK_BOT_TOKEN": acme.bot_token, "SLACK_API_URL": slack.url}
        log = tmp_path / "sender.log"

        first = sender(env, log)
        slack.wait_for("chat.postMessage", count=kill_after, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        taken = len(slack.calls_to("chat.postMessage", ok=True))
        assert taken < len(LEADERS), "the sender finished before the kill; nothing was tested"
        left_sending = outbox.counts(runtime).get("sending", 0)
        assert left_sending <= outbox.BATCH  # what one claim took; the rest waits, pending

        again = sender(env, log, later_minutes=11)  # past the dead process's 10-minute claims
        assert again.wait(timeout=60) == 0, log.read_text()[-3000:]

        received = Counter({leader.id: len(digests(slack, leader.id)) for leader in LEADERS})
        assert [who for who, count in received.items() if count != 1] == [], log.read_text()[-2000:]
        charts = Counter(call.args["channel_id"] for call in slack.calls_to(UPLOAD_DONE, ok=True))
        assert sorted(charts.values()) == [1] * len(LEADERS)  # each leader's chart shared once
        assert outbox.counts(runtime) == {"sent": 2 * len(LEADERS)}
        # Each claim the dead sender left was settled from the DM's history, not sent blindly.
        assert len(slack.calls_to("conversations.history")) == left_sending
        print(f"killed after {taken} posts taken; {left_sending} row(s) left sending and settled from history")
