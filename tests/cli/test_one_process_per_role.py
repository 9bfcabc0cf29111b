"""On SQLite, a second clock or event processor refuses to start, in one line; on
PostgreSQL any number may run."""

import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import create_engine

from bot.db.locks import AlreadyRunning, claim_role
from tests.cli.run import heard, one_line

HOLD = """
import sys
from sqlalchemy import create_engine
from bot.db.locks import claim_role
claim_role(create_engine(sys.argv[1]), sys.argv[2])
print("held", flush=True)
sys.stdin.read()
"""


def holder(url: str, role: str, cwd) -> subprocess.Popen:
    """Another process playing `role` on the database until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, url, role], cwd=cwd, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_clock_on_one_sqlite_file_stops_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path}/heard.db"
    first = holder(url, "clock", tmp_path)
    try:
        result = heard("clock", cwd=tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-unused")
        assert result.returncode == 1
        line = one_line(result.stderr)
        assert f"(pid {first.pid}) already runs the scheduler on {tmp_path}/heard.db" in line
        assert "use PostgreSQL to run several" in line
    finally:
        first.stdin.close()
        first.wait(10)
    claim_role(create_engine(url), "clock")  # the first one stopped: the role is free


def test_the_processor_role_is_one_process_too_and_roles_are_separate(tmp_path):
    url = f"sqlite:///{tmp_path}/heard.db"
    first = holder(url, "processor", tmp_path)
    try:
        with pytest.raises(AlreadyRunning, match="already processes stored Slack events"):
            claim_role(create_engine(url), "processor")
        claim_role(create_engine(url), "clock")  # a clock beside it is fine
    finally:
        first.stdin.close()
        first.wait(10)


def test_a_worker_replacing_its_sibling_waits_for_the_role_and_nobody_else_does(tmp_path, monkeypatch):
    """A reload of `heard run` (SIGHUP) forks the new gunicorn worker before the old one
    has finished: the new one waits for the old one's role, and only a worker of the same
    master does (the test process stands in for it: both holders are its children)."""
    url = f"sqlite:///{tmp_path}/heard.db"
    claim = [sys.executable, "-c", "import sys; from bot.db.locks import claim_role; claim_role(sys.argv[1], 'processor')", url]
    first = holder(url, "processor", tmp_path)
    try:
        refused = subprocess.run(claim, cwd=tmp_path, capture_output=True, text=True, timeout=20, check=False)
        assert refused.returncode == 1 and "already processes stored Slack events" in refused.stderr  # at once
        monkeypatch.setenv("HEARD_WORKER_OF", str(os.getpid()))  # as HeardServer's master sets it
        waiting = subprocess.Popen(claim, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(0.5)  # it waits for the worker it replaces...
    finally:
        first.stdin.close()
        first.wait(10)
    assert waiting.wait(10) == 0, waiting.stderr.read()  # ...and takes the role once that one is gone


def test_postgresql_lets_every_process_play_every_role(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite's case is above")
    engine = create_engine(db_url)
    for _ in range(2):
        claim_role(engine, "clock")
        claim_role(engine, "processor")
    engine.dispose()


def test_a_database_in_a_missing_directory_is_still_one_clear_line(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/dir/heard.db"
    result = heard("clock", cwd=tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-unused")
    assert result.returncode == 1
    assert "cannot connect to the database" in one_line(result.stderr)


def test_a_second_heard_run_over_http_stops_in_one_line_from_its_gunicorn_worker(tmp_path):
    """`heard run` takes the roles in gunicorn's worker, which builds the app: the refusal
    still reaches the terminal as one line and exit 1, with no worker forked again."""
    url = f"sqlite:///{tmp_path}/heard.db"
    first = holder(url, "processor", tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        result = heard("run", cwd=tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-unused",
                       SLACK_SIGNING_SECRET="unused", PORT=str(port))  # fmt: skip
        assert result.returncode == 1
        assert f"(pid {first.pid}) already processes stored Slack events" in one_line(result.stderr)
        assert result.stdout == ""
    finally:
        first.stdin.close()
        first.wait(10)
