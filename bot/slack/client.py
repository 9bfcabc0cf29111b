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


def retry_handlers() -> list[RetryHandler]:
    """Heard's retry policy: honour Retry-After on 429, retry 5xx and dropped connections."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(
    token: str | None, api_url: str, *, timeout: int = DEFAULT_TIMEOUT_SECONDS
) -> WebClient:
    """A WebClient for `token` against `api_url` (SLACK_API_URL), with the retry policy."""
    return WebClient(
        token=token, base_url=api_url, timeout=timeout, retry_handlers=retry_handlers()
    )
