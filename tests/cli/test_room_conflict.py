"""Two rooms declaring the same `/heard` form stop Heard at start-up, in one line."""

import pytest

import bot.features
from bot.cli import main


def test_two_rooms_declaring_one_form_stop_heard_in_one_line(monkeypatch, capsys):
    # The feedback room listed twice declares every one of its forms twice.
    monkeypatch.setattr(bot.features, "ROOMS", ("admin", "feedback", "feedback"))
    with pytest.raises(SystemExit) as stopped:
        main(["manifest"])
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err == "heard: /heard feedback is declared by both the feedback and the feedback rooms\n"
