"""The architecture is written down as import-linter contracts (pyproject.toml); `make test`
runs them. These tests show that they hold, and that they fail when a room's service
reaches for the Slack SDK or another room's internals."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint(cwd: Path) -> subprocess.CompletedProcess:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint_imports), "--no-cache"], cwd=cwd, env={"PYTHONPATH": str(cwd), "PATH": ""},
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


@pytest.fixture
def copy(tmp_path) -> Path:
    """The package and its contracts, copied where a test may break them."""
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "0 broken" in result.stdout


def test_a_service_importing_the_slack_sdk_breaks_a_contract(copy):
    service = copy / "bot" / "features" / "feedback" / "service.py"
    service.write_text(service.read_text() + "\nfrom slack_sdk import WebClient  # noqa\n")
    result = lint(copy)
    assert result.returncode == 1
    assert "bot.features.feedback.service is not allowed to import slack_sdk" in result.stdout


def test_a_room_reading_another_rooms_tables_breaks_a_contract(copy):
    commands = copy / "bot" / "features" / "admin" / "commands.py"
    commands.write_text(commands.read_text() + "\nfrom bot.features.feedback import service  # noqa\n")
    result = lint(copy)
    assert result.returncode == 1 and "BROKEN" in result.stdout
    # …while its queries module is the way in
    commands.write_text(commands.read_text().replace("import service  # noqa", "import queries  # noqa"))
    assert lint(copy).returncode == 0


def test_the_core_naming_a_room_breaks_a_contract(copy):
    outbox = copy / "bot" / "slack" / "outbox.py"
    outbox.write_text(outbox.read_text() + "\nfrom bot.features.feedback import service  # noqa\n")
    result = lint(copy)
    assert result.returncode == 1
    assert "bot.slack.outbox -> bot.features.feedback.service" in result.stdout
