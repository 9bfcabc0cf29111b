"""Pacing Heard's calls to Slack: per workspace and method, inside Slack's rate-limit tiers.

Slack limits each app per workspace and per method, in tiers of calls per minute
(Tier 1: 1+, Tier 2: 20+, Tier 3: 50+, Tier 4: 100+), and `chat.postMessage` by its own
rule: about one message per second per channel, with short bursts, and several hundred
per minute across the workspace. Going past a limit earns a 429 with `Retry-After`;
a 5,000-person DM fan-out that ignored them would spend most of its calls bouncing.

`RateLimiter` keeps a token bucket per (workspace, method), and for `chat.postMessage`
one per channel too. Each bucket runs at 95% of the published rate with a burst of 5% of
a minute's calls (at least one), so that no minute, however it is cut, sees more calls
than Slack allows: the fan-out keeps above 90% of the limit and meets no 429 on the way.
A 429 that comes anyway (another app, another Heard process: each process paces itself)
holds the bucket until Slack's `Retry-After` has passed.

`acquire` waits for a token up to `max_wait` and says how long the rest would take,
so a caller on a hot path (an event's listener) puts a call back for later instead of
sleeping; the clock and the sleep are injectable (`speed` compresses a minute for the
benchmark, `benchmarks/fanout.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """A published limit: `per_minute` calls per minute; `burst`, how many may go at once
    (None: `BURST_SHARE` of a minute's calls)."""

    per_minute: float
    burst: float | None = None


TIER_1, TIER_2, TIER_3, TIER_4 = Rate(1), Rate(20), Rate(50), Rate(100)
POST_PER_CHANNEL = Rate(60, burst=5)  # chat.postMessage: about one per second in one channel, short bursts
POST_PER_WORKSPACE = Rate(300)  # chat.postMessage: "several hundred per minute" per workspace

# The methods the outbox calls, by tier (api.slack.com/methods, each method's "Rate limits").
METHOD_RATES: dict[str, Rate] = {
    "chat.postMessage": POST_PER_WORKSPACE,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.open": TIER_3,
    "conversations.info": TIER_3,
    "conversations.join": TIER_3,
    "reactions.add": TIER_3,
    "users.info": TIER_4,
    "views.publish": TIER_4,
}
DEFAULT_RATE = TIER_3
PER_CHANNEL: dict[str, Rate] = {"chat.postMessage": POST_PER_CHANNEL}
EPSILON = 1e-6  # seconds: a wait this short is no wait
SHARE = 0.95  # of the published rate a bucket refills at
BURST_SHARE = 0.05  # of a minute's calls a bucket may spend at once


class _Bucket:
    def __init__(self, rate: Rate, speed: float, now: float) -> None:
        self.per_second = rate.per_minute * SHARE * speed / 60
        self.capacity = rate.burst or max(1.0, rate.per_minute * BURST_SHARE)
        self.tokens = self.capacity
        self.updated = now
        self.held_until = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            start = max(self.updated, self.held_until)
            if now > start:
                self.tokens = min(self.capacity, self.tokens + (now - start) * self.per_second)
            self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until this bucket has a whole token."""
        self.refill(now)
        held = max(0.0, self.held_until - now)
        missing = max(0.0, 1.0 - self.tokens)
        return held + missing / self.per_second


class RateLimiter:
    """Token buckets per (workspace, method), and per channel for chat.postMessage."""

    def __init__(self, *, speed: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.speed = speed
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def _buckets_for(
        self, team_id: str, method: str, channel: str | None, now: float
    ) -> list[_Bucket]:
        wanted = [((team_id, method), METHOD_RATES.get(method, DEFAULT_RATE))]
        if channel and method in PER_CHANNEL:
            wanted.append(((team_id, method, channel), PER_CHANNEL[method]))
        found = []
        for key, rate in wanted:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(rate, self.speed, now)
            found.append(bucket)
        return found

    def acquire(
        self, team_id: str, method: str, channel: str | None = None, *, max_wait: float = 60.0
    ) -> float:
        """Take a token for one call, waiting up to `max_wait` seconds for it; returns 0.0
        once taken, or, when the wait would be longer, how long it would be (nothing taken)."""
        while True:
            with self._lock:
                now = self.clock()
                buckets = self._buckets_for(team_id, method, channel, now)
                wait = max(bucket.wait(now) for bucket in buckets)
                if wait <= EPSILON:  # a token, give or take a float's rounding
                    for bucket in buckets:
                        bucket.tokens -= 1.0
                    return 0.0
            if wait > max_wait:
                return wait
            self.sleep(wait)
            max_wait -= wait

    def hold(self, team_id: str, method: str, seconds: float) -> None:
        """Slack answered 429: no call of `method` in this workspace for `seconds` (Slack's
        own seconds, not compressed by `speed`)."""
        with self._lock:
            now = self.clock()
            for bucket in self._buckets_for(team_id, method, None, now):
                bucket.refill(now)
                bucket.tokens = min(bucket.tokens, 0.0)
                bucket.held_until = max(bucket.held_until, now + seconds)
