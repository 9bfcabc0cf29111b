"""Multi-workspace mode: OAuth installs stored in Heard's database, one workspace per team."""

import re
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from bot.db.models import InboxEvent, Workspace
from tests.people import HANK, MAYA, TOMAS


def install(heard, fake_slack, workspace, installer):
    """Walk Slack's install flow: the install page, then Slack's redirect back with a code."""
    page = heard.sender.get("/slack/install")
    assert page.status in (200, 302), page.text
    cookie = page.headers["set-cookie"].split(";")[0]
    link = page.headers.get("location") or re.search(r'href="(https://slack.com/oauth/v2/authorize[^"]+)"', page.text).group(1)
    state = parse_qs(urlparse(link.replace("&amp;", "&")).query)["state"][0]
    code = fake_slack.install_code(workspace, installer)
    return heard.sender.get(
        f"/slack/oauth_redirect?code={code}&state={state}", headers={"Cookie": cookie}
    )


def test_install_records_the_workspace_in_the_installers_time_zone(heard_server, fake_slack, acme):
    heard = heard_server(oauth=True)
    done = install(heard, fake_slack, acme, TOMAS)  # Tomás works from Madrid
    assert done.status == 200, done.text
    with heard.runtime.sessions() as session:
        workspace = session.scalar(select(Workspace))
    assert (workspace.team_id, workspace.name) == (acme.team_id, acme.name)
    assert (workspace.installer_user_id, workspace.time_zone) == (TOMAS, "Europe/Madrid")
    assert heard.runtime.client_for(acme.team_id).token == acme.bot_token


def test_redirect_with_a_forged_state_installs_nothing(heard_server, fake_slack, acme):
    heard = heard_server(oauth=True)
    code = fake_slack.install_code(acme, MAYA)
    response = heard.sender.get(f"/slack/oauth_redirect?code={code}&state=forged")
    assert response.status >= 400
    assert fake_slack.calls_to("oauth.v2.access") == []
    with heard.runtime.sessions() as session:
        assert session.scalar(select(Workspace)) is None


def test_two_workspaces_each_use_their_own_token(heard_server, fake_slack, acme, globex):
    fake_slack.add_workspace(globex)
    heard = heard_server(oauth=True)
    install(heard, fake_slack, acme, MAYA)
    install(heard, fake_slack, globex, HANK)
    for team, user in ((acme, MAYA), (globex, HANK)):
        event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
        heard.sender.event(event, team_id=team.team_id)
    heard.listeners.drain()
    published = {c.args["user_id"]: c.token for c in fake_slack.calls_to("views.publish", ok=True)}
    assert published == {MAYA: acme.bot_token, HANK: globex.bot_token}
    assert acme.name in str(fake_slack.published_home(MAYA))
    assert globex.name in str(fake_slack.published_home(HANK, team_id=globex.team_id))
    assert acme.name not in str(fake_slack.published_home(HANK, team_id=globex.team_id))


def test_uninstall_deletes_the_stored_tokens_and_reinstall_resumes(heard_server, fake_slack, acme):
    heard = heard_server(oauth=True)
    install(heard, fake_slack, acme, MAYA)
    store = heard.runtime.installation_store()
    assert store.find_bot(enterprise_id=None, team_id=acme.team_id) is not None
    heard.sender.event({"type": "app_uninstalled"}, team_id=acme.team_id)
    heard.listeners.drain()
    assert store.find_bot(enterprise_id=None, team_id=acme.team_id) is None
    assert store.find_installation(enterprise_id=None, team_id=acme.team_id) is None
    with heard.runtime.sessions() as session:
        first = session.scalar(select(Workspace))
        assert first.uninstalled_at is not None
    install(heard, fake_slack, acme, MAYA)
    with heard.runtime.sessions() as session:
        again = session.scalar(select(Workspace))
        assert (again.id, again.uninstalled_at) == (first.id, None)


def test_event_for_a_workspace_never_installed_is_dropped(heard_server, fake_slack, acme):
    heard = heard_server(oauth=True)
    event = {"type": "app_home_opened", "user": MAYA, "channel": "D0HOME", "tab": "home"}
    response = heard.sender.event(event, team_id=acme.team_id)
    heard.listeners.drain()
    assert response.status == 200
    assert fake_slack.calls_to("views.publish") == []
    with heard.runtime.sessions() as session:
        assert session.scalar(select(InboxEvent)) is None
