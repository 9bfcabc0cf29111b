"""Hostile feedback: whatever people put in feedback, notes or files, nothing Heard posts
pings anyone it did not choose to name, and forged payloads change nothing."""

import json

import pytest

from bot.db.models import Workspace
from bot.features.feedback import service, views
from bot.features.feedback.models import FeedbackItem
from bot.features.feedback.views import LOG_SHORTCUT as LOG_FEEDBACK_CALLBACK
from tests.features.feedback.helpers import pings, texts
from tests.features.feedback.room import feedback  # noqa: F401  (the fixture)
from tests.people import (
    ACME,
    FEEDBACK,
    GENERAL,
    GLOBEX,
    HANK,
    HEARD,
    HEARD_BOT_ID,
    JONAS,
    NO_SUCH_CHANNEL,
    PRIYA,
    SAM,
)

HOSTILE = (
    "<!channel> <!here> <!everyone> @channel @here @everyone <!subteam^S0SUPPORT1|@support> "
    "<@U0MAYA0001> <@U0MAYA0001|maya> <#C0GENERAL1|general> <https://evil.example|click me> "
    "&lt;!channel&gt; *bold* `code` ```block``` \u2060@here\x00 " + "long " * 2000
)
SENDING = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update",
           "views.push", "views.publish", "response_url")  # fmt: skip


def everything_heard_sent(slack) -> list[tuple[str, str]]:
    sent = []
    for method in SENDING:
        for call in slack.calls_to(method):
            view = call.args.get("view")
            shown = texts(view if isinstance(view, dict) else call.args)
            sent.append((method, shown + " " + str(call.args.get("text") or "")))
    return sent


def assert_no_pings_but(slack, *allowed: str) -> None:
    sent = everything_heard_sent(slack)
    assert sent, "Heard sent nothing: the test would prove nothing"
    for method, shown in sent:
        extra = {p for p in pings(shown)} - {f"@{user}" for user in allowed}
        assert not extra, f"{method} pings {extra}: {shown[:300]}"
        assert "<http" not in shown.replace("<https://acme-robotics.slack.com/", ""), shown[:300]


def test_hostile_channel_feedback_through_ack_reminder_dm_me_and_home(feedback):
    from datetime import timedelta

    from bot.features import load_rooms
    from bot.scheduler.runner import run_job
    from bot.slack.outbox import deliver_due

    message = feedback.post(SAM, HOSTILE)
    later = feedback.runtime.clock() + timedelta(hours=80)
    feedback.runtime.clock = lambda: later
    run_job(feedback.runtime, load_rooms().registry, "feedback-sweep", ACME)
    deliver_due(feedback.runtime)
    feedback.post(PRIYA, "Seen", thread_ts=message["ts"])
    feedback.command("me", user=SAM)
    feedback.event({"type": "app_home_opened", "user": SAM, "channel": "D0SAMHOME1", "tab": "home"})
    [item] = feedback.items()
    assert item.text.startswith("@channel @here")  # kept as people read it, in full
    assert len(item.text) > 10_000
    assert_no_pings_but(feedback.slack, PRIYA)


def test_hostile_command_feedback_card_and_resolution_note(feedback):
    feedback.command(f'feedback {HOSTILE[:3000]} customer:"<!channel> Evil Corp" source:<!here>', user=PRIYA)
    [item] = feedback.items()
    feedback.press(views.RESOLVE_ACTION, item.id, user=JONAS)
    modal = feedback.slack.opened_views()[-1]
    values = {views.RESOLUTION_INPUT: {views.RESOLUTION_INPUT: {"type": "plain_text_input", "value": HOSTILE[:1900]}}}
    feedback.interact(feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=JONAS, view=modal, values=values))
    assert feedback.items()[0].status == "resolved"
    assert_no_pings_but(feedback.slack, PRIYA, JONAS)


def test_hostile_shortcut_details(feedback):
    message = feedback.slack.post_as(SAM, GENERAL, HOSTILE[:2500])
    feedback.interact(feedback.heard.sender.message_shortcut_payload(
        team_id=ACME, user_id=PRIYA, callback_id=LOG_FEEDBACK_CALLBACK, channel_id=GENERAL, message=message))
    modal = feedback.slack.opened_views()[-1]
    values = {block: {block: {"type": "plain_text_input", "value": "<!channel> <@U0MAYA0001>"}}
              for block in (views.CUSTOMER_INPUT, views.ORIGIN_INPUT, views.NOTE_INPUT)}  # fmt: skip
    feedback.interact(feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=PRIYA, view=modal, values=values))
    [item] = feedback.items()
    assert item.customer == "<!channel> <@U0MAYA0001>"
    assert_no_pings_but(feedback.slack, SAM, PRIYA)


@pytest.mark.parametrize("metadata", [
    "", "not json", "[]", json.dumps({"c": FEEDBACK}), json.dumps({"c": FEEDBACK, "ts": "DROP TABLE"}),
    json.dumps({"c": NO_SUCH_CHANNEL, "ts": "1795000000.000100", "a": "<!channel>"}),
])  # fmt: skip
def test_a_forged_log_modal_stores_nothing_it_cannot_stand_behind(feedback, metadata):
    view = {"id": "V0FORGED01", "type": "modal", "callback_id": views.LOG_MODAL, "private_metadata": metadata,
            "blocks": [], "hash": "1.x"}  # fmt: skip
    response = feedback.heard.sender.interaction(
        feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=PRIYA, view=view, values={}))
    feedback.heard.listeners.drain()
    assert response.status == 200
    assert feedback.items() == [] or all(i.reporter_user_id in (PRIYA, None) for i in feedback.items())
    assert all("<!channel>" not in (i.reporter_user_id or "") for i in feedback.items())


def test_a_forged_resolve_of_another_workspace_s_item_is_refused(feedback):
    with feedback.runtime.sessions.begin() as session:
        other = Workspace(team_id=GLOBEX, name="Globex")
        session.add(other)
        session.flush()
        theirs = service.capture(session, other, service.Said(
            text="Globex's own", said_at=feedback.runtime.clock(), source="command", reporter_user_id=HANK),
            now=feedback.runtime.clock()).item  # fmt: skip
        theirs_id = theirs.id
    view = {"id": "V0FORGED02", "type": "modal", "callback_id": views.RESOLVE_MODAL, "hash": "1.x", "blocks": [],
            "private_metadata": json.dumps({"item": theirs_id})}  # fmt: skip
    response = feedback.heard.sender.interaction(
        feedback.heard.sender.view_submission_payload(team_id=ACME, user_id=JONAS, view=view, values={}))
    feedback.heard.listeners.drain()
    assert response.json()["response_action"] == "errors"
    feedback.press(views.ACKNOWLEDGE_ACTION, theirs_id, user=JONAS)
    with feedback.runtime.sessions() as session:
        assert session.get(FeedbackItem, theirs_id).status == "open"


def test_shortcut_on_heard_s_own_message_logs_nothing(feedback):
    mine = {"type": "message", "user": HEARD, "bot_id": HEARD_BOT_ID, "text": "Nobody has acknowledged", "ts": "1795000300.000100"}
    feedback.interact(feedback.heard.sender.message_shortcut_payload(
        team_id=ACME, user_id=PRIYA, callback_id=LOG_FEEDBACK_CALLBACK, channel_id=FEEDBACK, message=mine))
    assert feedback.slack.opened_views()[-1]["title"]["text"] == "Can't log this"
    assert feedback.items() == []


def test_a_hostile_csv_cannot_smuggle_links_or_pings(engine, make_workspace, tmp_path):
    from datetime import UTC, datetime

    from bot.db import session_factory
    from bot.features.feedback.importer import import_file

    workspace_id = make_workspace(ACME).id
    path = tmp_path / "evil.csv"
    path.write_text(
        "text,author,created_at,source,url\n"
        '"<!channel> hi","<!here>",2026-11-20,"<@U0MAYA0001>",\n'
        'ok,Sam,2026-11-20,email,"https://x.example/|<!channel>"\n'
        "ok,Sam,2026-11-20,email,javascript:alert(1)\n"
        "'; DROP TABLE feedback_items;--,Sam,2026-11-20,email,\n",
        encoding="utf-8",
    )
    report = import_file(session_factory(engine), workspace_id, path, now=datetime(2026, 11, 25, tzinfo=UTC))
    assert (report.imported, [b.line for b in report.bad]) == (2, [3, 4])
    with session_factory(engine)() as session:
        items = session.query(FeedbackItem).order_by(FeedbackItem.id).all()
    assert items[0].reporter_name == "<!here>" and items[0].reporter_user_id is None
    card, _ = views.card(items[0])
    assert pings(texts({"blocks": card})) == []
    assert items[1].text.startswith("'; DROP TABLE")
