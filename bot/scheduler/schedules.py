"""Loads the default cadence of every job from `schedules/*.toml` (operator-editable data).

Each file describes one job:

    job = "weekly-story"
    when = "mon 10:00"        # see bot.scheduler.cadence
    description = "..."       # optional, shown by `heard jobs list`

The directory is `$HEARD_SCHEDULES_DIR`, else `./schedules` in the working
directory, else the repository's `schedules/`, else the copy inside the wheel.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.scheduler.cadence import Cadence, CadenceError, parse_cadence

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class ScheduleFileError(Exception):
    """A schedules/ file is unreadable or invalid; the message names the file."""


@dataclass(frozen=True)
class DefaultSchedule:
    job: str
    cadence: Cadence
    description: str
    path: Path


def schedules_dir(configured: str | None = None) -> Path:
    if configured:
        if not Path(configured).is_dir():
            raise ScheduleFileError(f"HEARD_SCHEDULES_DIR {configured} is not a directory")
        return Path(configured)
    for candidate in (
        Path.cwd() / "schedules",
        PACKAGE_ROOT.parent / "schedules",
        PACKAGE_ROOT / "_data" / "schedules",
    ):
        if candidate.is_dir():
            return candidate
    raise ScheduleFileError("no schedules/ directory found; set HEARD_SCHEDULES_DIR")


def load_default_schedules(directory: Path) -> dict[str, DefaultSchedule]:
    """Every job's default cadence, by job name; ScheduleFileError names a bad file."""
    schedules: dict[str, DefaultSchedule] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ScheduleFileError(f"{path}: {exc}") from None
        job, when = data.get("job"), data.get("when")
        if not isinstance(job, str) or not job:
            raise ScheduleFileError(f"{path}: `job` must name the job, e.g. job = \"weekly-story\"")
        if not isinstance(when, str):
            raise ScheduleFileError(f"{path}: `when` must be a schedule such as \"mon 10:00\"")
        try:
            cadence = parse_cadence(when)
        except CadenceError as exc:
            raise ScheduleFileError(f"{path}: when = {when!r}: {exc}") from None
        if job in schedules:
            raise ScheduleFileError(f"{path}: job {job!r} is already defined in {schedules[job].path}")
        description = data.get("description", "")
        schedules[job] = DefaultSchedule(job, cadence, str(description), path)
    return schedules


def check_jobs_exist(schedules: dict[str, DefaultSchedule], jobs: Iterable[str]) -> None:
    """ScheduleFileError for a file whose `job` no room registers (`jobs`): a typo such as
    job = "weekly-stories" would otherwise leave the real job on its old schedule, or on
    none, without a word, while the operator believes it changed."""
    known = sorted(jobs)
    for schedule in schedules.values():
        if schedule.job not in known:
            raise ScheduleFileError(
                f"{schedule.path}: there is no job named {schedule.job!r} (the jobs: {', '.join(known)})"
            )
