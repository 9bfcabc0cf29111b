"""The admin grammar of `/heard`, driven by signed slash commands against Heard's endpoint."""

import pytest
from sqlalchemy import select

from bot.db.models import AuditEntry, OutboxMessage, Workspace
from bot.features import load_rooms
from tests.features.admin.helpers import (
    ACME,
    JONAS,
    LENA,
    MAYA,
    PRIYA,
    SAM,
    SUPPORT,
    TOMAS,
    WRITES,
    channel,
    shown,
    slash,
    state,
    user,
)
from tests.people import SLACKBOT, ZENDESK


def test_every_admin_command_then_config_reads_it_back(heard_server, fake_slack):
    heard = heard_server()
    steps = [
        (f"channel stories {channel('C0STORIES1')}", "will be posted in <#C0STORIES1>"),
        (f"channel digest {channel('C0LEADERS1')}", "will be posted in <#C0LEADERS1>"),
        (f"department add Product {channel('C0PRODUCT1')} {SUPPORT}", "Added the department *Product*"),
        (f'department add "Customer Success" {channel("C0GENERAL1")}', "*Customer Success*"),
        ("department remove customer success", "Removed the Customer Success department"),
        ("department list", "*Product* — <#C0PRODUCT1>, <!subteam^S0SUPPORT1>"),
        (f"leader add {user(JONAS)}", "<@U0JONAS002> is now a leader"),
        (f"leader add {user(PRIYA)}", "<@U0PRIYA003> is now a leader"),
        (f"leader remove {user(PRIYA)}", "<@U0PRIYA003> is no longer a leader"),
        (f"admin add {user(TOMAS)}", "<@U0TOMAS004> is now a Heard admin"),
        ('schedule weekly-story "tue 09:30"', "`weekly-story` now runs tue 09:30 (Europe/Berlin)"),
        ("schedule decision-nudges off", "`decision-nudges` is off"),
        ("schedule", "`weekly-story` tue 09:30 (custom)"),
        ("pause", "Heard is paused"),
        (f"forget {user(LENA)}", "Forgot <@U0LENA0005>"),
    ]
    for text, expected in steps:
        assert expected in shown(slash(heard, text)), text

    config = shown(slash(heard, "config"))
    settings, changes = config.split("*Last changes*")
    assert "Heard is *paused*" in settings
    assert "installed by <@U0MAYA0001>" in settings and "time zone Europe/Berlin" in settings
    assert "Stories: <#C0STORIES1>" in settings and "Digest: <#C0LEADERS1>" in settings
    assert "*Product* — <#C0PRODUCT1>, <!subteam^S0SUPPORT1>" in settings
    assert "Customer Success" not in settings
    assert "Leaders: <@U0JONAS002>\n" in settings
    assert "Admins: <@U0MAYA0001>, <@U0TOMAS004>, and every workspace admin and owner" in settings
    assert "`weekly-story` tue 09:30 (custom)" in settings
    assert "`decision-nudges` off (custom)" in settings
    # the last few changes, newest first: who, what, old -> new
    lines = changes.strip().splitlines()
    assert "<@U0MAYA0001>: `forget` a person (0 records)" in lines[0]
    assert "<@U0MAYA0001>: `pause` running → paused" in lines[1]
    assert "`schedule decision-nudges` default → off" in lines[2]
    assert "`schedule weekly-story` default → tue 09:30" in lines[3]
    assert "`admin add` none → <@U0TOMAS004>" in lines[4]
    assert fake_slack.calls_to("conversations.join", ok=True)  # Heard joined #product itself

    with heard.runtime.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [
        "installer", "channel stories", "channel digest", "department add", "department add",
        "department remove", "leader add", "leader add", "leader remove", "admin add",
        "schedule weekly-story", "schedule decision-nudges", "pause", "forget",
    ]  # fmt: skip


def test_resume_pause_and_repeats_say_so_without_a_second_audit_entry(heard_server):
    heard = heard_server()
    assert "already running" in shown(slash(heard, "resume"))
    slash(heard, "pause")
    assert "already paused" in shown(slash(heard, "pause"))
    slash(heard, f"leader add {user(JONAS)}")
    assert "already a leader" in shown(slash(heard, f"leader add {user(JONAS)}"))
    assert "Heard is running again" in shown(slash(heard, "resume"))
    with heard.runtime.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert session.scalar(select(Workspace.paused)) is False
    assert actions == ["installer", "pause", "leader add", "resume"]


def test_channel_off_and_private_channel_needs_an_invite(heard_server, fake_slack, acme):
    heard = heard_server()
    slash(heard, f"channel digest {channel('C0LEADERS1')}")
    assert "no longer posted in a channel. Leaders still get it by DM" in shown(slash(heard, "channel digest off"))
    assert "Digest: none" in shown(slash(heard, "config"))


@pytest.mark.parametrize("role", ["admin", "leader"])
@pytest.mark.parametrize("app", [ZENDESK, SLACKBOT])
def test_an_app_cannot_be_an_admin_or_a_leader(heard_server, role, app):
    # Slackbot has a user id and users.info says is_bot false, yet it is no more a
    # person than another app's bot: it would be named in refusals ("Ask … <@USLACKBOT>").
    heard = heard_server()
    slash(heard, "help")  # Maya, the primary owner, is the first admin to use Heard
    before = state(heard.runtime)
    assert shown(slash(heard, f"{role} add <@{app}|app>")).startswith("That is an app, not a person.")
    assert state(heard.runtime) == before


def test_added_admin_can_configure_and_removed_admin_cannot(heard_server):
    heard = heard_server()
    assert "Only Heard admins" in shown(slash(heard, "config", user_id=TOMAS))
    slash(heard, f"admin add {user(TOMAS)}")
    assert "Heard settings" in shown(slash(heard, "config", user_id=TOMAS))
    slash(heard, f"admin remove {user(TOMAS)}")
    assert "Only Heard admins" in shown(slash(heard, "config", user_id=TOMAS))


# A well-formed example of each admin-only subcommand, whichever room owns it.
EXAMPLES = {
    "config": "config",
    "channel": f"channel stories {channel('C0STORIES1')}",
    "department": f"department add Product {channel('C0PRODUCT1')}",
    "leader": f"leader add {user(JONAS)}",
    "admin": f"admin add {user(SAM)}",
    "schedule": 'schedule weekly-story "tue 09:30"',
    "pause": "pause",
    "resume": "resume",
    "forget": f"forget {user(LENA)}",
    "feedback-channel": f"feedback-channel add {channel('C0GENERAL1')}",
    "ignore-after": "ignore-after 3d",
    "ack-emoji": "ack-emoji add eyes",
    "decision-nudges": "decision-nudges dm",
    "story now": "story now",
    "story list": "story list",
    "digest now": "digest now",
}
ADMIN_ONLY = sorted(name for name, sub in {c.name: c for c in load_rooms().router}.items() if sub.admin_only)


def test_every_admin_subcommand_has_an_example():
    assert {"config", "channel", "department", "leader", "admin", "schedule", "pause", "resume",
            "forget"} <= set(ADMIN_ONLY)  # fmt: skip
    assert set(ADMIN_ONLY) <= set(EXAMPLES), "add an example for the new admin command"


@pytest.mark.parametrize("name", ADMIN_ONLY)
def test_non_admin_is_refused_naming_the_admins_and_nothing_changes(heard_server, fake_slack, name):
    heard = heard_server()
    slash(heard, "help")  # Maya, the primary owner, is the first admin to use Heard
    slash(heard, f"admin add {user(TOMAS)}")
    before = state(heard.runtime)
    fake_slack.reset_calls()
    body = slash(heard, EXAMPLES[name], user_id=PRIYA)
    assert body["text"] == (
        f"Only Heard admins can use `{name}`. Ask <@{MAYA}>, <@{TOMAS}> or a workspace admin or owner."
    )
    assert state(heard.runtime) == before
    assert [c for c in fake_slack.calls if c.method in WRITES] == []


def test_before_any_heard_admin_a_refusal_names_the_workspaces_admins_and_owners(heard_server, fake_slack):
    heard = heard_server()  # single-workspace mode: nobody has used Heard yet, no installer
    body = slash(heard, "config", user_id=PRIYA)
    # From users.list: the owner first, then the admins; deactivated admins and bots never.
    assert body["text"] == (f"Only Heard admins can use `config`. Ask <@{MAYA}>, <@{JONAS}> "
                            "or a workspace admin or owner.")  # fmt: skip
    slash(heard, "config", user_id=SAM)
    assert len(fake_slack.calls_to("users.list")) == 1  # remembered for a few minutes


def test_help_lists_exactly_what_the_caller_may_run(heard_server):
    heard = heard_server()
    admin_help = shown(slash(heard, "help"))
    member_help = shown(slash(heard, "help", user_id=PRIYA))
    for name, sub in {c.name: c for c in load_rooms().router}.items():
        line = f"`/heard {sub.usage}`"
        assert line in admin_help
        assert (line in member_help) is not sub.admin_only, name


def test_first_slack_admin_to_use_heard_becomes_the_installer_and_is_greeted_once(heard_server, fake_slack):
    heard = heard_server()  # single-workspace mode: no OAuth installer
    with heard.runtime.sessions() as session:
        assert session.scalar(select(Workspace.installer_user_id)) is None
        assert session.scalar(select(Workspace.time_zone)) == "UTC"
    slash(heard, "help", user_id=PRIYA)  # not a Slack admin: changes nothing
    with heard.runtime.sessions() as session:
        assert session.scalar(select(Workspace.installer_user_id)) is None
    slash(heard, "help", user_id=JONAS)
    slash(heard, "help", user_id=MAYA)
    with heard.runtime.sessions() as session:
        workspace = session.scalar(select(Workspace))
        assert (workspace.installer_user_id, workspace.time_zone) == (JONAS, "Europe/Berlin")
        assert session.scalars(select(OutboxMessage.idempotency_key)).all() == [f"greeting:{ACME}:{JONAS}"]
    [greeting] = [m for m in fake_slack.messages(JONAS) if m.get("bot_id")]
    text = str(greeting["blocks"])
    assert "Thanks for adding Heard to *Acme Robotics*" in text
    assert "Stories channel" in text and "`/heard channel stories #channel`" in text
    assert fake_slack.messages(MAYA) == []
    assert all(c.ok for c in fake_slack.calls_to("chat.postMessage"))


def test_a_failing_subcommand_gets_an_apology_not_an_error_page(heard_server, monkeypatch):
    from bot.features.admin import service

    heard = heard_server()
    slash(heard, "help")

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(service, "config_snapshot", broken)
    body = slash(heard, "config")
    assert body["text"] == "Sorry, Heard hit an error doing that; please try again."
