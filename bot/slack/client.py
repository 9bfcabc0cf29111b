"""The one WebClient factory: base URL, timeouts and one retry policy for every call.

A 429 is slept out for as long as Slack's `Retry-After` asks, which suits a long read
(a backfill) but not the inbox's processor: every event behind the one whose read was
rate-limited would wait with it, for minutes under a one-call-a-minute limit. While
the processor works (`waiting_at_most`), a 429 asking for longer than it allows is
raised at once; the processor puts that event back until `retry_after` has passed
(`bot.slack.inbox`) and goes on with the rest.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

DEFAULT_TIMEOUT_SECONDS = 15
DEFAULT_RETRY_AFTER = 30  # seconds, for a 429 without a usable Retry-After (Slack always sends one)
# Retry-After is held to these bounds (seconds). Slack asks for a second to a minute or so;
# 0 would have a rate-limited call retried at once, over and over, and an absurd value
# (a misbehaving proxy's) would hold an event, or a method for the whole workspace, for
# years, or overflow the date it is added to.
MIN_RETRY_AFTER = 1
MAX_RETRY_AFTER = 15 * 60

_patience: ContextVar[float | None] = ContextVar("slack_patience", default=None)


@contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Inside, in this thread: a 429 is waited out once, when its Retry-After asks for at
    most `seconds`; otherwise the call raises its SlackApiError (status 429) at once."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


def retry_after(exc: BaseException) -> tuple[str, int] | None:
    """For a call Slack rate-limited (`exc` a SlackApiError with status 429, or an error
    raised `from` one): the API method and the seconds its Retry-After asked for. An
    error merely raised while a 429 was being handled is not one: it is a failure."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SlackApiError) and getattr(exc.response, "status_code", None) == 429:
            method = str(getattr(exc.response, "api_url", "")).rstrip("/").rsplit("/", 1)[-1]
            return method, _seconds(exc.response.headers or {})
        exc = exc.__cause__
    return None


def retry_after_seconds(exc: SlackApiError) -> int:
    """The seconds a 429's Retry-After asks for (`DEFAULT_RETRY_AFTER` when it has none usable)."""
    return _seconds(exc.response.headers or {})


def _seconds(headers: dict) -> int:
    """Retry-After, in whole seconds, from headers as slack_sdk keeps them (a value or a
    list), within `MIN_RETRY_AFTER` and `MAX_RETRY_AFTER`. Every reading of a 429 goes
    through here, slack_sdk's sleep included (`_RateLimitRetry`)."""
    value = next((v for name, v in headers.items() if name.lower() == "retry-after"), None)
    value = value[0] if isinstance(value, list) and value else value
    seconds = int(value) if str(value).isdigit() else DEFAULT_RETRY_AFTER
    return min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's handler (sleep Retry-After, try again), held to `waiting_at_most` and
    sleeping Retry-After as `_seconds` reads it (slack_sdk's own reading has no bounds and
    fails on a value that is not a number)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:  # fmt: skip
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        patience = _patience.get()
        return patience is None or (state.current_attempt == 0 and _seconds(response.headers) <= patience)

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:  # fmt: skip
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        time.sleep(_seconds(response.headers) + random.random())
        state.increment_current_attempt()


def retry_handlers(*, posting: bool = False) -> list[RetryHandler]:
    """Heard's retry policy: honour Retry-After on 429 (within `waiting_at_most`), retry
    5xx and dropped connections.

    The outbox's client (`posting`) retries nothing: a post whose connection dropped or
    that got a 5xx may have been made, and a blind retry would post it twice. The outbox
    settles such a send from the channel's history first, and handles 429 itself, with
    its rate limiter (`bot.slack.outbox`, `bot.slack.ratelimit`).
    """
    if posting:
        return []
    return [
        _RateLimitRetry(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(
    token: str | None,
    api_url: str,
    *,
    timeout: int = DEFAULT_TIMEOUT_SECONDS,
    posting: bool = False,
) -> WebClient:
    """A WebClient for `token` against `api_url` (SLACK_API_URL), with the retry policy."""
    return WebClient(
        token=token,
        base_url=api_url,
        timeout=timeout,
        retry_handlers=retry_handlers(posting=posting),
    )
