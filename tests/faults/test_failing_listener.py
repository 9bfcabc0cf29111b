"""A listener that raises on one event: that event is retried, then parked for an operator;
the events around it are processed as if nothing happened."""

from datetime import timedelta

from bot.cli import main
from bot.features.feedback import handlers
from bot.slack import inbox
from bot.slack.inbox import InboxStatus
from tests.people import SAM


def test_a_failing_event_is_retried_then_parked_and_listed(feedback, monkeypatch, capsys):
    real = handlers.handle_message

    def flaky(runtime, client, workspace_id, event):
        if event.get("text") == "poison":
            raise RuntimeError("this listener cannot handle it")
        return real(runtime, client, workspace_id, event)

    monkeypatch.setattr(handlers, "handle_message", flaky)
    feedback.post(SAM, "The export is slow")
    feedback.post(SAM, "poison")
    feedback.post(SAM, "Please add SSO")
    assert [i.text for i in feedback.items()] == ["The export is slow", "Please add SSO"]
    assert inbox.counts(feedback.runtime) == {InboxStatus.DONE: 2, InboxStatus.PENDING: 1}

    start = feedback.runtime.clock()
    for attempt in range(1, inbox.MAX_ATTEMPTS):  # each retry once its back-off has passed
        later = start + sum((inbox.backoff(n) for n in range(1, attempt + 1)), timedelta())
        feedback.runtime.clock = lambda later=later: later
        assert feedback.runtime.inbox.run_pending() == 1
    assert inbox.counts(feedback.runtime) == {InboxStatus.DONE: 2, InboxStatus.PARKED: 1}
    assert len(feedback.items()) == 2

    monkeypatch.setenv("DATABASE_URL", str(feedback.runtime.engine.url.render_as_string(hide_password=False)))
    main_exit = _run(main, ["inbox", "list"])
    out = capsys.readouterr().out
    assert main_exit == 0
    assert out.splitlines()[0] == "0 pending, 0 processing, 2 done, 1 parked"
    assert "after 5 tries: RuntimeError: this listener cannot handle it" in out.splitlines()[1]

    monkeypatch.setattr(handlers, "handle_message", real)  # the bug is fixed
    assert _run(main, ["inbox", "retry"]) == 0
    feedback.runtime.inbox.run_pending()
    assert [i.text for i in feedback.items()] == ["The export is slow", "Please add SSO", "poison"]


def _run(main, args) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0
