"""The workspace lifecycle in multi-workspace (OAuth) mode: install and greeting,
per-workspace schedules in the running scheduler, uninstall and reinstall, and two
workspaces on one database that never see each other's data."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import build_app
from bot.db.models import OutboxMessage, Workspace
from bot.features.feedback.models import FeedbackItem
from bot.runtime import Runtime
from bot.sandbox import SlackRequestSender
from bot.sandbox.local_server import DrainableExecutor, LocalServer
from bot.scheduler.registry import JobRegistry, JobSpec
from bot.scheduler.runner import HeardScheduler
from bot.scheduler.schedules import load_default_schedules, schedules_dir
from bot.settings import Settings
from bot.web import create_wsgi_app
from tests.features.admin.helpers import ACME, MAYA, TOMAS, channel, shown, slash, user
from tests.fixtures.heard import CLIENT_ID, CLIENT_SECRET, SIGNING_SECRET, HeardServer
from tests.people import GLOBEX, HANK
from tests.sandbox.test_oauth import install


@pytest.fixture
def heard_with_scheduler(db_url, fake_slack, acme):
    """Heard in OAuth mode with its scheduler (paused: nothing fires) wired to `notify`,
    the way `heard run` wires them. `weekly-story` is the one registered job."""
    started = []

    def start(*, in_process: bool = True):
        settings = Settings(_env_file=None, database_url=db_url, slack_api_url=fake_slack.url,
                            slack_signing_secret=SIGNING_SECRET, slack_client_id=CLIENT_ID,
                            slack_client_secret=CLIENT_SECRET)  # fmt: skip
        runtime = Runtime.from_settings(settings)
        registry = JobRegistry.of([JobSpec("weekly-story", lambda context: "posted", "week", "test")])
        scheduler = HeardScheduler(runtime, registry, load_default_schedules(schedules_dir(None)))
        scheduler.start(paused=True)
        listeners = DrainableExecutor()
        app = build_app(runtime, listener_executor=listeners,
                        on_workspace_change=scheduler.sync if in_process else None)  # fmt: skip
        server = LocalServer(create_wsgi_app(runtime, app)).start()
        started.append((server, listeners, scheduler, runtime))
        sender = SlackRequestSender(server.url, SIGNING_SECRET, bot_user_id=acme.bot_user_id,
                                    response_url_factory=fake_slack.response_url)  # fmt: skip
        return HeardServer(runtime, app, server.url, sender, listeners, fake_slack), scheduler

    yield start
    for server, listeners, scheduler, runtime in started:
        server.stop()
        listeners.shutdown(wait=True)
        scheduler.shutdown()
        runtime.engine.dispose()


def next_fire(scheduler, job_id: str) -> datetime:
    trigger = scheduler.trigger_of(job_id)
    return trigger.get_next_fire_time(None, datetime(2026, 11, 25, 12, tzinfo=UTC))


def test_install_greets_the_installer_once_with_the_checklist(heard_server, fake_slack, acme):
    heard = heard_server(oauth=True)
    install(heard, fake_slack, acme, TOMAS)
    install(heard, fake_slack, acme, TOMAS)  # a reinstall by the same person
    [greeting] = [m for m in fake_slack.messages(TOMAS) if m.get("bot_id")]
    assert "Thanks for adding Heard to *Acme Robotics*" in str(greeting["blocks"])
    assert "Schedules run in Europe/Madrid" in str(greeting["blocks"])  # Tomás's zone
    assert all(call.ok for call in fake_slack.calls_to("chat.postMessage"))
    install(heard, fake_slack, acme, MAYA)  # a new installer is greeted too
    assert [m for m in fake_slack.messages(MAYA) if m.get("bot_id")]
    with heard.runtime.sessions() as session:
        keys = session.scalars(select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id)).all()
        assert session.scalar(select(Workspace.installer_user_id)) == MAYA
    assert keys == [f"greeting:{ACME}:{TOMAS}", f"greeting:{ACME}:{MAYA}"]


def test_uninstall_stops_the_jobs_and_reinstall_brings_the_settings_back(heard_with_scheduler, fake_slack, acme):
    heard, scheduler = heard_with_scheduler()
    install(heard, fake_slack, acme, MAYA)
    assert scheduler.scheduled_job_ids() == [f"weekly-story:{ACME}"]
    assert next_fire(scheduler, f"weekly-story:{ACME}") == datetime(2026, 11, 30, 9, tzinfo=UTC)  # Mon 10:00 Berlin

    slash(heard, 'schedule weekly-story "tue 09:30"')  # takes effect at once, no restart
    assert next_fire(scheduler, f"weekly-story:{ACME}") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    slash(heard, f"channel stories {channel('C0STORIES1')}")
    slash(heard, f"leader add {user(TOMAS)}")
    before = shown(slash(heard, "config")).split("*Last changes*")[0]

    heard.sender.event({"type": "app_uninstalled"}, team_id=ACME)
    heard.listeners.drain()
    store = heard.runtime.installation_store()
    assert store.find_bot(enterprise_id=None, team_id=ACME) is None
    assert store.find_installation(enterprise_id=None, team_id=ACME) is None
    assert scheduler.scheduled_job_ids() == []
    assert heard.sender.command("config", team_id=ACME, user_id=MAYA).text == ""  # dropped

    install(heard, fake_slack, acme, MAYA)
    assert scheduler.scheduled_job_ids() == [f"weekly-story:{ACME}"]
    assert next_fire(scheduler, f"weekly-story:{ACME}") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert shown(slash(heard, "config")).split("*Last changes*")[0] == before
    assert len([m for m in fake_slack.messages(MAYA) if m.get("bot_id")]) == 1  # greeted once


def test_pause_and_off_take_effect_without_a_restart(heard_with_scheduler, fake_slack, acme):
    heard, scheduler = heard_with_scheduler()
    install(heard, fake_slack, acme, MAYA)
    slash(heard, "schedule weekly-story off")
    assert scheduler.scheduled_job_ids() == []
    slash(heard, 'schedule weekly-story "daily 07:00"')
    assert next_fire(scheduler, f"weekly-story:{ACME}") == datetime(2026, 11, 26, 6, tzinfo=UTC)


def test_a_separate_clock_process_picks_the_change_up_at_its_next_sync(heard_with_scheduler, fake_slack, acme):
    # The web process has no scheduler of its own (`heard run --no-scheduler`); the
    # `clock` process re-reads the plan every minute.
    heard, clock = heard_with_scheduler(in_process=False)
    install(heard, fake_slack, acme, MAYA)
    assert clock.sync() == {"added": 1, "changed": 0, "removed": 0}
    slash(heard, 'schedule weekly-story "fri 17:00"')
    assert next_fire(clock, f"weekly-story:{ACME}") == datetime(2026, 11, 30, 9, tzinfo=UTC)  # not yet
    assert clock.sync() == {"added": 0, "changed": 1, "removed": 0}
    assert next_fire(clock, f"weekly-story:{ACME}") == datetime(2026, 11, 27, 16, tzinfo=UTC)


def test_two_workspaces_never_see_each_others_data(heard_server, fake_slack, acme, globex):
    fake_slack.add_workspace(globex)
    heard = heard_server(oauth=True)
    install(heard, fake_slack, acme, MAYA)
    install(heard, fake_slack, globex, HANK)
    slash(heard, f"channel stories {channel('C0STORIES1')}")
    slash(heard, "department add Robots <#C0GENERAL1|general>")
    slash(heard, f"leader add {user(TOMAS)}")
    slash(heard, "department add Hammocks <#C0GLXGENRL|general>", user_id=HANK, team_id=GLOBEX)
    slash(heard, "pause", user_id=HANK, team_id=GLOBEX)

    acme_config = shown(slash(heard, "config"))
    globex_config = shown(slash(heard, "config", user_id=HANK, team_id=GLOBEX))
    assert "Robots" in acme_config and "Hammocks" not in acme_config and "*running*" in acme_config
    assert "Hammocks" in globex_config and "Robots" not in globex_config and "*paused*" in globex_config
    assert "C0STORIES1" not in globex_config and TOMAS not in globex_config
    assert "America/Chicago" in globex_config and "Europe/Berlin" in acme_config
    # Acme's admins are nobody in Globex, and Globex's channels are unknown in Acme.
    assert "Only Heard admins" in shown(slash(heard, "config", user_id=MAYA, team_id=GLOBEX))
    refused = shown(slash(heard, "channel stories <#C0GLXGENRL|general>"))
    assert "can't see that channel" in refused
    assert "Hammocks" not in shown(slash(heard, "department list"))
    assert "no department called Hammocks" in shown(slash(heard, "department remove Hammocks"))


def test_forget_touches_only_its_own_workspace(heard_server, fake_slack, acme, globex, make_workspace):
    fake_slack.add_workspace(globex)
    heard = heard_server(oauth=True)
    install(heard, fake_slack, acme, MAYA)
    install(heard, fake_slack, globex, HANK)
    shared = "W0SHARED01"  # an Enterprise Grid user is the same id in both workspaces
    said = datetime.now(UTC) - timedelta(days=1)
    with heard.runtime.sessions.begin() as session:
        for team in (ACME, GLOBEX):
            workspace_id = session.scalar(select(Workspace.id).where(Workspace.team_id == team))
            session.add(FeedbackItem(workspace_id=workspace_id, text=f"said in {team}", reporter_user_id=shared,
                                     source="command", said_at=said))  # fmt: skip
    reply = shown(slash(heard, f"forget <@{shared}|shared>"))
    assert "1 feedback item anonymised" in reply
    with heard.runtime.sessions() as session:
        reporters = dict(session.execute(select(FeedbackItem.text, FeedbackItem.reporter_user_id)).all())
    assert reporters == {f"said in {ACME}": None, f"said in {GLOBEX}": shared}
