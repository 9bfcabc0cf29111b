import io
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from rich.console import Console

from bot.demo import run_demo


@pytest.fixture(scope="module")
def demo_output() -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    run_demo(console, now=datetime(2026, 11, 25, 9, tzinfo=UTC))
    return out.getvalue()


def test_demo_installs_and_serves(demo_output):
    assert "Recorded workspace Acme Robotics (T0ACME001)" in demo_output
    assert "HTTP 401" in demo_output
    assert "Delivered twice, handled 1 time(s)." in demo_output
    assert "heard manifest --url" in demo_output
    assert " 0 rejected" in demo_output  # every call passed the fake Slack's checks


def test_demo_shows_an_admin_setting_heard_up(demo_output):
    assert "The workspace takes her time zone (Europe/Berlin)" in demo_output
    assert "Only Heard admins can use pause. Ask @maya, @tomas" in demo_output
    assert "#old-archive is archived; pick another channel. Usage: /heard channel stories|digest" in demo_output
    assert "How Heard works" in demo_output and "Setup (admins)" in demo_output
    assert "1 step left to set Heard up." in demo_output
    assert "Custom for weekly-story" in demo_output


def test_demo_shows_feedback_acknowledged_ignored_and_the_loop_closed(demo_output):
    assert "is now a feedback channel" in demo_output
    assert "Backfilled #customer-feedback: 7 feedback item(s) from the last 30 days, 2 of them already acknowledged." in demo_output
    assert "Customer feedback from @priya" in demo_output
    assert ":eyes: @jonas reacted to the customer feedback you shared." in demo_output
    assert "feedback-sweep: succeeded — 5 newly ignored, 6 reminder(s) queued" in demo_output
    assert "Nobody has acknowledged this customer feedback in 72 hours" in demo_output
    assert "Run again in the same hour: skipped" in demo_output
    assert "@tomas replied to the customer feedback you shared." in demo_output
    assert "Your customer feedback: 1 acknowledged, 2 ignored." in demo_output


def test_what_heard_posts_never_pings(demo_output):
    posted = [line for line in demo_output.splitlines() if line.startswith("│")]
    assert any("@\u2060channel" in line for line in posted)  # Priya's @channel, defused
    for line in posted:
        assert "@channel" not in line and "@here" not in line, line
        # Slack shows an escaped <!channel> as text; the renderer decodes it for reading.
        assert "<!channel>" not in line or "Unknown command <!channel>" in line, line


def test_demo_shows_the_week_ahead(demo_output):
    assert "Mon 30 Nov" in demo_output and "weekly-story" in demo_output


def test_heard_demo_exits_0_without_credentials(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Summary" in result.stdout
    assert list(tmp_path.iterdir()) == []  # the demo leaves nothing behind
