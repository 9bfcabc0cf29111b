"""The HTTP side: a WSGI app for Slack's requests and a health check, served by gunicorn
(and, in Socket Mode, the health check alone: `HealthServer`).

Routes: POST /slack/events (events, commands, interactivity), GET /slack/install and
/slack/oauth_redirect in OAuth mode, GET /healthz. POST /slack/events passes the front
door first (`bot.slack.front`: size, then signature and age, then shape), so Bolt only
ever sees signed requests it can parse; garbage gets a 4xx and one log line, never a 500.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

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


def health(runtime: Runtime, start_response, socket: dict[str, str] | None = None) -> list[bytes]:
    """200 when the database answers, 503 with the reason when it does not. In Socket Mode
    (`socket`: `SocketMode.state()`), also 503 while the websocket is not connected."""
    try:
        ping(runtime.engine)
        status, body = "200 OK", {"ok": True, "database": "ok"}
    except DatabaseUnavailable as exc:
        status, body = "503 Service Unavailable", {"ok": False, "database": str(exc)}
    if socket is not None:
        body |= socket
        if socket.get("socket") != "connected":
            status, body["ok"] = "503 Service Unavailable", False
    payload = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


class HealthServer:
    """`/healthz` alone, for Socket Mode (where Slack needs no HTTP): the database and the
    websocket's state (`state()`), on a thread of its own. Any other path is 404."""

    def __init__(self, runtime: Runtime, state: Callable[[], dict[str, str]], *, port: int,
                 host: str = "0.0.0.0"):  # fmt: skip
        def wsgi(environ: dict, start_response) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == HEALTH_PATH:
                return health(runtime, start_response, state())
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"not found"]

        self._server = make_server(host, port, wsgi, server_class=_ThreadingServer, handler_class=_QuietHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="heard-health", daemon=True)  # fmt: skip

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("serving %s on port %s", HEALTH_PATH, self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass  # a health check every few seconds would bury the log


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
