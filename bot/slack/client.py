"""The one WebClient factory: base URL, timeouts and one retry policy for every call."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler

DEFAULT_TIMEOUT_SECONDS = 15


def retry_handlers(*, posting: bool = False) -> list[RetryHandler]:
    """Heard's retry policy: honour Retry-After on 429, retry 5xx and dropped connections.

    The outbox's client (`posting`) retries nothing: a post whose connection dropped or
    that got a 5xx may have been made, and a blind retry would post it twice. The outbox
    settles such a send from the channel's history first, and handles 429 itself, with
    its rate limiter (`bot.slack.outbox`, `bot.slack.ratelimit`).
    """
    if posting:
        return []
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
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
