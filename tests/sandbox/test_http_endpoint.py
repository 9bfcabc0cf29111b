"""Heard's real HTTP endpoint, driven by signed requests, talking to the fake Slack."""

import time

import pytest
from sqlalchemy import func, select

from bot.db import create_db_engine
from bot.db.models import InboxEvent, Workspace
from tests.people import GENERAL, MAYA, PRIYA


def home_opened(user=MAYA, tab="home"):
    return {"type": "app_home_opened", "user": user, "channel": "D0MAYAHOME", "tab": tab}


def count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_workspace_is_recorded_at_start(heard_server, acme):
    heard = heard_server()
    with heard.runtime.sessions() as session:
        workspace = session.scalar(select(Workspace))
    assert (workspace.team_id, workspace.name) == (acme.team_id, acme.name)
    assert workspace.domain == acme.domain
    assert workspace.bot_user_id == acme.bot_user_id


def test_health_reports_the_database(heard_server):
    heard = heard_server()
    ok = heard.sender.get("/healthz")
    assert ok.status == 200 and ok.json() == {"ok": True, "database": "ok"}
    heard.runtime.engine = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/x")
    down = heard.sender.get("/healthz")
    assert down.status == 503
    assert down.json()["ok"] is False and "cannot connect" in down.json()["database"]


def test_health_is_503_when_the_database_could_not_store_an_event(heard_server, tmp_path):
    """A database dropped and created again empty answered SELECT 1, so /healthz said ok
    while every event got a 500 (the same for connections left on a read-only standby:
    tests/db/test_health_check.py)."""
    heard = heard_server()
    heard.runtime.engine = create_db_engine(f"sqlite:///{tmp_path}/empty.db")
    down = heard.sender.get("/healthz")
    assert down.status == 503
    assert down.json() == {"ok": False, "database": f"the database sqlite:///{tmp_path}/empty.db has no inbox "
                                                    "table: no such table: inbox (run heard db upgrade)"}  # fmt: skip


def test_url_verification_echoes_the_challenge(heard_server):
    response = heard_server().sender.url_verification("c-123")
    assert response.status == 200 and "c-123" in response.text


@pytest.mark.parametrize(
    "forgery",
    [
        {"signature": "v0=" + "0" * 64},
        {"sign_with": "not-the-signing-secret"},
        {"age": 6 * 60},  # older than five minutes
        {"age": -6 * 60},  # from the future
    ],
    ids=["bad-signature", "wrong-secret", "stale", "future"],
)
def test_forged_requests_get_401_and_change_nothing(heard_server, fake_slack, acme, forgery):
    heard = heard_server()
    fake_slack.reset_calls()
    if "age" in forgery:  # computed now, not when the test was collected
        forgery = {"timestamp": int(time.time()) - forgery["age"]}
    response = heard.sender.event(home_opened(), team_id=acme.team_id, **forgery)
    command = heard.sender.command("help", team_id=acme.team_id, user_id=MAYA, **forgery)
    assert (response.status, command.status) == (401, 401)
    assert count(heard.runtime, InboxEvent) == 0
    assert fake_slack.calls_to("views.publish") == []


def test_unsigned_request_gets_401(heard_server):
    response = heard_server().sender.post("/slack/events", b"{}", "application/json",
                                          headers={"X-Slack-Signature": ""})  # fmt: skip
    assert response.status == 401


def test_app_home_is_published_with_valid_blocks(heard_server, fake_slack, acme):
    heard = heard_server()
    assert heard.sender.event(home_opened(), team_id=acme.team_id).status == 200
    [call] = fake_slack.wait_for("views.publish")
    assert call.ok, call.error
    assert call.args["user_id"] == MAYA
    assert acme.name in str(fake_slack.published_home(MAYA))


def test_messages_tab_does_not_publish_home(heard_server, fake_slack, acme):
    heard = heard_server()
    heard.sender.event(home_opened(tab="messages"), team_id=acme.team_id)
    heard.sender.event(home_opened(), team_id=acme.team_id)
    fake_slack.wait_for("views.publish")
    assert len(fake_slack.calls_to("views.publish")) == 1


def test_duplicate_delivery_changes_nothing_the_second_time(heard_server, fake_slack, acme):
    heard = heard_server()
    event_id = heard.sender.next_event_id()
    first = heard.sender.event(home_opened(), team_id=acme.team_id, event_id=event_id)
    retry = heard.sender.event(home_opened(), team_id=acme.team_id, event_id=event_id, retry_num=1)
    assert (first.status, retry.status) == (200, 200)
    fake_slack.wait_for("views.publish")
    # A third, distinct event proves the pipeline is still flowing after the retry.
    heard.sender.event(home_opened(user=PRIYA), team_id=acme.team_id)
    fake_slack.wait_for("views.publish", lambda c: c.args["user_id"] == PRIYA)
    assert [c.args["user_id"] for c in fake_slack.calls_to("views.publish")].count(MAYA) == 1
    assert count(heard.runtime, InboxEvent) == 2


def test_event_from_an_unknown_workspace_is_acknowledged_and_not_stored(heard_server, fake_slack):
    heard = heard_server()
    response = heard.sender.event(home_opened(), team_id="T0UNKNOWN9")
    assert response.status == 200
    assert count(heard.runtime, InboxEvent) == 0
    assert count(heard.runtime, Workspace) == 1
    command = heard.sender.command("help", team_id="T0UNKNOWN9", user_id=MAYA)
    assert command.status == 200 and "Commands" not in command.text


def test_help_is_acked_at_once_then_answered_ephemerally(heard_server, fake_slack, acme):
    heard = heard_server()
    url = fake_slack.response_url(acme.team_id)
    response = heard.sender.command("help", team_id=acme.team_id, user_id=MAYA, response_url=url)
    assert (response.status, response.body) == (200, b"")  # acked before Slack is asked who Maya is
    heard.listeners.drain()
    [body] = fake_slack.responses(url)
    assert body["response_type"] == "ephemeral"
    assert "/heard help" in body["text"]


@pytest.mark.parametrize("text", ["bogus", "<!channel>", "<!subteam^S1|@support> x", "\x00" * 3 + "zz"])
def test_unknown_command_is_one_line_with_usage_and_no_ping(heard_server, acme, text):
    response = heard_server().sender.command(text, team_id=acme.team_id, user_id=MAYA)
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "\n" not in body["text"] and "Usage: `/heard help`" in body["text"]
    assert "<!" not in body["text"]


def test_uninstall_marks_the_workspace_and_later_events_are_dropped(heard_server, fake_slack, acme):
    heard = heard_server()
    assert heard.sender.event({"type": "app_uninstalled"}, team_id=acme.team_id).status == 200
    heard.listeners.drain()
    with heard.runtime.sessions() as session:
        assert session.scalar(select(Workspace)).uninstalled_at is not None
    fake_slack.reset_calls()
    assert heard.sender.event(home_opened(), team_id=acme.team_id).status == 200
    heard.listeners.drain()
    assert fake_slack.calls_to("views.publish") == []
    assert count(heard.runtime, InboxEvent) == 1  # only the uninstall itself


def test_revoked_bot_token_uninstalls_but_user_tokens_do_not(heard_server, acme):
    heard = heard_server()
    users_only = {"type": "tokens_revoked", "tokens": {"oauth": [MAYA], "bot": []}}
    heard.sender.event(users_only, team_id=acme.team_id)
    heard.listeners.drain()
    with heard.runtime.sessions() as session:
        assert session.scalar(select(Workspace)).uninstalled_at is None
    bot = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [acme.bot_user_id]}}
    heard.sender.event(bot, team_id=acme.team_id)
    heard.listeners.drain()
    with heard.runtime.sessions() as session:
        assert session.scalar(select(Workspace)).uninstalled_at is not None


def test_processed_events_are_forgotten_a_day_later(heard_server, fake_slack, acme):
    from datetime import timedelta

    from bot.slack.inbox import KEEP_DONE, forget_done

    heard = heard_server()
    heard.sender.event(home_opened(), team_id=acme.team_id)
    heard.listeners.drain()
    assert forget_done(heard.runtime) == 0
    received = heard.runtime.clock()
    heard.runtime.clock = lambda: received + KEEP_DONE + timedelta(minutes=1)
    assert forget_done(heard.runtime) == 1
    assert count(heard.runtime, InboxEvent) == 0


def test_events_no_room_claims_are_acknowledged(heard_server, acme):
    heard = heard_server()
    message = {"type": "message", "channel": GENERAL, "user": MAYA, "text": "lunch?",
               "ts": "1764000000.000100", "channel_type": "channel"}  # fmt: skip
    assert heard.sender.event(message, team_id=acme.team_id).status == 200
    reaction = {"type": "reaction_added", "user": MAYA, "reaction": "tada",
                "item": {"type": "message", "channel": GENERAL, "ts": "1764000000.000100"}}
    assert heard.sender.event(reaction, team_id=acme.team_id).status == 200
    heard.listeners.drain()
