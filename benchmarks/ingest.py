"""How fast Heard takes in Slack events, against a no-op Bolt app measured in the same run.

    .venv/bin/python benchmarks/ingest.py [--events N] [--connections C] [--rate R]
        [--steady-seconds S] [--rounds K] [--postgres URL] [--only sqlite|postgres]

Starts two real servers on loopback, each a process of its own under the same gunicorn
settings (bot.web.HeardServer: 1 worker, gthread, 8 threads):

- A: Heard's `web` process, `heard run --no-scheduler`, with a fresh database that has
  Acme installed and C0FEEDBACK as its feedback channel, talking to the sandbox's fake
  Slack (served by a thread of this process);
- B: a Bolt app with the same token and signing secret whose `message` listener does
  nothing: the floor any Bolt app on this machine pays for an event.

and drives both with the same loader: C threads, each with a keep-alive http.client
connection, sending correctly signed `message` events in C0FEEDBACK (a unique
`event_id` and `ts` each). Rounds alternate A B A B; in each round an app gets N
events at full speed (acknowledged events/s, p50/p99 from send to 200), then R
events/s offered for S seconds (p99 from the moment each was due, so a server that
falls behind shows its queue). Server CPU per event is read from /proc (utime+stime of
the gunicorn master and its worker) from the first request until the work is done.
For Heard, "stored events/s" is from the first request of the full-speed phase until
`feedback_items` holds every event sent (the backlog after the acks included); at the
end items must equal the distinct events sent.

SQLite always (unless --only postgres); PostgreSQL too when --postgres or
HEARD_TEST_DATABASE_URL names a server (a database is created for the run and dropped).
Everything is bounded in count and time; the servers are killed at the end, even on
error. Not a test: nothing here can fail a build (tests/faults/ holds the tests).
To measure a commit other than the work tree, export it and put it first on the path:
`git archive REV | tar -x -C /tmp/rev && PYTHONPATH=/tmp/rev .venv/bin/python benchmarks/ingest.py`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import platform
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SECRET = "bench-signing-secret"
CHANNEL = "C0FEEDBACK"
AUTHOR = "U0SAM00006"
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
POSTGRES_ENV = "HEARD_TEST_DATABASE_URL"
START_TIMEOUT = 90.0  # seconds for a server to answer its health check
REQUEST_TIMEOUT = 30.0
GOAL_ACK_RATIO, GOAL_STEADY_P99, GOAL_STORED_RATIO = 0.7, 0.050, 0.5


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the no-op app (run by this file as its own process) -----------------------------------------


def serve_noop() -> None:
    """B: a Bolt app with Heard's token, secret and gunicorn settings, doing nothing per event."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bot.web import HeardServer

    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(name="noop", signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client)

    @app.event("message")
    def nothing() -> None:
        return None

    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict, start_response):
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")]
            )
            return [b'{"ok":true}']
        return slack(environ, start_response)

    HeardServer(wsgi, port=int(os.environ["PORT"])).run()


# -- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree_cpu(root: int) -> float:
    """utime+stime in seconds of `root` and every process descended from it."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2 :].split()  # fields 3.. (the name may hold spaces)
        parents[int(entry)] = int(rest[1])
        ticks[int(entry)] = int(rest[11]) + int(rest[12])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def cpu(self) -> float:
        return process_tree_cpu(self.process.pid)

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", HEALTH_PATH)
                if connection.getresponse().status == 200:
                    connection.close()
                    return
                connection.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.name} did not answer {HEALTH_PATH} in {START_TIMEOUT:.0f}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM to the process group this benchmark started, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=25)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # stray workers of a dead master too
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def server_env(database_url: str, slack_url: str, bot_token: str, port: int) -> dict[str, str]:
    """This shell's environment without any Slack, Heard or database setting of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "HEARD_", "OPENAI_"))
        and key not in ("DATABASE_URL", "PORT")
    }
    env.update(
        SLACK_BOT_TOKEN=bot_token, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_url,
        DATABASE_URL=database_url, PORT=str(port), PYTHONUNBUFFERED="1",
    )  # fmt: skip
    return env


def start_server(name: str, args: list[str], env: dict[str, str], workdir: Path) -> Server:
    log_path = workdir / f"{name.split()[0].lower()}-{env['PORT']}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return Server(name, int(env["PORT"]), process, log_path)


# -- the database ----------------------------------------------------------------------------------


def prepare_database(
    url: str, workdir: Path, env: dict[str, str], team_id: str, team_name: str, bot_user: str
) -> None:
    """`heard db upgrade`, then Acme installed with C0FEEDBACK as its feedback channel."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], check=False, cwd=workdir, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"heard db upgrade failed:\n{done.stdout}{done.stderr}")
    from bot.db import create_db_engine, session_factory
    from bot.features.feedback.config import FEEDBACK_CHANNELS
    from bot.workspace_settings import change_setting
    from bot.workspaces import WorkspaceInfo, record_install

    engine = create_db_engine(url)
    try:
        now = datetime.now(UTC)
        with session_factory(engine).begin() as session:
            workspace = record_install(
                session, WorkspaceInfo(team_id=team_id, name=team_name, bot_user_id=bot_user), now
            )
            change_setting(
                session,
                workspace.id,
                FEEDBACK_CHANNELS,
                [CHANNEL],
                by=None,
                now=now,
                action="bench",
            )
    finally:
        engine.dispose()


class ItemCounter:
    """Reads how many feedback items the database holds (this process's own connection)."""

    def __init__(self, url: str):
        from sqlalchemy import text

        from bot.db import create_db_engine

        self._engine = create_db_engine(url)
        self._text = text

    def count(self) -> int:
        with self._engine.connect() as connection:
            return connection.execute(
                self._text("SELECT count(*) FROM feedback_items")
            ).scalar_one()

    def distinct_messages(self) -> int:
        query = "SELECT count(DISTINCT message_ts) FROM feedback_items WHERE channel_id = :channel"
        with self._engine.connect() as connection:
            return connection.execute(self._text(query), {"channel": CHANNEL}).scalar_one()

    def wait_for(self, expected: int, timeout: float) -> float | None:
        """perf_counter() when the count first reached `expected`, or None at the timeout."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.count() >= expected:
                return time.perf_counter()
            if time.perf_counter() > deadline:
                return None
            time.sleep(0.05)

    def close(self) -> None:
        self._engine.dispose()


class PostgresDatabase:
    """A database of its own on the server `base_url` names, dropped by `drop()`."""

    def __init__(self, base_url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        base = make_url(
            base_url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
                "postgres://", "postgresql+psycopg://", 1
            )
        )
        self.name = f"heard_bench_{os.getpid()}"
        self._admin = create_engine(base, isolation_level="AUTOCOMMIT", future=True)
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        from sqlalchemy import text

        with self._admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        from sqlalchemy import text

        try:
            with self._admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        finally:
            self._admin.dispose()


# -- the loader ------------------------------------------------------------------------------------


class EventMaker:
    """Signed `message` events as Slack sends them: a new event_id and ts for each."""

    def __init__(self, team_id: str, bot_user: str):
        self.team_id = team_id
        self.bot_user = bot_user
        self.tag = secrets.token_hex(3).upper()
        self.second = int(time.time()) - 3600  # every ts this run is a microsecond of this second
        self.made = 0

    def batch(self, count: int) -> list[tuple[bytes, dict[str, str]]]:
        stamp = str(int(time.time()))
        requests = []
        for _ in range(count):
            self.made += 1
            if self.made >= 1_000_000:
                raise RuntimeError("more than 999,999 events: ts would repeat")
            ts = f"{self.second}.{self.made:06d}"
            event = {
                "type": "message", "channel": CHANNEL, "user": AUTHOR, "ts": ts, "event_ts": ts,
                "text": f"Customer {self.made}: the CSV export drops the time zone on every date",
                "team": self.team_id, "channel_type": "channel",
                "client_msg_id": f"{secrets.token_hex(4)}-{self.made:04x}-4000-8000-{secrets.token_hex(6)}",
            }  # fmt: skip
            envelope = {
                "token": "fake-verification-token", "team_id": self.team_id, "enterprise_id": None,
                "context_team_id": self.team_id, "context_enterprise_id": None, "api_app_id": "A0HEARD",
                "event": event, "type": "event_callback", "event_id": f"Ev0{self.tag}{self.made:07d}",
                "event_time": self.second,
                "authorizations": [{"enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user,
                                    "is_bot": True, "is_enterprise_install": False}],
                "authed_users": [self.bot_user], "is_ext_shared_channel": False,
                "event_context": f"4-{secrets.token_urlsafe(24)}",
            }  # fmt: skip
            body = json.dumps(envelope).encode()
            mac = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
            requests.append((body, {
                "Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": "v0=" + mac.hexdigest(),
                "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            }))  # fmt: skip
        return requests


@dataclass
class Load:
    """What one phase of the loader saw."""

    sent: int
    ok: int
    statuses: Counter
    started: float  # perf_counter of the phase start (its first request)
    last_ack: float
    latencies: list[float]  # send -> 200, seconds
    late: list[float]  # due -> 200, seconds (paced phases)
    retries: int = 0
    loader_cpu: float = 0.0  # seconds of this process's CPU while it sent them

    @property
    def rate(self) -> float:
        return self.ok / max(self.last_ack - self.started, 1e-9)


def drive(port: int, requests: list[tuple[bytes, dict[str, str]]], connections: int, *,
          rate: float | None = None, budget: float) -> Load:  # fmt: skip
    """Send `requests` over `connections` keep-alive connections, as fast as they are
    answered or `rate` per second; stops taking new ones after `budget` seconds."""
    total = len(requests)
    sent_at = [0.0] * total
    acked_at = [0.0] * total
    status = [0] * total
    lock = threading.Lock()
    cursor = [0]
    retries = [0]
    ready = threading.Barrier(connections + 1)
    start = [0.0]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        ready.wait()
        t0, deadline = start[0], start[0] + budget
        try:
            while True:
                with lock:
                    index = cursor[0]
                    cursor[0] += 1
                if index >= total:
                    return
                due = t0 + index / rate if rate else t0
                now = time.perf_counter()
                if now > deadline:
                    return
                if due > now:
                    time.sleep(due - now)
                body, headers = requests[index]
                for attempt in (1, 2):  # a keep-alive connection the server closed while idle
                    sent_at[index] = time.perf_counter()
                    try:
                        connection.request("POST", EVENTS_PATH, body, headers)
                        reply = connection.getresponse()
                        reply.read()
                        status[index] = reply.status
                        acked_at[index] = time.perf_counter()
                        break
                    except (OSError, http.client.HTTPException):
                        connection.close()
                        if attempt == 2:
                            status[index] = -1
                        else:
                            with lock:
                                retries[0] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start[0] = time.perf_counter() + 0.01
    ready.wait()
    for thread in threads:
        thread.join(budget + 2 * REQUEST_TIMEOUT + 5)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    loader_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    done = [i for i in range(total) if status[i] == 200]
    sent = sum(1 for i in range(total) if sent_at[i])
    return Load(
        sent=sent, ok=len(done), statuses=Counter(s for s in status[:sent] if s != 200),
        started=start[0], last_ack=max((acked_at[i] for i in done), default=start[0]),
        latencies=[acked_at[i] - sent_at[i] for i in done],
        late=[acked_at[i] - (start[0] + i / rate) for i in done] if rate else [],
        retries=retries[0], loader_cpu=loader_cpu,
    )  # fmt: skip


# -- one round of one app ---------------------------------------------------------------------------


@dataclass
class Round:
    full: Load
    steady: Load
    cpu_per_event: float  # seconds
    stored_rate: float | None = None  # events/s into feedback_items, backlog included
    drained_after: float | None = None  # seconds after the last ack until all were stored
    steady_drained_after: float | None = None
    steady_cpu_per_event: float = 0.0


@dataclass
class Subject:
    name: str
    server: Server
    items: ItemCounter | None = None  # Heard only
    sent: int = 0  # events sent to it, all phases
    rounds: list[Round] = field(default_factory=list)


@dataclass
class Plan:
    events: int
    connections: int
    rate: float
    steady_seconds: float
    rounds: int
    warmup: int
    drain_timeout: float


def settle(subject: Subject, timeout: float) -> float | None:
    """Wait until Heard has stored every event sent to it; perf_counter() then, or None."""
    if subject.items is None:
        time.sleep(0.3)  # the no-op listener runs on a thread after the ack
        return time.perf_counter()
    reached = subject.items.wait_for(subject.sent, timeout)
    if reached is None:
        log(
            f"{subject.name}: {subject.items.count()} of {subject.sent} events stored after {timeout:.0f}s; going on"
        )
    return reached


def warm_up(subject: Subject, maker: EventMaker, plan: Plan) -> None:
    load = drive(subject.server.port, maker.batch(plan.warmup), min(plan.connections, 4), budget=60)
    subject.sent += load.sent
    settle(subject, plan.drain_timeout)


def run_round(subject: Subject, maker: EventMaker, plan: Plan) -> Round:
    port = subject.server.port
    requests = maker.batch(plan.events)
    cpu_before = subject.server.cpu()
    full = drive(port, requests, plan.connections, budget=max(60.0, plan.events / 20))
    subject.sent += full.sent
    stored_at = settle(subject, plan.drain_timeout)
    cpu = subject.server.cpu() - cpu_before
    stored_rate = drained_after = None
    if subject.items is not None and stored_at is not None:
        stored_rate = full.sent / (stored_at - full.started)
        drained_after = max(0.0, stored_at - full.last_ack)

    requests = maker.batch(int(plan.rate * plan.steady_seconds))
    cpu_before = subject.server.cpu()
    steady = drive(
        port, requests, plan.connections, rate=plan.rate, budget=plan.steady_seconds + 20
    )
    subject.sent += steady.sent
    steady_stored = settle(subject, plan.drain_timeout)
    steady_cpu = (subject.server.cpu() - cpu_before) / max(steady.ok, 1)
    steady_drained_after = None
    if subject.items is not None and steady_stored is not None:
        steady_drained_after = max(0.0, steady_stored - steady.last_ack)
    result = Round(
        full,
        steady,
        cpu / max(full.ok, 1),
        stored_rate,
        drained_after,
        steady_drained_after,
        steady_cpu,
    )
    log(
        f"{subject.name}: {full.rate:,.0f} acks/s, p99 {percentile(full.latencies, 99) * 1000:,.0f} ms, "
        f"{result.cpu_per_event * 1000:.1f} ms CPU/event (loader {full.loader_cpu / max(full.sent, 1) * 1000:.1f} ms)"
        + (f", stored {stored_rate:,.0f}/s" if stored_rate else "")
        + f"; steady {steady.rate:,.0f}/s p99 {percentile(steady.late, 99) * 1000:,.0f} ms, "
        f"{steady_cpu * 1000:.1f} ms CPU/event"
    )
    return result


# -- reporting --------------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def median_of(rounds: list[Round], pick: Callable[[Round], float | None]) -> float | None:
    values = [v for v in (pick(r) for r in rounds) if v is not None]
    return statistics.median(values) if values else None


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.0095 else f"{seconds * 1000:.1f} ms"


def report(
    database: str, heard: Subject, noop: Subject, plan: Plan, items: int, distinct: int
) -> None:
    def pooled(subject: Subject, phase: str, attr: str) -> list[float]:
        return [v for r in subject.rounds for v in getattr(getattr(r, phase), attr)]

    h_rate = median_of(heard.rounds, lambda r: r.full.rate)
    n_rate = median_of(noop.rounds, lambda r: r.full.rate)
    h50, h99 = (
        percentile(pooled(heard, "full", "latencies"), 50),
        percentile(pooled(heard, "full", "latencies"), 99),
    )
    n50, n99 = (
        percentile(pooled(noop, "full", "latencies"), 50),
        percentile(pooled(noop, "full", "latencies"), 99),
    )
    h_cpu = median_of(heard.rounds, lambda r: r.cpu_per_event)
    n_cpu = median_of(noop.rounds, lambda r: r.cpu_per_event)
    hs_rate = median_of(heard.rounds, lambda r: r.steady.rate)
    ns_rate = median_of(noop.rounds, lambda r: r.steady.rate)
    hs99, ns99 = (
        percentile(pooled(heard, "steady", "late"), 99),
        percentile(pooled(noop, "steady", "late"), 99),
    )
    stored = median_of(heard.rounds, lambda r: r.stored_rate)
    drained = median_of(heard.rounds, lambda r: r.drained_after)
    failed = sum(
        sum(r.full.statuses.values()) + sum(r.steady.statuses.values())
        for s in (heard, noop)
        for r in s.rounds
    )

    rows = [
        ("acknowledged events/s", f"{h_rate:,.0f}", f"{n_rate:,.0f}", f"{h_rate / n_rate:.2f}"),
        ("p50 / p99 ack latency", f"{ms(h50)} / {ms(h99)}", f"{ms(n50)} / {ms(n99)}",
         f"{h50 / n50:.1f}× / {h99 / n99:.1f}×"),
        ("server CPU per event", ms(h_cpu), ms(n_cpu), f"{h_cpu / n_cpu:.1f}×"),
        (f"steady {plan.rate:g}/s offered: rate, p99", f"{hs_rate:,.0f}/s, {ms(hs99)}", f"{ns_rate:,.0f}/s, {ms(ns99)}",
         f"{hs99 / ns99:.1f}× p99"),
        ("stored events/s incl. the backlog", "—" if stored is None else f"{stored:,.0f}", "",
         "—" if stored is None else f"{stored / n_rate:.2f} of B's acks"),
        ("backlog after the last ack", ms(drained), "", ""),
        ("items = distinct events sent", f"{items:,} / {heard.sent:,}", "", "yes" if items == distinct == heard.sent else "NO"),
    ]  # fmt: skip
    head = ("figure", "A: Heard", "B: no-op Bolt", "ratio A/B")
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(4)]
    print(f"\n{database}: {plan.events:,} events at full speed over {plan.connections} connections, then "
          f"{plan.rate:g}/s offered for {plan.steady_seconds:g} s; " + ("A then B" if plan.rounds == 1 else
          f"{plan.rounds} rounds alternating A B"))  # fmt: skip
    for row in [head, *rows]:
        print(
            "  "
            + "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            )
        )
    per_round = "; ".join(
        f"{s.name.split(':')[0]} " + ", ".join(f"{r.full.rate:,.0f}" for r in s.rounds)
        for s in (heard, noop)
    )
    print(f"  acks/s by round: {per_round}; non-200 answers: {failed}")

    goals = [
        (f"acks ≥ {GOAL_ACK_RATIO}× B", f"{h_rate / n_rate:.2f}×", h_rate / n_rate >= GOAL_ACK_RATIO),
        (f"steady p99 ≤ {GOAL_STEADY_P99 * 1000:.0f} ms", ms(hs99), hs99 <= GOAL_STEADY_P99),
        (f"stored ≥ {GOAL_STORED_RATIO}× B's acks", "—" if stored is None else f"{stored / n_rate:.2f}×",
         stored is not None and stored / n_rate >= GOAL_STORED_RATIO),
        ("items = events", f"{items:,} = {heard.sent:,}" if items == heard.sent else f"{items:,} ≠ {heard.sent:,}",
         items == distinct == heard.sent),
    ]  # fmt: skip
    print(
        "  issue 15 goals: "
        + "; ".join(f"{name}: {value} {'met' if ok else 'NOT met'}" for name, value, ok in goals)
    )


# -- a whole run on one database ----------------------------------------------------------------------


def run_database(kind: str, url: str, plan: Plan, workdir: Path) -> None:
    from bot.sandbox import FakeSlack, demo_workspace

    acme = demo_workspace(datetime.now(UTC).replace(microsecond=0))
    servers: list[Server] = []
    items: ItemCounter | None = None
    with FakeSlack(acme) as slack:
        try:
            heard_port, noop_port = free_port(), free_port()
            heard_env = server_env(url, slack.url, acme.bot_token, heard_port)
            log(f"{kind}: heard db upgrade and seeding Acme with feedback channel {CHANNEL}")
            prepare_database(url, workdir, heard_env, acme.team_id, acme.name, acme.bot_user_id)
            heard_server = start_server(
                "A: Heard", ["-m", "bot", "run", "--no-scheduler"], heard_env, workdir
            )
            servers.append(heard_server)
            noop_server = start_server("B: no-op Bolt", [str(Path(__file__).resolve()), "--serve-noop"],
                                       server_env(url, slack.url, acme.bot_token, noop_port), workdir)  # fmt: skip
            servers.append(noop_server)
            for server in servers:
                server.wait_ready()
            items = ItemCounter(url)
            heard = Subject("A: Heard", heard_server, items)
            noop = Subject("B: no-op Bolt", noop_server)
            maker = EventMaker(acme.team_id, acme.bot_user_id)
            log(f"{kind}: both serving; warming up with {plan.warmup} events each")
            for subject in (heard, noop):
                warm_up(subject, maker, plan)
            for number in range(1, plan.rounds + 1):
                for subject in (heard, noop):
                    log(f"{kind}: round {number}, {subject.name}")
                    subject.rounds.append(run_round(subject, maker, plan))
            stored, distinct = items.count(), items.distinct_messages()
            for server in servers:
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
            report(kind, heard, noop, plan, stored, distinct)
        finally:
            if items is not None:
                items.close()
            for server in servers:
                server.stop()


def interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=500, help="events per app per round at full speed (500)"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="concurrent keep-alive connections (16)"
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="events/s offered in the steady phase (100)"
    )
    parser.add_argument(
        "--steady-seconds", type=float, default=10.0, help="length of the steady phase (10)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each A then B (2)")
    parser.add_argument(
        "--warmup", type=int, default=50, help="events sent to each app before measuring (50)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for Heard's backlog (120)",
    )
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get(POSTGRES_ENV),
                        help=f"a PostgreSQL server to create a database on (default ${POSTGRES_ENV})")  # fmt: skip
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="run one database only")
    parser.add_argument("--serve-noop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_noop:
        return serve_noop()
    for name in ("events", "connections", "rounds"):
        if not 1 <= getattr(args, name) <= 100_000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 100000")
    if not (
        0 < args.rate <= 5000 and 0 < args.steady_seconds <= 600 and 0 < args.drain_timeout <= 1800
    ):
        parser.error("--rate, --steady-seconds or --drain-timeout out of range")
    plan = Plan(
        args.events,
        args.connections,
        args.rate,
        args.steady_seconds,
        args.rounds,
        args.warmup,
        args.drain_timeout,
    )

    signal.signal(signal.SIGTERM, interrupted)  # unwinds like Ctrl-C: the servers are stopped
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    print(f"{platform.python_implementation()} {platform.python_version()}, nproc {len(os.sched_getaffinity(0))}, "
          f"{platform.system()} {platform.machine()}; load average {load_before:.1f} at the start")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="heard-ingest-") as tmp:
        workdir = Path(tmp)
        if args.only != "postgres":
            run_database("SQLite", f"sqlite:///{workdir / 'heard.db'}", plan, workdir)
        if args.only != "sqlite":
            if not args.postgres:
                print(f"\nPostgreSQL: skipped (set {POSTGRES_ENV} or pass --postgres URL)")
            else:
                database = PostgresDatabase(args.postgres)
                try:
                    run_database("PostgreSQL", database.url, plan, workdir)
                finally:
                    database.drop()
    print(
        f"\n{time.monotonic() - started:.0f} s in all; load average {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
