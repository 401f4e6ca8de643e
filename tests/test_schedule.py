"""Delivery schedules: DST gaps and folds, delivery days, one delivery per local date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.core.schedule import (
    EVERY_DAY,
    WEEKDAYS,
    WEEKENDS,
    days_mask,
    deliveries_between,
    format_days,
    is_delivery_day,
    is_timezone,
    local_date,
    local_instant,
    next_delivery,
    parse_days,
    previous_delivery,
    weekdays_of,
)

ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "Europe/Berlin",
    "UTC",
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- the DST table -------------------------------------------------------------------------------

DST_TABLE = [
    # zone, local date, wall time, expected UTC instant, what happens
    ("Europe/London", date(2026, 3, 28), time(8, 0), utc(2026, 3, 28, 8, 0), "GMT"),
    ("Europe/London", date(2026, 3, 29), time(0, 30), utc(2026, 3, 29, 0, 30), "before the gap"),
    ("Europe/London", date(2026, 3, 29), time(1, 0), utc(2026, 3, 29, 1, 0), "gap start"),
    ("Europe/London", date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 0), "gap: 02:00 BST"),
    ("Europe/London", date(2026, 3, 29), time(2, 0), utc(2026, 3, 29, 1, 0), "gap end"),
    ("Europe/London", date(2026, 3, 29), time(8, 0), utc(2026, 3, 29, 7, 0), "BST"),
    ("Europe/London", date(2026, 10, 25), time(0, 30), utc(2026, 10, 24, 23, 30), "BST"),
    ("Europe/London", date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30), "fold: first"),
    ("Europe/London", date(2026, 10, 25), time(2, 0), utc(2026, 10, 25, 2, 0), "GMT again"),
    ("Europe/London", date(2026, 10, 25), time(8, 0), utc(2026, 10, 25, 8, 0), "GMT"),
    ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 0), "gap: 03:00"),
    ("America/New_York", date(2026, 3, 8), time(8, 0), utc(2026, 3, 8, 12, 0), "EDT"),
    ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), "fold: EDT"),
    ("America/New_York", date(2026, 11, 1), time(8, 0), utc(2026, 11, 1, 13, 0), "EST"),
    ("Australia/Sydney", date(2026, 4, 5), time(2, 30), utc(2026, 4, 4, 15, 30), "fold: AEDT"),
    ("Australia/Sydney", date(2026, 4, 5), time(8, 0), utc(2026, 4, 4, 22, 0), "AEST"),
    ("Australia/Sydney", date(2026, 10, 4), time(2, 30), utc(2026, 10, 3, 16, 0), "gap: 03:00"),
    ("Australia/Sydney", date(2026, 10, 4), time(8, 0), utc(2026, 10, 3, 21, 0), "AEDT"),
    ("Asia/Kolkata", date(2026, 3, 29), time(8, 0), utc(2026, 3, 29, 2, 30), "no DST, +05:30"),
    ("Asia/Kolkata", date(2026, 10, 25), time(0, 15), utc(2026, 10, 24, 18, 45), "previous day"),
    ("Australia/Lord_Howe", date(2026, 4, 5), time(1, 45), utc(2026, 4, 4, 14, 45), "fold: +11"),
    ("Australia/Lord_Howe", date(2026, 4, 5), time(8, 0), utc(2026, 4, 4, 21, 30), "+10:30"),
    ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 30), "30-min gap"),
    ("Australia/Lord_Howe", date(2026, 10, 4), time(8, 0), utc(2026, 10, 3, 21, 0), "+11"),
]


@pytest.mark.parametrize(("tz", "day", "at", "expected", "why"), DST_TABLE)
def test_local_instant_table(tz: str, day: date, at: time, expected: datetime, why: str) -> None:
    assert local_instant(day, at, tz) == expected, why


@pytest.mark.parametrize(("tz", "day", "at", "expected", "why"), DST_TABLE)
def test_next_delivery_lands_on_the_table_once(
    tz: str, day: date, at: time, expected: datetime, why: str
) -> None:
    """Walking a daily schedule across the change hits the table's instant, once."""
    start = expected - timedelta(days=2)
    found = deliveries_between(start, expected + timedelta(days=2), at, tz, EVERY_DAY)
    assert found.count(expected) == 1, why
    dates = [local_date(instant, tz) for instant in found]
    # One a day, every day, however the offsets move inside the window.
    assert dates == [dates[0] + timedelta(days=n) for n in range(len(dates))]


def test_spring_forward_day_has_one_delivery_at_the_jump() -> None:
    found = deliveries_between(
        utc(2026, 3, 27), utc(2026, 3, 31), time(1, 30), "Europe/London", EVERY_DAY
    )
    assert found == [
        utc(2026, 3, 27, 1, 30),
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 0),  # 02:00 BST, the first valid instant after the gap
        utc(2026, 3, 30, 0, 30),  # 01:30 BST
    ]


def test_autumn_fold_has_one_delivery_at_the_first_occurrence() -> None:
    found = deliveries_between(
        utc(2026, 10, 24), utc(2026, 10, 27), time(1, 30), "Europe/London", EVERY_DAY
    )
    assert found == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_next_delivery_is_strictly_after() -> None:
    at = utc(2026, 11, 30, 8, 0)
    assert next_delivery(at, time(8), "Europe/London", EVERY_DAY) == utc(2026, 12, 1, 8, 0)
    assert next_delivery(at - timedelta(seconds=1), time(8), "UTC", EVERY_DAY) == at


def test_weekdays_skip_the_weekend() -> None:
    friday = utc(2026, 12, 4, 9, 0)
    assert next_delivery(friday, time(8), "Europe/London", WEEKDAYS) == utc(2026, 12, 7, 8, 0)
    assert next_delivery(friday, time(8), "Europe/London", WEEKENDS) == utc(2026, 12, 5, 8, 0)


def test_last_local_date_prevents_a_second_delivery_after_a_time_change() -> None:
    # Delivered at 08:00 today; the learner moves their time to 20:00: next is tomorrow 20:00.
    delivered = utc(2026, 11, 30, 8, 0)
    today = local_date(delivered, "Europe/London")
    after_change = next_delivery(
        delivered + timedelta(hours=1), time(20), "Europe/London", EVERY_DAY, last_local_date=today
    )
    assert after_change == utc(2026, 12, 1, 20, 0)
    # Without the last date it would have been tonight.
    assert next_delivery(
        delivered + timedelta(hours=1), time(20), "Europe/London", EVERY_DAY
    ) == utc(2026, 11, 30, 20, 0)


def test_timezone_change_westwards_never_repeats_a_local_date() -> None:
    # 08:00 in Tokyo is 18:00 the previous evening in New York.
    delivered = utc(2026, 11, 30, 23, 0)  # 08:00 Dec 1 in Tokyo
    new_tz = "America/New_York"
    last = max(local_date(delivered, "Asia/Tokyo"), local_date(delivered, new_tz))
    following = next_delivery(delivered, time(20), new_tz, EVERY_DAY, last_local_date=last)
    assert local_date(following, new_tz) > local_date(delivered, new_tz)
    assert local_date(following, new_tz) > local_date(delivered, "Asia/Tokyo")


def test_previous_delivery() -> None:
    now = utc(2026, 12, 2, 7, 0)  # Wednesday 07:00 London
    assert previous_delivery(now, time(8), "Europe/London", EVERY_DAY) == utc(2026, 12, 1, 8, 0)
    assert previous_delivery(now, time(7), "Europe/London", EVERY_DAY) == now
    saturday = days_mask([5])
    assert previous_delivery(now, time(8), "Europe/London", saturday) == utc(2026, 11, 28, 8, 0)


def test_whole_day_gap_still_delivers_once_per_local_date() -> None:
    # Samoa skipped 30 December 2011 entirely.
    found = deliveries_between(
        utc(2011, 12, 28), utc(2012, 1, 3), time(8), "Pacific/Apia", EVERY_DAY
    )
    dates = [local_date(instant, "Pacific/Apia") for instant in found]
    assert len(dates) == len(set(dates))
    assert date(2011, 12, 30) not in dates


# --- days ----------------------------------------------------------------------------------------


def test_days_helpers() -> None:
    assert parse_days("every day") == EVERY_DAY
    assert parse_days("Weekdays") == WEEKDAYS
    assert parse_days("mon-fri") == WEEKDAYS
    assert parse_days("Mon, Wed and Fri") == days_mask([0, 2, 4])
    assert parse_days("fri-mon") == days_mask([4, 5, 6, 0])
    assert parse_days("tuesday thursday") == days_mask([1, 3])
    assert format_days(EVERY_DAY) == "every day"
    assert format_days(WEEKENDS) == "weekends"
    assert format_days(days_mask([0, 2, 4])) == "Mon, Wed, Fri"
    assert weekdays_of(WEEKDAYS) == [0, 1, 2, 3, 4]
    assert is_delivery_day(WEEKDAYS, date(2026, 11, 30))  # a Monday
    assert not is_delivery_day(WEEKDAYS, date(2026, 12, 6))  # a Sunday
    for bad in ("", "someday", "t"):
        with pytest.raises(ValueError):
            parse_days(bad)
    with pytest.raises(ValueError):
        next_delivery(utc(2026, 1, 1), time(8), "UTC", 0)
    assert is_timezone("Australia/Lord_Howe") and not is_timezone("Mars/Olympus")


@given(st.integers(min_value=1, max_value=EVERY_DAY))
def test_days_round_trip(days: int) -> None:
    assert parse_days(format_days(days)) == days


# --- the property --------------------------------------------------------------------------------


def _exists(day: date, at: time, tz: ZoneInfo) -> bool:
    wall = datetime.combine(day, at)
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


@example(tz_name="America/Santiago", at=time(0, 0), days=64, start=datetime(2024, 9, 1))
@settings(max_examples=150, deadline=None)
@given(
    tz_name=st.sampled_from(ZONES),
    at=st.times().map(lambda t: t.replace(microsecond=0)),
    days=st.integers(min_value=1, max_value=EVERY_DAY),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2032, 12, 31)),
)
def test_at_most_one_delivery_per_local_date_at_the_chosen_time(
    tz_name: str, at: time, days: int, start: datetime
) -> None:
    tz = ZoneInfo(tz_name)
    cursor = start.replace(tzinfo=UTC)
    last: date | None = None
    for _ in range(40):
        instant = next_delivery(cursor, at, tz_name, days, last_local_date=last)
        assert instant > cursor
        local = instant.astimezone(tz)
        day = local.date()
        assert last is None or day > last  # never two on one local date
        assert is_delivery_day(days, day)
        if _exists(day, at, tz):
            # The chosen time, at its first occurrence in a fold.
            assert local.time() == at
            assert local.fold == 0
        else:
            # The first valid instant after the gap: the clocks jump at this very instant.
            before = (instant - timedelta(seconds=1)).astimezone(tz)
            assert before.utcoffset() != local.utcoffset()
            wall = datetime.combine(day, at)
            assert before.replace(tzinfo=None) < wall < local.replace(tzinfo=None)
        if last is not None:
            # No delivery day was skipped in between.
            gap_day = last + timedelta(days=1)
            while gap_day < day:
                assert not is_delivery_day(days, gap_day)
                gap_day += timedelta(days=1)
        cursor, last = instant, day


@settings(max_examples=100, deadline=None)
@given(
    old_tz=st.sampled_from(ZONES),
    new_tz=st.sampled_from(ZONES),
    old_at=st.times(),
    new_at=st.times(),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)),
    wait=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
)
def test_changing_timezone_or_time_never_gives_two_lessons_on_one_local_date(
    old_tz: str, new_tz: str, old_at: time, new_at: time, start: datetime, wait: timedelta
) -> None:
    delivered = next_delivery(start.replace(tzinfo=UTC), old_at, old_tz, EVERY_DAY)
    changed_at = delivered + wait
    last = max(local_date(delivered, old_tz), local_date(delivered, new_tz))
    following = next_delivery(changed_at, new_at, new_tz, EVERY_DAY, last_local_date=last)
    assert following > changed_at
    assert local_date(following, new_tz) > local_date(delivered, new_tz)
