"""Opening hours decide when callbacks may be placed; retries back off and wait for the next opening."""

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ConfigError
from core.hours import parse
from core.policy import CallbackPolicy as Policy

HOURS = parse("mon-fri 08:00-20:00; sat 09:00-13:00", "Europe/Berlin")
WEDNESDAY_NOON_BERLIN = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # 12:00 in Berlin (CET)


def test_open_and_closed_times_follow_the_local_clock():
    assert HOURS.is_open(WEDNESDAY_NOON_BERLIN)
    assert not HOURS.is_open(datetime(2026, 11, 25, 19, 30, tzinfo=UTC))  # 20:30 in Berlin
    assert not HOURS.is_open(datetime(2026, 11, 29, 11, 0, tzinfo=UTC))  # Sunday


def test_next_opening_after_closing_is_the_next_morning_and_skips_sunday():
    friday_night = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # 21:00 Friday in Berlin
    assert HOURS.next_open(friday_night) == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # Saturday 09:00 Berlin
    saturday_afternoon = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # 14:00 Saturday
    assert HOURS.next_open(saturday_afternoon) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 08:00 Berlin
    assert HOURS.next_open(WEDNESDAY_NOON_BERLIN) == WEDNESDAY_NOON_BERLIN


def test_retries_back_off_exponentially_and_never_land_outside_opening_hours():
    policy = Policy(max_pending_per_number=2, max_attempts=4, retry_base_s=600, hours=HOURS)
    assert policy.retry_at(1, WEDNESDAY_NOON_BERLIN) == WEDNESDAY_NOON_BERLIN + timedelta(minutes=10)
    assert policy.retry_at(3, WEDNESDAY_NOON_BERLIN) == WEDNESDAY_NOON_BERLIN + timedelta(minutes=40)
    late = datetime(2026, 11, 25, 18, 55, tzinfo=UTC)  # 19:55 Berlin; +10 min is after closing
    assert policy.retry_at(1, late) == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("spec", ["mon-fri 8-20", "funday 08:00-20:00", "mon 20:00-08:00", "mon 25:00-26:00", ""])
def test_unreadable_opening_hours_are_refused_with_the_rule_named(spec):
    with pytest.raises(ConfigError):
        parse(spec)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ConfigError, match="IANA"):
        parse("mon-fri 08:00-20:00", "Mars/Olympus")
