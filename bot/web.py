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
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import _DEFER, ThreadWorker

from bot.errors import Failure

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# How long a request's line and headers may take to arrive, from their first byte. Slack
# sends them in one packet and gives up on the answer after 3 s; a client still sending
# them after this holds a thread (one of 8) for nothing, and is cut off. The body has its
# own time (`bot.slack.front.BODY_SECONDS`).
HEADER_SECONDS = 3.0
# How long a new connection that has sent nothing may hold a thread before it waits in the
# worker's poller instead (gthread's own wait is 5 s): none. A thread takes a connection
# when its first bytes are there; until then it costs the poller a file descriptor.
IDLE_SECONDS = 0.0
# How long a connection may sit idle in the poller, before its first request or between
# two (gunicorn's `keepalive`, 2 s by default, which dropped a proxy's pre-opened ones).
KEEPALIVE_SECONDS = 5


def create_wsgi_app(runtime: Runtime, app: App) -> Callable:
    # Imported here, not above: gunicorn's master imports this module for HeardServer
    # and holds nothing else (the worker builds the app).
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.slack.front import EVENTS_PATH, SlackFront

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
    """200 when the database could store an event now (`check_writable`: it answers, its
    inbox table is there and, on PostgreSQL, it is not read-only), 503 with the reason when
    it could not. In Socket Mode (`socket`: `SocketMode.state()`), also 503 while the
    websocket is not connected."""
    from bot.db import DatabaseUnavailable, check_writable
    from bot.db.models import InboxEvent

    try:
        check_writable(runtime.engine, InboxEvent.__tablename__)
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


WORKER_BOOT_ERROR = 3  # gunicorn's Arbiter.WORKER_BOOT_ERROR: the master halts instead of forking again


class BootFailed(Exception):
    """The worker could not build the app for a reason the operator fixes (a setting, the
    database, Slack): `status` and the one line to print, as `bot.cli` prints them."""

    def __init__(self, status: int, line: str):
        super().__init__(line)
        self.status, self.line = status, line


@dataclass
class Served:
    """What gunicorn's worker serves, and what runs beside it there: `start` once the
    worker is ready (the inbox's processor, the scheduler), `stop` when it exits."""

    wsgi: Callable
    start: Callable[[], None] = lambda: None
    stop: Callable[[], None] = lambda: None


class HeardServer(BaseApplication):
    """gunicorn, configured in code: a master that holds gunicorn only, and one worker
    process with threads that builds the app (`build`) after the fork.

    One worker, because the in-process scheduler and Bolt's listener threads live in it;
    threads, because Bolt acks a request and keeps working after the ack. Scale out with
    a separate `clock` process and more `web` processes instead.

    Start-up fails in one line, not in a worker that crashes and restarts:

    - the port is bound here, in the master, before gunicorn starts: a taken port is a
      `Failure` (one line, exit 1) at once, not gunicorn's five tries and five log lines;
    - when `build` raises in the worker, `explain(exc)` says whether the exception is
      one the operator fixes, as `(status, line)`. Then the worker hands that to the
      master through a pipe and exits with gunicorn's WORKER_BOOT_ERROR, so the master
      halts instead of forking again, and `run` raises `BootFailed(status, line)`;
    - gunicorn's own log lines ("Starting gunicorn", "Booting worker"…) wait until the
      worker has built the app: printed then (by the worker, in order), dropped on a
      `BootFailed`, so the one line is all a failed start prints. An exception `explain`
      does not know is a bug: the lines and gunicorn's traceback are printed, and the
      master exits with status 1 (gunicorn's own would be WORKER_BOOT_ERROR, 3).

    A worker that gunicorn forks again later (one killed for its timeout or by the
    kernel, say) builds the app again, checks included. Once a worker has served, such a
    failure is a fault of the moment (Slack or the database unreachable for a while): the
    replacement prints its one line, waits `retry_seconds` and exits, and gunicorn forks
    another, until one serves; only the first start stops the master. A bug still stops it.
    """

    def __init__(
        self,
        wsgi_app: Callable | None = None,
        *,
        port: int,
        build: Callable[[], Served] | None = None,
        explain: Callable[[BaseException], tuple[int, str] | None] = lambda exc: None,
        timeout: int = 60,
        retry_seconds: float = 5.0,
        header_seconds: float = HEADER_SECONDS,
    ):
        """Serve `wsgi_app`, built already (benchmarks/ingest.py's no-op app), or what
        `build` builds in the worker (`heard run`)."""
        if (wsgi_app is None) == (build is None):
            raise TypeError("HeardServer serves a wsgi_app or what build() builds: one of them")
        self._build = build or (lambda: Served(wsgi_app))
        self._explain = explain
        self._port = port
        self._timeout = timeout  # gunicorn's: a worker silent this long is killed and replaced
        self._served: Served | None = None
        self._bind: str | None = None  # "fd://N": the socket bound in run(), gunicorn's from then on
        self._verdicts: tuple[int, int] | None = None  # the pipe: (read end, write end)
        self._failure: tuple[int, str] | None = None
        self._last_verdict = threading.Event()  # the worker failed to boot, and said why
        self._held: _Hold | None = None  # gunicorn's start-up lines (`_HeldLog`)
        self._forked_after = 0  # how many of them the master held when it forked
        self._retry_seconds = retry_seconds
        self.header_seconds = header_seconds  # read by `HeardWorker`
        self._served_once = False  # in the master: a worker has built the app and served
        self._replacing = False  # in a worker: forked after one had served
        super().__init__()

    def load_config(self) -> None:
        config = {
            **({"bind": self._bind} if self._bind else {}),  # kept by a reload (SIGHUP)
            "workers": 1,
            "worker_class": "bot.web.HeardWorker",
            "threads": 8,
            "keepalive": KEEPALIVE_SECONDS,
            "timeout": self._timeout,
            "graceful_timeout": 20,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "heard",
            "logger_class": _HeldLog,
            "pre_fork": lambda arbiter, worker: self._forking(arbiter),
            "post_worker_init": lambda worker: self._served.start(),
            "worker_exit": lambda arbiter, worker: self._served and self._served.stop(),
        }
        if "control_socket_disable" in self.cfg.settings:  # gunicorn 27 has it; older ones have none
            # Its control socket: a thread and asyncio in the master, at one path per user
            # (~/.gunicorn/gunicorn.ctl) that a second Heard on the machine would take.
            config["control_socket_disable"] = True
        for key, value in config.items():
            self.cfg.set(key, value)

    def run(self) -> None:
        """Serve until SIGTERM. Raises `Failure` (the port) or `BootFailed` (the worker's
        start-up check) in the master; returns or exits as gunicorn does otherwise."""
        from gunicorn.arbiter import Arbiter
        from gunicorn.errors import HaltServer

        try:
            listener = socket.create_server(("0.0.0.0", self._port), backlog=2048)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise Failure(f"cannot serve HTTP on port {self._port}: {reason}") from None
        listener.set_inheritable(True)
        self._bind = f"fd://{listener.detach()}"  # gunicorn takes the descriptor over
        self.cfg.set("bind", self._bind)
        self._verdicts = os.pipe()
        master = os.getpid()
        threading.Thread(target=self._hear_verdicts, name="heard-boot", daemon=True).start()
        arbiter = None
        # Tells the workers which master is theirs: on SQLite a worker replacing another
        # (a reload) waits for it to let go of its role (`bot.db.locks.WORKER_OF`).
        os.environ["HEARD_WORKER_OF"] = str(master)
        try:
            arbiter = Arbiter(self)
            arbiter.run()
        except (SystemExit, HaltServer) as leaving:
            if os.getpid() != master:  # the worker leaving gunicorn's loop: not the master's to judge
                raise
            # gunicorn halts with HaltServer itself when a SIGTERM's shutdown reaps a worker
            # that failed to boot, outside the loop that would turn it into SystemExit.
            code = leaving.exit_status if isinstance(leaving, HaltServer) else leaving.code
            held = arbiter.log.hold if arbiter else None
            if code == WORKER_BOOT_ERROR:
                self._last_verdict.wait(timeout=5)  # written before the worker exited
            if self._failure is not None:
                if held:
                    held.drop()
                raise BootFailed(*self._failure) from None
            if held:
                held.show()
            if code == WORKER_BOOT_ERROR:  # a bug, whose traceback gunicorn has printed
                sys.exit(1)  # Heard's status for a failure at run time (SPEC: 0, 1 or 2)
            if isinstance(leaving, HaltServer):
                sys.exit(code)
            raise
        except RuntimeError as exc:  # as gunicorn's BaseApplication.run
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.exit(1)

    def load(self) -> Callable:
        """In the worker: build the app; on failure, tell the master why and exit."""
        try:
            self._served = self._build()
        except Exception as exc:
            explained = self._explain(exc)
            if explained is None:  # a bug: everything is printed, gunicorn's traceback too
                self._held.show()
                self._say({"shown": self._forked_after, "boot_error": True})
                raise
            if self._replacing:  # the service has run: wait, and let gunicorn fork another
                print(f"{explained[1]} (a replacement worker; another tries in {self._retry_seconds:g} s)",
                      file=sys.stderr, flush=True)  # fmt: skip
                time.sleep(self._retry_seconds)
                sys.exit(1)
            self._held.drop()
            self._say({"failed": list(explained)})
            sys.exit(WORKER_BOOT_ERROR)
        self._held.show()  # the master's lines up to the fork, then the worker's own
        self._say({"shown": self._forked_after})
        return self._served.wsgi

    def _forking(self, arbiter) -> None:
        """pre_fork, in the master: the worker prints the lines held so far."""
        self._held = arbiter.log.hold
        self._forked_after = self._held.count()
        self._replacing = self._served_once  # what the worker forked now inherits

    def _say(self, message: dict) -> None:
        os.write(self._verdicts[1], json.dumps(message).encode() + b"\n")

    def _hear_verdicts(self) -> None:
        """In the master: the worker's word on each start; the held lines follow it."""
        pending = b""
        while chunk := os.read(self._verdicts[0], 65536):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                message = json.loads(line)
                if "failed" in message:
                    status, text = message["failed"]
                    self._failure = (int(status), str(text))
                else:
                    self._held.show(already_shown=message["shown"])
                    self._served_once = not message.get("boot_error")
                if "failed" in message or message.get("boot_error"):
                    self._last_verdict.set()  # the master halts: no worker will say more
                    return


class HeardWorker(ThreadWorker):
    """gunicorn's gthread worker, with a deadline on a request's line and headers.

    gthread waits for a new connection's first byte (5 s on a thread, then in its poller),
    then reads the headers on one of its threads with no time limit: 8 clients sending a
    few bytes and then nothing stalled every request, health checks too. Here the headers
    must all arrive within `HeardServer.header_seconds` of their first byte, however they
    trickle; a client that is later is disconnected, with one log line. (The body's
    deadline is the front's, `bot.slack.front.read_body`: it answers 408.)

    A new connection that has sent nothing goes back to the poller at once (gthread kept
    it on a thread for 5 s: 8 idle connections held every thread, and 48 opened at once
    kept others waiting 3 s even at half a second each). A connection cut off for time is
    closed at once, not gracefully. Any other connection that ends is closed gracefully on
    a thread of its own: gunicorn's graceful close, on the thread that accepts and
    dispatches every connection, waits up to 2 s for the client to close its side too,
    which a stalled client never does, nor one that asks `Connection: close` and keeps its
    socket (8 of them held every new connection for 16 s). Both are closed in
    `finish_request`, where gunicorn counts its connections (`nr_conns`, which keeps a
    worker under `worker_connections` and decides whether a stopping worker still has
    kept-alive connections to answer), and counted once. A connection still waiting for
    its first byte when the worker stops is closed on purpose (gthread took it for a
    kept-alive one and failed on its missing parser).

    Built on gthread's internals (`handle`, `finish_request`, its `_DEFER`): pyproject.toml
    holds gunicorn to the major version they were read from, and tests/test_web_server.py
    runs them against real sockets.
    """

    def handle(self, conn):
        if self.cfg.is_ssl:  # gunicorn wraps a TLS socket itself; Heard serves none
            return super().handle(conn)
        if not isinstance(conn.sock, _TimedSocket):
            conn.sock = _TimedSocket(conn.sock, conn.client)
        if not conn.initialized and not conn.data_ready and not conn.wait_for_data(IDLE_SECONDS):
            return _DEFER  # the poller waits for its first byte, on no thread
        conn.sock.arm(self.app.header_seconds)
        keep = super().handle(conn)
        return False if conn.sock.timed_out else keep

    def finish_request(self, conn, fs):
        if isinstance(conn.sock, _TimedSocket) and conn.sock.timed_out:
            self.nr_conns -= 1
            conn.close()  # at once: see the class's doc
            return
        result = None if fs.cancelled() or fs.exception() is not None else fs.result()
        if result is False or (result is _DEFER and not self.alive):
            self.nr_conns -= 1
            threading.Thread(target=conn.close, kwargs={"graceful": result is False}, name="heard-close",
                             daemon=True).start()  # fmt: skip
            return
        super().finish_request(conn, fs)

    def handle_request(self, req, conn):
        if isinstance(conn.sock, _TimedSocket):
            conn.sock.disarm()  # the headers are in: the app reads the body in its own time
        return super().handle_request(req, conn)


class _TimedSocket:
    """A client socket whose reads, while armed, end `seconds` after the first: a read
    that would pass the deadline reads nothing, which gunicorn takes for a client that
    hung up (it closes the connection, quietly). `timed_out` says a read timed out, then
    or later (the front's deadline on the body). Everything else is the socket's."""

    def __init__(self, sock: socket.socket, client):
        self._sock = sock
        self._client = client
        self._seconds: float | None = None
        self._until: float | None = None
        self.timed_out = False

    def arm(self, seconds: float) -> None:
        self._seconds, self._until = seconds, None

    def disarm(self) -> None:
        self._seconds = self._until = None
        self._sock.settimeout(None)  # blocking, as gunicorn left it

    def recv(self, size: int, *flags) -> bytes:
        if self._seconds is None:
            try:
                return self._sock.recv(size, *flags)
            except TimeoutError:
                self.timed_out = True
                raise
        if self._until is None:
            self._until = time.monotonic() + self._seconds
        left = self._until - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self._sock.settimeout(left)
            return self._sock.recv(size, *flags)
        except TimeoutError:
            log.warning("closed a connection from %s: its request headers took over %g s",
                        _address(self._client), self._seconds)  # fmt: skip
            self.disarm()
            self.timed_out = True
            return b""

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def _address(client) -> str:
    return str(client[0]) if isinstance(client, tuple) and client else str(client)


class _Hold(logging.Handler):
    """Stands in for gunicorn's error-log handlers: keeps their records until `show`
    passes them on (and every later one at once), or `drop` forgets them."""

    def __init__(self, logger: logging.Logger):
        super().__init__()
        self._targets = list(logger.handlers)
        self._records: list[logging.LogRecord] = []
        self._holding = True
        for handler in self._targets:
            logger.removeHandler(handler)
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if self._holding:
            self._records.append(record)
        else:
            self._pass(record)

    def count(self) -> int:
        with self.lock:
            return len(self._records)

    def show(self, already_shown: int = 0) -> None:
        """Pass on the held records but the first `already_shown` (another process printed
        them), and stop holding."""
        with self.lock:
            records, self._records, self._holding = self._records[already_shown:], [], False
            for record in records:
                self._pass(record)

    def drop(self) -> None:
        with self.lock:
            self._records = []

    def _pass(self, record: logging.LogRecord) -> None:
        for handler in self._targets:
            if record.levelno >= handler.level:
                handler.handle(record)


class _HeldLog(Logger):
    """gunicorn's logger, whose error log (its start-up lines) is held by a `_Hold`."""

    hold: _Hold | None = None

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if self.hold is None:
            self.hold = _Hold(self.error_log)
        else:  # a reload (SIGHUP) set up gunicorn's handlers again: they print directly
            self.error_log.removeHandler(self.hold)
