"""The HTTP side: a WSGI app for Slack's requests and a health check, served by gunicorn.

Routes: POST /slack/events (events, commands, interactivity), GET /slack/install and
/slack/oauth_redirect in OAuth mode, GET /healthz. POST /slack/events passes the front
door first (`bot.slack.front`: size, then signature and age, then shape), so Bolt only
ever sees signed requests it can parse; garbage gets a 4xx and one log line, never a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from gunicorn.app.base import BaseApplication
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.db import DatabaseUnavailable, ping
from bot.runtime import Runtime
from bot.slack.front import EVENTS_PATH, SlackFront

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"


def create_wsgi_app(runtime: Runtime, app: App) -> Callable:
    slack = SlackFront(
        SlackRequestHandler(app, path=EVENTS_PATH),
        runtime.settings.slack_signing_secret,
        path=EVENTS_PATH,
        events=runtime.event_store,
    )

    def wsgi(environ: dict, start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            return health(runtime, start_response)
        return slack(environ, start_response)

    return wsgi


def health(runtime: Runtime, start_response) -> list[bytes]:
    """200 when the database answers, 503 with the reason when it does not."""
    try:
        ping(runtime.engine)
        status, body = "200 OK", {"ok": True, "database": "ok"}
    except DatabaseUnavailable as exc:
        status, body = "503 Service Unavailable", {"ok": False, "database": str(exc)}
    payload = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


class HeardServer(BaseApplication):
    """gunicorn, configured in code: one worker process with threads.

    The app is built (and Slack's token checked) before gunicorn forks, so a bad
    setting fails start-up with one line instead of a crashing worker. One worker,
    because the in-process scheduler and Bolt's listener threads live in it;
    threads, because Bolt acks a request and keeps working after the ack. Scale out
    with a separate `clock` process and more `web` processes instead.
    """

    def __init__(
        self,
        wsgi_app: Callable,
        *,
        port: int,
        on_worker_start: Callable[[], None] | None = None,
        on_worker_exit: Callable[[], None] | None = None,
    ):
        self._wsgi_app = wsgi_app
        self._port = port
        self._on_worker_start = on_worker_start
        self._on_worker_exit = on_worker_exit
        super().__init__()

    def load_config(self) -> None:
        config = {
            "bind": f"0.0.0.0:{self._port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": 8,
            "timeout": 60,
            "graceful_timeout": 20,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "heard",
        }
        if self._on_worker_start:
            start = self._on_worker_start
            config["post_worker_init"] = lambda worker: start()
        if self._on_worker_exit:
            stop = self._on_worker_exit
            config["worker_exit"] = lambda server, worker: stop()
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        return self._wsgi_app
