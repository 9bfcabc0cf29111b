"""The jobs an admin may schedule: those the rooms registered, and those with a default
in `schedules/` (`heard run` and `heard clock` refuse a schedule file naming a job no room
registers, `schedules.check_jobs_exist`; here such a name is only offered)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from bot.scheduler.cadence import Cadence
from bot.scheduler.registry import JobRegistry
from bot.scheduler.schedules import ScheduleFileError, load_default_schedules, schedules_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobCatalog:
    defaults: dict[str, Cadence] = field(default_factory=dict)
    registered: frozenset[str] = frozenset()

    @property
    def names(self) -> list[str]:
        return sorted(set(self.defaults) | self.registered)


def job_catalog(schedules: str | None, registry: JobRegistry) -> JobCatalog:
    """The catalog for `HEARD_SCHEDULES_DIR` (`schedules`) and the rooms' `registry`."""
    return _catalog(schedules, frozenset(spec.name for spec in registry))


@functools.lru_cache(maxsize=8)
def _catalog(configured_dir: str | None, registered: frozenset[str]) -> JobCatalog:
    try:
        defaults = load_default_schedules(schedules_dir(configured_dir))
    except ScheduleFileError as exc:  # `heard run` reports this at start-up; here it only narrows
        log.warning("schedules/ unreadable, only registered jobs can be scheduled: %s", exc)
        defaults = {}
    return JobCatalog({name: d.cadence for name, d in defaults.items()}, registered)
