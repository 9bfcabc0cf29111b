from pathlib import Path

import pytest

from bot.scheduler.cadence import parse_cadence
from bot.scheduler.schedules import ScheduleFileError, load_default_schedules, schedules_dir

REPO = Path(__file__).resolve().parents[2]
SPEC_JOBS = {"weekly-story", "decision-prompts", "decision-nudges", "feedback-sweep",
             "leadership-digest"}  # fmt: skip


def test_shipped_schedules_cover_every_job_of_the_spec():
    from bot.features import load_rooms

    schedules = load_default_schedules(REPO / "schedules")
    registered = {spec.name for spec in load_rooms().registry}
    assert SPEC_JOBS <= set(schedules)
    # every job a room registers has its default (`story-draft` too), and nothing else does
    assert registered <= set(schedules) <= SPEC_JOBS | registered
    assert schedules["feedback-sweep"].cadence == parse_cadence("hourly")


def test_configured_directory_wins(tmp_path):
    (tmp_path / "x.toml").write_text('job = "x"\nwhen = "daily 08:00"\n')
    assert schedules_dir(str(tmp_path)) == tmp_path
    assert load_default_schedules(tmp_path)["x"].cadence == parse_cadence("daily 08:00")


def test_missing_configured_directory_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScheduleFileError, match="HEARD_SCHEDULES_DIR"):
        schedules_dir(str(tmp_path / "nope"))


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("job = \n", "x.toml"),
        ('when = "mon 10:00"\n', "`job`"),
        ('job = "x"\n', "`when`"),
        ('job = "x"\nwhen = "someday"\n', "someday"),
        (b"\xff\xfe".decode("latin-1"), "x.toml"),
    ],
)
def test_bad_file_is_named_in_one_line(tmp_path, content, complaint):
    (tmp_path / "x.toml").write_text(content, encoding="latin-1")
    with pytest.raises(ScheduleFileError) as caught:
        load_default_schedules(tmp_path)
    assert complaint in str(caught.value)
    assert str(tmp_path / "x.toml") in str(caught.value)


def test_a_job_defined_twice_is_an_error(tmp_path):
    (tmp_path / "a.toml").write_text('job = "x"\nwhen = "hourly"\n')
    (tmp_path / "b.toml").write_text('job = "x"\nwhen = "daily 08:00"\n')
    with pytest.raises(ScheduleFileError, match="already defined"):
        load_default_schedules(tmp_path)
