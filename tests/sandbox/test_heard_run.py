"""`heard run` as deployed: a gunicorn process serving /slack/events and /healthz on $PORT."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading

import pytest

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


def test_run_serves_slack_and_health_with_the_scheduler(heard_run, acme, fake_slack):
    process, url = heard_run()
    process.await_line("scheduler started")
    sender = SlackRequestSender(url, SECRET, response_url_factory=fake_slack.response_url)
    assert sender.get("/healthz").json() == {"ok": True, "database": "ok"}
    forged = sender.command("help", team_id=acme.team_id, user_id="U0MAYA0001", sign_with="x")
    assert forged.status == 401
    signed = sender.command("help", team_id=acme.team_id, user_id="U0MAYA0001")
    assert signed.status == 200 and "Commands" in signed.json()["text"]
    assert sender.get("/nope").status == 404
    assert process.stop() == 0


def test_run_without_scheduler_serves_only(heard_run):
    process, url = heard_run("--no-scheduler")
    process.await_line("Booting worker")
    assert SlackRequestSender(url, SECRET).get("/healthz").status == 200
    process.stop()
    assert not any("scheduler started" in line for line in process.seen)


def test_run_with_a_refused_token_is_one_line_and_exit_1(heard_run):
    process, _ = heard_run(SLACK_BOT_TOKEN="xoxb-not-a-real-token")
    line = process.await_line("Slack refused SLACK_BOT_TOKEN")
    assert line.startswith("heard: ")
    assert process.popen.wait(timeout=60) == 1
    assert not any("Traceback" in seen for seen in process.seen)


def test_run_with_slack_unreachable_is_one_line_and_exit_1(heard_run):
    process, _ = heard_run(SLACK_API_URL="http://127.0.0.1:9/api/")
    assert process.await_line("heard: cannot reach Slack").startswith("heard: ")
    assert process.popen.wait(timeout=60) == 1
    assert not any("Traceback" in seen for seen in process.seen)


def test_clock_runs_the_scheduler_until_terminated(tmp_path, fake_slack, acme):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
    env |= {"SLACK_BOT_TOKEN": acme.bot_token, "SLACK_API_URL": fake_slack.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'clock.db'}"}  # fmt: skip
    process = Process([sys.executable, "-m", "bot", "clock"], env, tmp_path)
    process.await_line("scheduler started")
    assert process.stop() == 0


def test_clock_without_a_token_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
    result = subprocess.run([sys.executable, "-m", "bot", "clock"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and len(result.stderr.strip().splitlines()) == 1
