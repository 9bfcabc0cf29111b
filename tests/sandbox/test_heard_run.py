"""`heard run` as deployed: a gunicorn process serving /slack/events and /healthz on $PORT."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from bot.features import ROOMS
from bot.sandbox import SlackRequestSender

SECRET = "run-test-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A child process whose output lines can be awaited."""

    def __init__(self, args, env, cwd):
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.popen.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of output

    def await_line(self, needle: str, timeout: float = 30) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {needle!r} within {timeout}s:\n{''.join(self.seen)}")
            if line == "":
                raise AssertionError(f"exited before {needle!r}:\n{''.join(self.seen)}")
            self.seen.append(line)
            if needle in line:
                return line

    def output(self, timeout: float = 60) -> list[str]:
        """Every line the process printed, once it has exited."""
        self.popen.wait(timeout=timeout)
        while (line := self.lines.get(timeout=timeout)) != "":
            self.seen.append(line)
        return [line.rstrip("\n") for line in self.seen]

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=30)


@pytest.fixture
def heard_run(tmp_path, fake_slack, acme):
    processes = []

    def start(*args, **env_overrides):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
        env |= {
            "SLACK_BOT_TOKEN": acme.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake_slack.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
            "PORT": str(port),
        } | env_overrides
        process = Process([sys.executable, "-m", "bot", "run", *args], env, tmp_path)
        processes.append(process)
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.stop()


def slash_reply(fake_slack, response, url: str, timeout: float = 10) -> dict:
    """The answer in the ack, or posted to `url` by the worker soon after it."""
    deadline = time.monotonic() + timeout
    while not (reply := fake_slack.slash_reply(response, url)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return reply


def test_run_serves_slack_and_health_with_the_scheduler(heard_run, acme, fake_slack):
    process, url = heard_run()
    process.await_line("scheduler started")
    sender = SlackRequestSender(url, SECRET, response_url_factory=fake_slack.response_url)
    assert sender.get("/healthz").json() == {"ok": True, "database": "ok"}
    forged = sender.command("help", team_id=acme.team_id, user_id="U0MAYA0001", sign_with="x")
    assert forged.status == 401
    reply_to = fake_slack.response_url(acme.team_id)
    signed = sender.command("help", team_id=acme.team_id, user_id="U0MAYA0001", response_url=reply_to)
    assert signed.status == 200
    assert "Commands" in slash_reply(fake_slack, signed, reply_to)["text"]
    assert sender.get("/nope").status == 404
    assert process.stop() == 0


def test_run_without_scheduler_serves_only(heard_run):
    process, url = heard_run("--no-scheduler")
    process.await_line("Booting worker")
    assert SlackRequestSender(url, SECRET).get("/healthz").status == 200
    process.stop()
    assert not any("scheduler started" in line for line in process.seen)


def test_run_logs_the_migrations_it_applied_not_alembic_chatter(heard_run):
    process, _ = heard_run("--no-scheduler")
    process.await_line("Booting worker")
    process.stop()
    migrated = [line for line in process.seen if "migration" in line.lower()]
    assert len(migrated) == 1 and "applied database migrations 0001, " in migrated[0]
    assert not any("alembic" in line or "slack_bolt" in line for line in process.seen)


def errors_after_migrating(process: Process) -> list[str]:
    """What the process printed, less the one line saying which migrations a fresh
    database got (each test starts on an empty file)."""
    return [line for line in process.output() if "applied database migrations" not in line]


def test_run_with_a_refused_token_is_one_line_and_exit_1(heard_run):
    process, _ = heard_run(SLACK_BOT_TOKEN="xoxb-not-a-real-token")
    # Not preceded by Bolt's "`token` will be unused" warning or slack_sdk's logs.
    [line] = errors_after_migrating(process)
    assert line.startswith("heard: Slack refused SLACK_BOT_TOKEN")
    assert process.popen.returncode == 1


def test_run_with_slack_unreachable_is_one_line_and_exit_1(heard_run):
    process, _ = heard_run(SLACK_API_URL="http://127.0.0.1:9/api/")
    # Not preceded by slack_sdk's "Failed to send" and "Going to retry" for each retry.
    [line] = errors_after_migrating(process)
    assert line.startswith("heard: cannot reach Slack at http://127.0.0.1:9/api/")
    assert process.popen.returncode == 1


def test_run_without_credentials_is_one_line_pointing_to_the_demo(heard_run):
    process, _ = heard_run(SLACK_BOT_TOKEN="", SLACK_SIGNING_SECRET="")
    [line] = process.output()
    assert line.startswith("heard: no Slack credentials") and "heard demo" in line
    assert process.popen.returncode == 2


def test_clock_runs_the_scheduler_until_terminated(tmp_path, fake_slack, acme):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
    env |= {"SLACK_BOT_TOKEN": acme.bot_token, "SLACK_API_URL": fake_slack.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'clock.db'}"}  # fmt: skip
    process = Process([sys.executable, "-m", "bot", "clock"], env, tmp_path)
    process.await_line("scheduler started")
    assert process.stop() == 0


def test_clock_without_a_token_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
    result = subprocess.run([sys.executable, "-m", "bot", "clock"], check=False, env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_run_with_the_port_taken_is_one_line_and_exit_1(heard_run):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        process, _ = heard_run(PORT=str(port))
        [line] = process.output()  # at once: gunicorn's five tries, a second apart, are not made
    assert line == f"heard: cannot serve HTTP on port {port}: Address already in use"
    assert process.popen.returncode == 1


def test_run_with_a_database_it_cannot_open_is_one_line_and_exit_1(heard_run, tmp_path):
    process, _ = heard_run(DATABASE_URL=f"sqlite:///{tmp_path}/no/such/dir/heard.db")
    [line] = process.output()
    assert line.startswith("heard: cannot connect to the database sqlite:///")
    assert process.popen.returncode == 1


def test_run_with_a_malformed_setting_read_by_the_worker_is_one_line_and_exit_2(heard_run):
    process, _ = heard_run(HEARD_SLASH_COMMAND="heard")  # checked by Settings, in the worker
    [line] = process.output()
    assert line.startswith("heard: HEARD_SLASH_COMMAND must look like /heard")
    assert process.popen.returncode == 2


# Each process (gunicorn's master, its worker) writes the modules it holds as it exits.
RUN_AND_LIST_MODULES = """
import atexit, json, os, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(f"{out}.{os.getpid()}", "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["heard", "run", "--no-scheduler"]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""

APP_PACKAGES = {"sqlalchemy", "pydantic", "pydantic_settings", "slack_bolt", "slack_sdk", "apscheduler",
                "alembic", "rich", "psycopg", "asyncio"}  # fmt: skip


def test_gunicorn_master_holds_gunicorn_only_and_the_worker_builds_the_app(tmp_path, fake_slack, acme):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
    env |= {"SLACK_BOT_TOKEN": acme.bot_token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}", "PORT": str(port)}  # fmt: skip
    listing = tmp_path / "modules"
    process = Process([sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing)], env, tmp_path)
    process.await_line("Booting worker")
    assert SlackRequestSender(f"http://127.0.0.1:{port}", SECRET).get("/healthz").status == 200
    assert process.stop() == 0
    master = set(json.loads(listing.with_name(f"modules.{process.popen.pid}").read_text()))
    [worker_file] = [path for path in tmp_path.glob("modules.*") if path.name != f"modules.{process.popen.pid}"]
    worker = set(json.loads(worker_file.read_text()))
    assert "gunicorn.arbiter" in master
    assert sorted(name for name in master if name.split(".")[0] in APP_PACKAGES) == []
    # Of Heard's own: the command line (and the rooms' command lines, typer only) and the server.
    ours = {name for name in master if name.split(".")[0] == "bot"}
    assert {name for name in ours if not name.endswith(".cli")} <= {
        "bot", "bot.__main__", "bot.cli", "bot.environ", "bot.web", "bot.errors", "bot.features",
        *(f"bot.features.{room}" for room in ROOMS),
    }  # fmt: skip
    assert {"sqlalchemy", "slack_bolt", "bot.settings", "bot.app"} <= worker
