"""An overall deadline for LLM requests that a slow server cannot stretch.

The openai client's `timeout` bounds each read from the socket, not the request: a server
that answers 200 and then sends its body a byte every few seconds keeps every read short
and the request alive for as long as it likes. Here every socket operation of the
client's connections (connect, TLS, write, read) waits at most until the deadline of the
request in progress (`within`), and one that starts after it fails at once with a
timeout, which the openai client reports as `APITimeoutError`. A trickling server is cut
off at its first byte past the deadline, a silent one when the deadline comes.

Not bounded: the name lookup before connecting (the operating system's resolver).
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore2
import httpx2

__all__ = ["deadline_client", "within"]

# Per thread (and task): two digests built at once each keep their own deadline.
_DEADLINE: ContextVar[float | None] = ContextVar("heard_llm_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Requests made inside the block end, one way or another, `seconds` from now."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` cut to the time left before the deadline; `expired` when none is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the LLM request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    def __init__(self, stream: httpcore2.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # One write call may send in several pieces, each with the timeout given: a peer
        # that reads slowly can stretch it, but Heard's requests are a few kilobytes.
        self._stream.write(buffer, _time_left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore2.NetworkStream:  # fmt: skip
        return _DeadlineStream(self._stream.start_tls(
            ssl_context, server_hostname, _time_left(timeout, httpcore2.ConnectTimeout)))  # fmt: skip

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, backend: httpcore2.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore2.NetworkStream:  # fmt: skip
        return _DeadlineStream(self._backend.connect_tcp(
            host, port, _time_left(timeout, httpcore2.ConnectTimeout), local_address, socket_options))  # fmt: skip

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore2.NetworkStream:  # fmt: skip
        return _DeadlineStream(self._backend.connect_unix_socket(
            path, _time_left(timeout, httpcore2.ConnectTimeout), socket_options))  # fmt: skip

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx2.HTTPTransport):
    def __init__(self, *, proxy: str | None = None) -> None:
        super().__init__(proxy=proxy)
        # httpx takes no network backend; its pool (a proxy's too) keeps the one it made.
        self._pool._network_backend = _DeadlineBackend(self._pool._network_backend)


def deadline_client(base_url: str | None) -> httpx2.Client:
    """The HTTP client for the openai client: its requests keep the deadline of `within`.

    Proxies come from the environment (HTTPS_PROXY, ALL_PROXY, NO_PROXY) as httpx would
    take them; they are looked up here because httpx mounts its own, deadline-less,
    transports for them.
    """
    import openai

    url = urllib.parse.urlsplit(base_url or "https://api.openai.com/v1")
    proxies = urllib.request.getproxies()
    proxy = None
    if not (url.hostname and urllib.request.proxy_bypass(url.hostname)):
        proxy = proxies.get(url.scheme) or proxies.get("all")
    return openai.DefaultHttpxClient(transport=_DeadlineTransport(proxy=proxy), trust_env=False)
