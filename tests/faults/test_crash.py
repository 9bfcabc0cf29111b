"""`heard run` killed or stopped while Slack's events pour in: every event Heard answered
200 becomes exactly one feedback item once it runs again.

Real processes (gunicorn serving the real app on loopback, SQLite on disk), real signed
requests, each event delivered one to three times in random order, as Slack's retries and
a second delivery do. A request that got no answer (the process was dead) is sent again
after the restart, as Slack retries it. Bounded: HEARD_FAULT_EVENTS events (2,000, as the
issue asks; fewer for a quick local run), four senders, and a deadline for the
inbox to drain.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.features.feedback.config import FEEDBACK_CHANNELS
from bot.features.feedback.models import FeedbackItem
from bot.runtime import Runtime
from bot.sandbox import SlackRequestSender
from bot.settings import Settings
from bot.slack import inbox
from bot.workspace_settings import change_setting
from tests.people import ACME, FEEDBACK, SAM
from tests.sandbox.test_heard_run import free_port

SECRET = "fault-test-secret"
EVENTS = int(os.environ.get("HEARD_FAULT_EVENTS", "2000"))
SENDERS = 4
DRAIN_SECONDS = float(os.environ.get("HEARD_FAULT_DRAIN_SECONDS", "90"))

pytestmark = [
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),  # one processor per file
    pytest.mark.timeout(300 + EVENTS // 5),
]


class Heard:
    """`heard run` in its own process group, so a kill takes gunicorn's worker too."""

    def __init__(self, tmp_path, fake_slack, acme, db_url):
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
        self.env |= {"SLACK_BOT_TOKEN": acme.bot_token, "SLACK_SIGNING_SECRET": SECRET,
                     "SLACK_API_URL": fake_slack.url, "DATABASE_URL": db_url, "PORT": str(self.port)}  # fmt: skip
        self.cwd, self.log, self.process = tmp_path, tmp_path / "heard.log", None
        self.sender = SlackRequestSender(f"http://127.0.0.1:{self.port}", SECRET, timeout=10)

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--no-scheduler"], env=self.env,
                                            cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.sender.get("/healthz").status == 200:
                    return
            except (urllib.error.URLError, OSError):
                pass
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError("heard run did not answer /healthz:\n" + self.log.read_text()[-3000:])

    def signal(self, signum: int) -> None:
        os.killpg(self.process.pid, signum)

    def wait(self) -> int:
        return self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture
def heard(tmp_path, fake_slack, acme, db_url):
    started = Heard(tmp_path, fake_slack, acme, db_url)
    started.start()
    engine = create_engine(db_url)
    with engine.begin() as connection:  # #customer-feedback is a feedback channel
        from sqlalchemy.orm import Session

        with Session(bind=connection) as session:
            workspace_id = session.execute(text("SELECT id FROM workspaces WHERE team_id = :t"), {"t": ACME}).scalar()
            change_setting(session, workspace_id, FEEDBACK_CHANNELS, [FEEDBACK], by=None,
                           now=datetime.now(UTC), action="test")  # fmt: skip
            session.flush()
    started.engine = engine
    yield started
    started.stop()
    engine.dispose()


def deliveries(count: int, seed: int) -> list[tuple[str, dict]]:
    """`count` distinct message events, each delivered 1-3 times, shuffled."""
    chance = random.Random(seed)
    events = []
    for n in range(count):
        event = {"type": "message", "channel": FEEDBACK, "channel_type": "channel", "user": SAM,
                 "text": f"Customer note {n}", "ts": f"1795600000.{n:06d}", "team": ACME}  # fmt: skip
        events += [(f"EvFAULT{n:06d}", event)] * chance.randint(1, 3)
    chance.shuffle(events)
    return events


def send(heard: Heard, deliveries: list[tuple[str, dict]], answered: set, unanswered: list, lock,
         sent: list | None = None) -> None:  # fmt: skip
    """Send from SENDERS threads; record which event ids got 200 and which got no answer,
    and count the deliveries made in `sent[0]`."""
    sent = sent if sent is not None else [0]

    def sender(share):
        for event_id, event in share:
            try:
                ok = heard.sender.event(event, team_id=ACME, event_id=event_id).status == 200
            except (urllib.error.URLError, OSError):
                ok = False  # the process is down: Slack retries it later
            with lock:
                (answered.add(event_id) if ok else unanswered.append((event_id, event)))
                sent[0] += 1

    threads = [threading.Thread(target=sender, args=(deliveries[i::SENDERS],)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)


def items(heard: Heard) -> tuple[int, int]:
    with heard.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(FeedbackItem.__table__)).scalar()
        distinct = connection.execute(select(func.count(FeedbackItem.message_ts.distinct()))).scalar()
    return total, distinct


def await_items(heard: Heard, expected: int) -> tuple[int, int]:
    deadline = time.monotonic() + DRAIN_SECONDS
    while items(heard)[0] < expected and time.monotonic() < deadline:
        time.sleep(0.25)
    time.sleep(0.5)  # a duplicate would show up now, not later
    if items(heard)[0] < expected:
        with heard.engine.connect() as connection:
            states = connection.execute(text("SELECT status, count(*) FROM inbox GROUP BY status")).all()
        print("inbox:", states, "\n", heard.log.read_text()[-4000:])
    return items(heard)


def test_sigkill_mid_stream_loses_nothing_and_doubles_nothing(heard):
    planned = deliveries(EVENTS, seed=14)
    kill_at = random.Random(15).randint(len(planned) // 4, len(planned) * 3 // 4)
    answered, unanswered, lock, sent = set(), [], threading.Lock(), [0]

    def kill_when_due():
        while sent[0] < kill_at and heard.process.poll() is None:
            time.sleep(0.005)
        heard.signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_when_due)
    killer.start()
    send(heard, planned, answered, unanswered, lock, sent)
    killer.join(timeout=60)
    heard.wait()
    heard.start()  # whatever was stored and not processed is processed now
    retries = list(unanswered)
    unanswered.clear()
    send(heard, retries, answered, unanswered, lock)
    assert unanswered == []
    assert await_items(heard, EVENTS) == (EVENTS, EVENTS)


def test_sigterm_under_load_keeps_every_answered_event(heard):
    planned = deliveries(EVENTS // 2, seed=16)
    answered, unanswered, lock = set(), [], threading.Lock()
    sending = threading.Thread(target=send, args=(heard, planned, answered, unanswered, lock))
    sending.start()
    while len(answered) < EVENTS // 6:  # distinct events answered: a third of them
        time.sleep(0.005)
    heard.signal(signal.SIGTERM)  # a deploy: stop accepting, finish the batch in hand, exit
    sending.join(timeout=600)
    assert heard.wait() in (0, -signal.SIGTERM)
    heard.start()
    distinct = len(answered)
    total, found = await_items(heard, distinct)
    assert total == found and found >= distinct  # every answered event is an item, once


def test_a_worker_stopped_with_sigterm_finishes_its_batch_and_leaves_the_rest_for_the_next(heard, acme):
    # `heard worker` is the processor of a scaled deployment; a deploy stops it with SIGTERM
    # in the middle of a backlog. It must exit soon, keep what it finished, hold no claim,
    # and leave every other event for the next worker: all become items, once.
    heard.signal(signal.SIGTERM)  # heard run stops: on SQLite one process is the processor
    assert heard.wait() in (0, -signal.SIGTERM)
    count = max(EVENTS, 1500)
    runtime = Runtime.from_settings(Settings(_env_file=None, database_url=heard.env["DATABASE_URL"]))
    now = datetime.now(UTC)
    for event_id, event in sorted(dict(deliveries(count, seed=19)).items()):  # each event once
        envelope = {"type": "event_callback", "team_id": ACME, "event_id": event_id, "event": event,
                    "authorizations": [{"team_id": ACME, "user_id": acme.bot_user_id, "is_bot": True}]}  # fmt: skip
        inbox.store(runtime, event_id=event_id, team_id=ACME, body=json.dumps(envelope), now=now)
    runtime.engine.dispose()

    def start_worker() -> subprocess.Popen:
        with heard.log.open("a") as log:
            return subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=heard.env, cwd=heard.cwd,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    worker = start_worker()
    try:
        deadline = time.monotonic() + 60
        while items(heard)[0] == 0 and time.monotonic() < deadline:
            assert worker.poll() is None, heard.log.read_text()[-3000:]
            time.sleep(0.01)
        os.killpg(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, heard.log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    kept, _ = items(heard)
    with heard.engine.connect() as connection:
        states = dict(connection.execute(text("SELECT status, count(*) FROM inbox GROUP BY status")).all())
    assert 0 < kept < count, "the worker was to be stopped in the middle of its backlog"
    assert states.get("processing", 0) == 0 and states.get("done") == kept and states.get("pending") == count - kept

    worker = start_worker()
    try:
        assert await_items(heard, count) == (count, count)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
