"""Stored events replayed to the rooms' listeners without Bolt: Bolt's rules for an event,
kept (the workspace's token, the bot's own events skipped, the first matching listener)."""

import json
import logging

import pytest

from bot.slack.middleware import FROM_INBOX
from bot.slack.replay import Replayer
from tests.people import MAYA
from tests.sandbox.test_oauth import install

CHANNEL = "C0REPLAY01"


def body(event: dict, team_id: str) -> str:
    return json.dumps({"type": "event_callback", "team_id": team_id, "event_id": "Ev0REPLAY", "event": event})


def test_the_first_listener_whose_matchers_agree_runs_alone(heard_server, acme):
    heard = heard_server()
    replay = Replayer(heard.runtime)
    ran, matched = [], []

    def no(body):
        matched.append(("no", body["event_id"]))
        return False

    def yes(event, context):
        matched.append(("yes", event["reaction"], context["workspace_id"] is not None))
        return True

    replay.event("reaction_added", matchers=[no])(lambda event: ran.append("first"))
    replay.event("reaction_added", matchers=[yes, yes])(lambda event, context, client: ran.append(
        ("second", event["reaction"], context.team_id, context[FROM_INBOX], client.token)))  # fmt: skip
    replay.event("reaction_added")(lambda: ran.append("third"))

    replay(body({"type": "reaction_added", "user": MAYA, "reaction": "eyes",
                 "item": {"type": "message", "channel": CHANNEL, "ts": "1.000001"}}, acme.team_id))  # fmt: skip

    assert matched == [("no", "Ev0REPLAY"), ("yes", "eyes", True), ("yes", "eyes", True)]
    assert ran == [("second", "eyes", acme.team_id, True, acme.bot_token)]


def test_the_bots_own_events_are_skipped_but_its_channel_joins_are_not(heard_server, acme):
    heard = heard_server()
    replay = Replayer(heard.runtime)
    ran = []
    replay.event("message")(lambda event: ran.append(event["text"]))
    replay.event("member_joined_channel")(lambda event: ran.append(("joined", event["user"])))

    def message(text: str, **fields) -> str:
        return body({"type": "message", "channel": CHANNEL, "ts": "1.000002", "text": text, **fields}, acme.team_id)

    replay(message("by Heard's user", user=acme.bot_user_id))
    replay(message("by Heard's bot", subtype="bot_message", bot_id=acme.bot_id))
    replay(message("edited by Heard", subtype="message_changed",
                   message={"user": acme.bot_user_id, "text": "x", "ts": "1.000002"}))  # fmt: skip
    replay(message("by a person", user=MAYA))
    replay(message("by another bot", subtype="bot_message", bot_id="B0OTHER01"))
    replay(body({"type": "member_joined_channel", "user": acme.bot_user_id, "channel": CHANNEL}, acme.team_id))
    assert ran == ["by a person", "by another bot", ("joined", acme.bot_user_id)]


def test_a_listener_asking_for_what_a_stored_event_cannot_give_is_refused_when_registered(heard_server):
    replay = Replayer(heard_server().runtime)
    with pytest.raises(TypeError, match="'say'"):
        replay.event("message")(lambda event, say: None)
    with pytest.raises(TypeError, match="'ack'"):
        replay.event("message", matchers=[lambda ack: True])
    with pytest.raises(TypeError, match="as text"):
        replay.event({"type": "message"})
    replay.event("message")(lambda event, say=None: None)  # an argument with a default is left to it


def test_events_nobody_listens_to_are_quiet_only_when_subscribed(heard_server, acme, caplog):
    replay = Replayer(heard_server().runtime, subscribed=["message.channels", "app_mention"])
    caplog.set_level(logging.WARNING, logger="bot.slack.replay")
    replay(body({"type": "app_mention", "user": MAYA, "channel": CHANNEL, "ts": "1.3", "text": "hi"}, acme.team_id))
    assert caplog.records == []
    replay(body({"type": "pin_added", "user": MAYA, "channel_id": CHANNEL}, acme.team_id))
    assert "no listener for events of type 'pin_added'" in caplog.text


def test_an_event_of_a_workspace_heard_does_not_serve_runs_nothing(heard_server, acme):
    replay = Replayer(heard_server().runtime)
    ran = []
    replay.event("message")(lambda event: ran.append(event))
    replay(body({"type": "message", "user": MAYA, "channel": CHANNEL, "ts": "1.4", "text": "hi"}, "T0NOTUS01"))
    assert ran == []


def test_with_oauth_an_event_needs_its_workspaces_stored_token_except_the_lifecycle_events(
    heard_server, fake_slack, acme, caplog
):
    heard = heard_server(oauth=True)
    install(heard, fake_slack, acme, MAYA)
    replay = Replayer(heard.runtime, oauth=True)
    ran = []
    replay.event("message")(lambda event, client, context: ran.append((event["text"], client.token,
                                                                        context.bot_user_id)))  # fmt: skip
    replay.event("tokens_revoked")(lambda event, client: ran.append(("revoked", client.token)))
    message = body({"type": "message", "user": MAYA, "channel": CHANNEL, "ts": "1.5", "text": "hi"}, acme.team_id)
    replay(message)
    assert ran == [("hi", acme.bot_token, acme.bot_user_id)]

    heard.runtime.installation_store().delete_bot(enterprise_id=None, team_id=acme.team_id)
    replay = Replayer(heard.runtime, oauth=True)  # a new process: nothing remembered
    replay.event("message")(lambda event: ran.append(event["text"]))
    replay.event("tokens_revoked")(lambda event, client: ran.append(("revoked", client.token)))
    caplog.set_level(logging.WARNING, logger="bot.slack.replay")
    replay(message)
    assert f"no installation stored for team {acme.team_id}" in caplog.text
    replay(body({"type": "tokens_revoked", "tokens": {"bot": [acme.bot_user_id]}}, acme.team_id))
    assert ran[1:] == [("revoked", None)]
