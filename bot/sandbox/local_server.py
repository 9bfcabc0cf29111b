"""Heard's WSGI app on a loopback port, and a listener pool whose work can be awaited.

Used by `heard demo` and the sandbox tests. Production serves the same WSGI app
with gunicorn (`heard run`).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from socketserver import BaseServer, ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class DrainableExecutor(ThreadPoolExecutor):
    """Bolt's listener pool, with `drain()` to await every listener started so far.

    Bolt acks a request first and runs the listener after; whoever needs the
    listener's effect (a test, the demo's script) awaits it here instead of sleeping.
    """

    def __init__(self, max_workers: int = 5):
        super().__init__(max_workers=max_workers, thread_name_prefix="bolt-listener")
        self._futures: list[Future] = []
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._futures.append(future)
        return future

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for every listener so far; re-raise the first listener error."""
        with self._lock:
            pending, self._futures = self._futures, []
        done, not_done = wait(pending, timeout=timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} listener(s) still running after {timeout}s")
        for future in done:
            future.result()


class ServerThread:
    """A socketserver served from a daemon thread; `stop()` releases its port.

    A short poll interval keeps `stop()`, and so every test teardown, fast.
    """

    def __init__(self, server: BaseServer, name: str):
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class LocalServer:
    """Serves a WSGI app on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, wsgi_app):
        server = make_server(
            "127.0.0.1", 0, wsgi_app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._running = ServerThread(server, "heard-wsgi")
        self.url = f"http://127.0.0.1:{self._running.port}"

    def start(self) -> LocalServer:
        self._running.start()
        return self

    def stop(self) -> None:
        self._running.stop()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
