"""Time for Heard: an injectable source of aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, aware and in UTC. Tests pass their own clock or move this one with time-machine."""
    return datetime.now(UTC)
