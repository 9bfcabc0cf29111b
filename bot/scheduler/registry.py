"""The job registry: each feature contributes its recurring jobs here.

A job is a plain function of a :class:`JobContext`. Its `period` says how often it
may run for one workspace ("hour", "day" or "week"): the run ledger records one row
per job, workspace and period, so a job run twice in one period runs once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from sqlalchemy.orm import Session

    from bot.settings import Settings

Period = Literal["hour", "day", "week"]


@dataclass
class JobContext:
    """What a job gets: its workspace, period, time, a session and a Slack client."""

    job: str
    team_id: str
    workspace_id: int
    time_zone: str
    period: str
    now: datetime
    session: Session
    client: WebClient
    settings: Settings


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: Callable[[JobContext], str | None]
    period: Period
    description: str


def period_key(period: Period, now: datetime, time_zone: str) -> str:
    """The ledger key of `now` in the workspace's zone: 2026-11-25T10, 2026-11-25 or 2026-W48."""
    local = now.astimezone(ZoneInfo(time_zone))
    if period == "hour":
        return local.strftime("%Y-%m-%dT%H")
    if period == "day":
        return local.strftime("%Y-%m-%d")
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class JobRegistry:
    jobs: dict[str, JobSpec] = field(default_factory=dict)

    def register(self, spec: JobSpec) -> None:
        if spec.name in self.jobs:
            raise ValueError(f"job {spec.name!r} registered twice")
        self.jobs[spec.name] = spec

    def get(self, name: str) -> JobSpec | None:
        return self.jobs.get(name)

    def __iter__(self):
        return iter(sorted(self.jobs.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self.jobs)

    @classmethod
    def of(cls, specs: Iterable[JobSpec]) -> JobRegistry:
        registry = cls()
        for spec in specs:
            registry.register(spec)
        return registry

