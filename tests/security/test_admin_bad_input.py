"""Hostile and malformed `/heard` text: a one-line ephemeral error with the right usage,
within Slack's 3 seconds, nothing changed in the database or in Slack, nobody pinged."""

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient
from sqlalchemy import update

from bot.db.models import Workspace
from bot.features import load_rooms
from bot.slack.commands import SlashDispatcher
from bot.slack.people import People, caller_access
from tests.features.admin.helpers import SUPPORT, WRITES, channel, pings, state, user
from tests.people import ACME, ARCHIVED, JONAS, LEADERS, LENA, MAYA, PRIYA, SAM, STORIES, ZENDESK
from tests.people import GENERAL as GENERAL_ID

GENERAL = channel(GENERAL_ID)


def usage_of(name: str, form: str | None = None) -> str:
    """The usage a refusal should show: the form's, else the subcommand's, else `help`'s
    for a command nobody registered (yet)."""
    subcommand = {c.name: c for c in load_rooms().router}.get(name)
    if subcommand is None:
        return "help"
    return form or subcommand.usage


BAD_INPUT = [
    ("", "help", None),
    ("   ", "help", None),
    ("\x00\x00\x00", "help", None),
    ("bogus", "help", None),
    ("conifg", "help", None),
    ("x" * 10_000, "help", None),
    ("<!channel> <!here> wake up", "help", None),
    ("help me", "help", None),
    ("config now", "config", None),
    ("channel", "channel", None),
    ("channel stories", "channel", None),
    (f"channel news {channel(STORIES)}", "channel", None),
    ("channel stories #nowhere", "channel", None),
    (f"channel stories {channel(STORIES)} {GENERAL}", "channel", None),
    (f"channel stories {channel(ARCHIVED)}", "channel", None),
    ("channel stories <#C0GLXFEED1|customer-feedback>", "channel", None),  # Globex's channel
    ("channel stories <#C0NOPE0001|gone>", "channel", None),
    (f"channel digest {user(JONAS)}", "channel", None),
    ("department", "department", None),
    ("department rename Support", "department", None),
    ("department add", "department", None),
    ("department add Support", "department", None),
    (f"department add {GENERAL}", "department", None),
    (f"department add \"x'; DROP TABLE departments;--\" {GENERAL}", "department", None),
    (f"department add Support {GENERAL} {user(PRIYA)}", "department", None),
    (f"department add Support {GENERAL} <!channel>", "department", None),
    (f"department add Support {GENERAL} <!subteam^S0NOPE0001|@nope>", "department", None),
    (f"department add Support {GENERAL} {SUPPORT} extra", "department", None),
    ("department add " + "A" * 10_000 + f" {GENERAL}", "department", None),
    ("department remove", "department", "department remove NAME"),
    ("department remove \"x' OR '1'='1\"", "department", "department remove NAME"),
    ("department list everything", "department", "department list"),
    ("leader", "leader", None),
    ("leader add", "leader", None),
    ("leader add <!channel>", "leader", None),
    ("leader add <!here>", "leader", None),
    ("leader add <!everyone>", "leader", None),
    (f"leader add {SUPPORT}", "leader", None),
    ("leader add @maya", "leader", None),
    ("leader add '; DROP TABLE workspace_roles;--", "leader", None),
    ("leader add <@U0NOBODY99|ghost>", "leader", None),
    ("leader add <@U0ZENDESK1|zendesk>", "leader", None),
    ("leader add <@U0FORMER07|olek>", "leader", None),
    ("leader add <@U0HANK0001|hank>", "leader", None),  # Globex's owner
    (f"leader remove {user(LENA)}", "leader", None),
    (f"leader promote {user(LENA)}", "leader", None),
    ("leader add \x00", "leader", None),
    ("admin add <!everyone>", "admin", None),
    (f"admin add {user(PRIYA)} {user(SAM)}", "admin", None),
    (f"admin remove {user(MAYA)}", "admin", None),  # the installer
    (f"admin remove {user(JONAS)}", "admin", None),  # a Slack admin, not an added one
    ("schedule weekly-story", "schedule", None),
    ('schedule x "xyz 99:99"', "schedule", None),
    ('schedule weekly-story "xyz 99:99"', "schedule", None),
    ('schedule weekly-story "mon 25:00"', "schedule", None),
    ("schedule '; DELETE FROM workspace_settings;-- off", "schedule", None),
    ("pause now", "pause", None),
    ("resume please", "resume", None),
    ("forget", "forget", None),
    ("forget <!channel>", "forget", None),
    ("forget everyone", "forget", None),
    ("ignore-after -5h", "ignore-after", None),
    ("ignore-after 0", "ignore-after", None),
    ("ack-emoji add not-an-emoji-anywhere", "ack-emoji", None),
    ("feedback-channel add <#C0GLXFEED1|customer-feedback>", "feedback-channel", None),
]


def test_there_are_enough_cases():
    assert len(BAD_INPUT) >= 30


@pytest.fixture
def heard(heard_server):
    heard = heard_server()
    # Maya installed Heard: the first admin command would otherwise record her as installer.
    with heard.runtime.sessions.begin() as session:
        session.execute(update(Workspace).values(installer_user_id=MAYA, time_zone="Europe/Berlin"))
    return heard


@pytest.mark.parametrize(("text", "name", "form"), BAD_INPUT, ids=[repr((c.values if hasattr(c, "values") else c)[0][:40]) for c in BAD_INPUT])
def test_bad_input_gets_one_line_with_usage_and_changes_nothing(heard, fake_slack, text, name, form):
    before = state(heard.runtime)
    fake_slack.reset_calls()
    url = fake_slack.response_url(ACME)
    started = time.monotonic()
    response = heard.sender.command(text, team_id=ACME, user_id=MAYA, response_url=url)
    elapsed = time.monotonic() - started  # Slack's window closes when the ack is sent
    heard.listeners.drain()
    body = fake_slack.slash_reply(response, url)
    reply = body["text"]
    assert response.status == 200 and elapsed < 3
    assert body["response_type"] == "ephemeral" and not body.get("blocks")
    assert "\n" not in reply and len(reply) < 600
    assert reply.endswith(f"Usage: `/heard {usage_of(name, form)}`"), reply
    assert pings(reply) == []
    assert state(heard.runtime) == before
    assert [c for c in fake_slack.calls if c.method in WRITES] == []  # the reply is the response_url's


GRAMMAR = [
    "help", "config", "channel", "stories", "digest", "off", "department", "add", "remove", "list",
    "leader", "admin", "schedule", "weekly-story", "feedback-sweep", '"mon 10:00"', "daily", "25:00",
    "pause", "resume", "forget", "ignore-after", "ack-emoji", "feedback-channel", "72h", "-5h",
    GENERAL, channel(ARCHIVED), channel(LEADERS), "<#C0GLXFEED1|x>", user(JONAS),
    user(ZENDESK), "<@U0NOBODY99>", SUPPORT, "<!channel>", "<!here>", "<!subteam^S0X|@x>",
    "'", '"', "“", "<", ">", "&", "`", "\x00", "*bold*", "Support",
]  # fmt: skip
words = st.one_of(st.sampled_from(GRAMMAR), st.text(max_size=12))


BROADCASTS = ("<!channel", "<!here", "<!everyone")


# SQLite only: the property is about parsing, and one server serves every example
# (the `heard` fixture is deliberately shared across them).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200), st.lists(words, max_size=6).map(" ".join)))
def test_random_text_never_raises(heard, fake_slack, acme, text):
    runtime = heard.runtime
    access = caller_access(runtime, People(), on_installer=lambda *_: None, after_install=lambda: None)
    dispatcher = SlashDispatcher(runtime, runtime.rooms.router, access, notify=lambda: None)
    client = WebClient(token=acme.bot_token, base_url=fake_slack.url)
    result = dispatcher.dispatch(client, team_id=ACME, user_id=MAYA, text=text)
    result.run_after()
    assert result.text
    reply = result.text + str(result.blocks or "")
    assert not any(b in reply for b in BROADCASTS)
    named = set(re.findall(r"<@([A-Z0-9]+)", text)) | {u.id for u in acme.users}
    assert pings(reply.replace("<!subteam^S0SUPPORT1>", ""), named) == []
