"""Cadences: the human schedule format shared by `schedules/*.toml` and `/heard schedule`.

    "mon 10:00"         Mondays at 10:00
    "mon,thu 09:30"     Mondays and Thursdays
    "mon-fri 08:00"     weekdays
    "daily 17:00"       every day
    "hourly"            every hour on the hour; "hourly :15" at a quarter past
    "off"               never

Times are 24-hour and read in the workspace's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from apscheduler.triggers.cron import CronTrigger

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
    "friday": "fri", "saturday": "sat", "sunday": "sun",
    "tues": "tue", "thur": "thu", "thurs": "thu", "weds": "wed",
}  # fmt: skip
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_HOURLY = re.compile(r"^hourly(?:\s+:([0-5]\d))?$")
EXAMPLE = '"mon 10:00", "mon-fri 09:30", "daily 17:00", "hourly" or "off"'


class CadenceError(ValueError):
    """The text is not a cadence; the message says what is wrong in one line."""


@dataclass(frozen=True)
class Cadence:
    """When a job runs: on `days` (empty = every day) at hour:minute, or hourly, or never."""

    days: tuple[str, ...] = ()
    hour: int | None = None  # None with minute set = hourly
    minute: int = 0
    off: bool = False

    @property
    def hourly(self) -> bool:
        return not self.off and self.hour is None

    def trigger(self, time_zone: str) -> CronTrigger | None:
        """The APScheduler trigger in `time_zone`, or None when off."""
        if self.off:
            return None
        if self.hourly:
            return CronTrigger(minute=self.minute, timezone=time_zone)
        day_of_week = ",".join(self.days) if self.days else "*"
        return CronTrigger(
            day_of_week=day_of_week, hour=self.hour, minute=self.minute, timezone=time_zone
        )

    def __str__(self) -> str:
        if self.off:
            return "off"
        if self.hourly:
            return "hourly" if self.minute == 0 else f"hourly :{self.minute:02d}"
        when = f"{self.hour:02d}:{self.minute:02d}"
        if not self.days:
            return f"daily {when}"
        return f"{_days_text(self.days)} {when}"


def _days_text(days: tuple[str, ...]) -> str:
    if days == DAYS[:5]:
        return "mon-fri"
    return ",".join(days)


def _parse_days(text: str) -> tuple[str, ...]:
    chosen: set[str] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise CadenceError(f"empty day in {text!r}")
        if "-" in part:
            start, _, end = part.partition("-")
            first, last = _day(start), _day(end)
            i, j = DAYS.index(first), DAYS.index(last)
            if i > j:
                raise CadenceError(f"day range {part!r} runs backwards")
            chosen.update(DAYS[i : j + 1])
        else:
            chosen.add(_day(part))
    return tuple(day for day in DAYS if day in chosen)


def _day(text: str) -> str:
    word = text.strip().lower()
    word = _FULL_DAY_NAMES.get(word, word)
    if word not in DAYS:
        raise CadenceError(f"{text.strip()!r} is not a day (use mon, tue, … sun or daily)")
    return word


def parse_cadence(text: str) -> Cadence:
    """Parse a cadence; raise CadenceError with a one-line reason. Never raises anything else."""
    if not isinstance(text, str):
        raise CadenceError("a schedule must be text such as " + EXAMPLE)
    cleaned = " ".join(text.strip().strip('"“”\'').split()).lower()
    if not cleaned:
        raise CadenceError("empty schedule; use " + EXAMPLE)
    if cleaned == "off":
        return Cadence(off=True)
    hourly = _HOURLY.match(cleaned)
    if hourly:
        return Cadence(hour=None, minute=int(hourly.group(1) or 0))
    head, _, time_text = cleaned.rpartition(" ")
    if not head:
        raise CadenceError(f"{text.strip()!r} has no day and time; use " + EXAMPLE)
    time_match = _TIME.match(time_text)
    if not time_match:
        raise CadenceError(f"{time_text!r} is not a 24-hour time such as 09:30")
    hour, minute = int(time_match.group(1)), int(time_match.group(2))
    if head in ("daily", "every day", "everyday"):
        return Cadence(days=(), hour=hour, minute=minute)
    days = _parse_days(head.replace(" ", ","))
    if days == DAYS:
        days = ()
    return Cadence(days=days, hour=hour, minute=minute)
