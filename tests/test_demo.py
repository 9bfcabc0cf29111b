import io
import subprocess
import sys
from datetime import UTC, datetime

from rich.console import Console

from bot.demo import run_demo


def test_demo_shows_install_home_help_and_the_manifest_path():
    out = io.StringIO()
    run_demo(Console(file=out, width=120, color_system=None), now=datetime(2026, 11, 25, 9, tzinfo=UTC))
    text = out.getvalue()
    assert "Recorded workspace Acme Robotics (T0ACME001)" in text
    assert "How Heard works" in text  # the App Home the fake Slack accepted
    assert "/heard help" in text
    assert "HTTP 401" in text
    assert "Delivered twice, handled 1 time(s)." in text
    assert "Mon 30 Nov" in text and "weekly-story" in text
    assert "heard manifest --url" in text
    assert " 0 rejected" in text


def test_heard_demo_exits_0_without_credentials(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Summary" in result.stdout
    assert list(tmp_path.iterdir()) == []  # the demo leaves nothing behind
