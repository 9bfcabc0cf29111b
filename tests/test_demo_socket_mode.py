"""`heard demo --socket-mode`: the same story, over the fake Slack's websocket."""

import io
from datetime import UTC, datetime

from rich.console import Console

from bot.demo import run_demo


def test_the_demo_story_runs_over_socket_mode(tmp_path):
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    run_demo(console, now=datetime(2026, 11, 25, 9, tzinfo=UTC), database=tmp_path / "heard-demo.db",
             socket_mode=True)  # fmt: skip
    shown = out.getvalue()
    assert (
        "Connected in Socket Mode: apps.connections.open, then the websocket at ws://127.0.0.1:"
        in shown
    )
    assert "(health: connected)" in shown
    assert "Customer feedback from @priya" in shown  # the rooms' story, as over HTTP
    assert ":eyes: @jonas reacted to the customer feedback you shared." in shown
    assert "Slack sent it 2 times (retry_attempt 0, 1); Heard handled it 1 time(s)." in shown
    assert "Heard opened connection 2 and left connection 1." in shown
    assert "Delivered twice, handled 1 time(s)." in shown
    assert "HTTP 401" not in shown  # nothing is signed in Socket Mode
    assert " 0 rejected" in shown
