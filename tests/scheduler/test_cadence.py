from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.scheduler.cadence import Cadence, CadenceError, parse_cadence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon 10:00", Cadence(days=("mon",), hour=10, minute=0)),
        ('"mon 10:00"', Cadence(days=("mon",), hour=10, minute=0)),
        ("Monday 9:05", Cadence(days=("mon",), hour=9, minute=5)),
        ("mon,thu 09:30", Cadence(days=("mon", "thu"), hour=9, minute=30)),
        ("thu,mon 09:30", Cadence(days=("mon", "thu"), hour=9, minute=30)),
        ("mon-fri 08:00", Cadence(days=("mon", "tue", "wed", "thu", "fri"), hour=8, minute=0)),
        ("daily 17:00", Cadence(days=(), hour=17, minute=0)),
        ("mon-sun 17:00", Cadence(days=(), hour=17, minute=0)),
        ("hourly", Cadence(hour=None, minute=0)),
        ("hourly :15", Cadence(hour=None, minute=15)),
        ("off", Cadence(off=True)),
        ("  OFF ", Cadence(off=True)),
    ],
)
def test_parses_the_documented_forms(text, expected):
    assert parse_cadence(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "xyz 99:99", "mon", "10:00", "mon 24:00", "mon 10:60", "fri-mon 10:00",
     "mon,,tue 10:00", "hourly :75", "every day at noon", "mon 10:00:00", "mon -5:00"],
)  # fmt: skip
def test_rejects_nonsense_with_a_reason(text):
    with pytest.raises(CadenceError) as caught:
        parse_cadence(text)
    assert str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text", ["mon 10:00", "mon,thu 09:30", "mon-fri 08:00", "daily 17:00",
                                  "hourly", "hourly :15", "off", "sat,sun 23:59"])  # fmt: skip
def test_round_trips_through_its_text(text):
    assert str(parse_cadence(text)) == text
    assert parse_cadence(str(parse_cadence(text))) == parse_cadence(text)


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_cadence_error(text):
    try:
        cadence = parse_cadence(text)
    except CadenceError:
        return
    assert parse_cadence(str(cadence)) == cadence


def test_trigger_fires_in_the_workspace_time_zone():
    trigger = parse_cadence("mon 10:00").trigger("America/New_York")
    after = datetime(2026, 11, 25, tzinfo=UTC)  # a Wednesday
    fire = trigger.get_next_fire_time(None, after)
    assert fire.astimezone(UTC) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 10:00 EST


def test_off_has_no_trigger():
    assert parse_cadence("off").trigger("UTC") is None
