"""`heard --help` answers at once: asking for help never imports the heavy libraries.

Importing SQLAlchemy, Alembic, Bolt and the rooms took `heard --help` to 2.6 s. Each
case runs the real entry point (`bot/__main__.py`, as `python -m bot` does) in a fresh
interpreter and reads `sys.modules` as the process exits; `benchmarks/cli.py` measures
the time.
"""

import json
import os
import subprocess
import sys

import pytest

# Top-level packages that help and usage errors must not load (each costs 0.1 s to 1 s).
HEAVY = {
    "alembic",
    "apscheduler",
    "gunicorn",
    "matplotlib",
    "numpy",
    "openai",
    "psycopg",
    "pydantic",
    "pydantic_settings",
    "rich",
    "sklearn",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
}

HELP = [
    (),
    ("jobs",),
    ("jobs", "list"),
    ("jobs", "run"),
    ("db",),
    ("db", "upgrade"),
    ("feedback",),
    ("feedback", "import"),
    ("export",),
    ("run",),
    ("clock",),
    ("manifest",),
    ("demo",),
]


# `python -X importtime` would not do: it misses modules imported with importlib, as
# bot.cli imports the rooms' command lines.
RUN_AND_LIST_MODULES = """
import atexit, json, runpy, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["heard", *args]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


def imports_of(*args: str, cwd) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `heard ARGS` in a fresh interpreter; its exit and the modules it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    listing = cwd / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *args],
        check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result, set(json.loads(listing.read_text()))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in HEAVY)


@pytest.mark.parametrize("command", HELP, ids=lambda command: " ".join(command) or "heard")
def test_help_imports_no_heavy_module(tmp_path, command):
    result, modules = imports_of(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage: heard" in result.stdout
    # The listing was read: the CLI and every room's commands were imported.
    assert {"typer", "bot.cli", "bot.features.admin.cli", "bot.features.feedback.cli"} <= modules
    assert heavy_in(modules) == []


@pytest.mark.parametrize(
    "args", [("frobnicate",), ("jobs", "lst"), ("run", "--bogus"), ("jobs", "run"), ()]
)
def test_usage_errors_import_no_heavy_module(tmp_path, args):
    result, modules = imports_of(*args, cwd=tmp_path)
    assert result.returncode == 2
    # Typer coerces a given (or missing) argument's value with pydantic; nothing else loads.
    assert [name for name in heavy_in(modules) if name.split(".")[0] != "pydantic"] == []


def test_a_command_that_works_does_import_them(tmp_path):
    """The check can fail: a real command loads SQLAlchemy and Alembic."""
    result, modules = imports_of("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"sqlalchemy", "alembic"} <= set(heavy_in(modules))


# What `heard run`'s worker does before /healthz answers (bot.cli._build_web, then what
# gunicorn's post_worker_init starts), in a fresh interpreter, and the modules it imported.
BUILD_AND_LIST_MODULES = """
import json, sys
from bot.cli import _build_web
served = _build_web(False, int(sys.argv[2]))
served.start()
modules = sorted(sys.modules)
served.stop()
open(sys.argv[1], "w").write(json.dumps(modules))
"""

# Modules a start (HTTP, one workspace, SQLite, migrated) must not import, each for the
# time it cost every start (issue 20, benchmarks/footprint.py): pydantic (Settings and the
# LLM's answer schemas), rich (the rooms' demos), Alembic (the schema is current), openai
# (no key), and slack-sdk's OAuth stores with SQLAlchemy's asyncio extension. (SQLAlchemy's
# PostgreSQL dialect is still loaded on SQLite: the feedback room's partial indexes name
# `postgresql_where`, which SQLAlchemy checks against that dialect.)
NOT_AT_START = ("pydantic", "rich", "alembic", "openai", "sqlalchemy.ext.asyncio",
                "slack_sdk.oauth.installation_store.sqlalchemy", "slack_sdk.oauth.state_store.sqlalchemy")  # fmt: skip


def test_a_server_start_imports_only_what_it_serves_with(tmp_path, fake_slack, acme):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE_URL", "PORT"))}
    env |= {"SLACK_BOT_TOKEN": acme.bot_token, "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake_slack.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'heard.db'}", "PORT": "3999"}  # fmt: skip
    upgrade = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], check=False, cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    listing = tmp_path / "modules.json"
    built = subprocess.run([sys.executable, "-c", BUILD_AND_LIST_MODULES, str(listing), "3999"], check=False, cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    modules = set(json.loads(listing.read_text()))
    # The check can fail: the app, its database and every room's listeners were loaded.
    assert {"slack_bolt", "sqlalchemy.orm", "apscheduler", "bot.app", "bot.features.digest.handlers"} <= modules
    loaded = sorted(name for name in modules if name.startswith(NOT_AT_START) or name.endswith(".demo"))
    assert loaded == []
