"""Socket Mode: the same app, with requests arriving over Slack's websocket (unsigned)."""

import json
from urllib.parse import urlencode

from slack_bolt.request import BoltRequest

from bot.app import build_app
from bot.runtime import Runtime
from bot.sandbox.local_server import DrainableExecutor
from bot.settings import Settings, SlackMode
from tests.people import GENERAL, MAYA


def test_socket_mode_app_answers_unsigned_socket_requests(db_url, fake_slack, acme):
    settings = Settings(
        _env_file=None, database_url=db_url, slack_api_url=fake_slack.url,
        slack_bot_token=acme.bot_token, slack_app_token="xapp-1-A0HEARD-1-abc",
    )  # fmt: skip
    assert settings.require_slack() is SlackMode.SOCKET
    runtime = Runtime.from_settings(settings)
    listeners = DrainableExecutor()
    app = build_app(runtime, listener_executor=listeners)
    url = fake_slack.response_url(acme.team_id)
    body = urlencode({"team_id": acme.team_id, "user_id": MAYA, "command": "/heard", "text": "help",
                      "channel_id": GENERAL, "response_url": url})  # fmt: skip
    response = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    assert response.status == 200
    listeners.drain()
    assert "/heard help" in fake_slack.responses(url)[-1]["text"]
    unknown = app.dispatch(BoltRequest(body=body.replace("text=help", "text=frob"), mode="socket_mode"))
    assert "Unknown command" in json.loads(unknown.body)["text"]  # answered in the ack itself
    listeners.shutdown(wait=True)
    assert "team.info" in [call.method for call in fake_slack.calls]  # the workspace was recorded
    runtime.engine.dispose()
