"""Shift patterns (bot.core.pattern): property tests across timezones and DST changes, and the
typed rotas people write.

For every pattern kind, in zones with DST gaps and folds at different hours (and one with a
30-minute shift and one south of the equator): never two lessons on one local date, never a
lesson in quiet hours, the next lesson always in the future, and a reminder moved out of quiet
hours never lands in them.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.pattern import (
    Pattern,
    Shift,
    describe,
    describe_cycle,
    describe_next,
    fixed_days,
    in_quiet_hours,
    lesson_time_on,
    next_lesson,
    parse_rota,
    previous_lesson,
    quiet_window,
    rota,
    stored,
    to_column,
    waking,
    weekly,
    with_quiet_hours,
)
from bot.core.schedule import WEEKDAYS, local_date

ZONES = (
    "Europe/London",  # gap 01:00-02:00 in March, fold in October
    "America/New_York",  # gap 02:00-03:00
    "Australia/Lord_Howe",  # 30-minute DST shift, southern hemisphere
    "Asia/Kolkata",  # no DST
    "America/Santiago",  # DST at midnight: a whole local hour of 00:xx goes missing
)
# Around both European DST changes of 2027 and the southern ones.
STARTS = st.datetimes(
    min_value=datetime(2027, 3, 1), max_value=datetime(2027, 11, 30), timezones=st.just(UTC)
)
TIMES = st.times().map(lambda t: t.replace(second=0, microsecond=0))
CYCLES = st.text(alphabet="DNO", min_size=2, max_size=28).filter(lambda c: set(c) != {"O"})


@st.composite
def patterns(draw: st.DrawFn) -> Pattern:
    kind = draw(st.sampled_from(["days", "rota", "weekly"]))
    if kind == "rota":
        cycle = draw(CYCLES)
        times = {
            shift: draw(st.one_of(st.none(), TIMES)) if shift in cycle else None
            for shift in (Shift.DAY, Shift.NIGHT, Shift.OFF)
        }
        if all(times[Shift(s)] is None for s in cycle):
            times[Shift(cycle[0])] = draw(TIMES)
        pattern = rota(
            cycle,
            draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))),
            day_time=times[Shift.DAY],
            night_time=times[Shift.NIGHT],
            off_time=times[Shift.OFF],
        )
    else:
        days = draw(st.integers(min_value=1, max_value=0b1111111))
        make = fixed_days if kind == "days" else weekly
        pattern = make(days, draw(TIMES))
    if draw(st.booleans()):
        start, end = draw(TIMES), draw(TIMES)
        # Refused when the lesson would fall in them or the window is empty: the default stays.
        with contextlib.suppress(ValueError):
            pattern = with_quiet_hours(pattern, start, end)
    return pattern


def _lessons(pattern: Pattern, tz: str, start: datetime, count: int) -> list[datetime]:
    found, cursor, last = [], start, None
    for _ in range(count):
        instant = next_lesson(cursor, pattern, tz, last_local_date=last)
        found.append(instant)
        cursor, last = instant, local_date(instant, tz)
    return found


@settings(max_examples=300, deadline=None)
@given(patterns(), st.sampled_from(ZONES), STARTS)
def test_lessons_never_twice_a_day_never_in_quiet_hours_always_ahead(
    pattern: Pattern, tz: str, start: datetime
) -> None:
    lessons = _lessons(pattern, tz, start, 40)
    assert lessons[0] > start
    assert lessons == sorted(set(lessons)), "strictly increasing: always in the future"
    dates = [local_date(instant, tz) for instant in lessons]
    assert len(set(dates)) == len(dates), "never two lessons on one local date"
    for instant in lessons:
        assert not in_quiet_hours(instant, pattern, tz), (instant, describe(pattern))


@settings(max_examples=300, deadline=None)
@given(patterns(), st.sampled_from(ZONES), STARTS, st.integers(min_value=1, max_value=20))
def test_a_reminder_moved_out_of_quiet_hours_never_lands_in_them(
    pattern: Pattern, tz: str, start: datetime, hours_later: int
) -> None:
    for lesson in _lessons(pattern, tz, start, 10):
        remind_at = waking(lesson + timedelta(hours=hours_later), pattern, tz)
        assert remind_at >= lesson + timedelta(hours=hours_later)
        assert not in_quiet_hours(remind_at, pattern, tz)


def test_fixed_days_are_todays_behaviour() -> None:
    pattern = fixed_days(WEEKDAYS, time(8, 0))
    friday = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert next_lesson(friday, pattern, "Europe/London") == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    # The default quiet hours are the nine before the lesson: 23:00 to 08:00.
    start, end = quiet_window(pattern, date(2026, 12, 7), "Europe/London")
    assert (start, end) == (
        datetime(2026, 12, 6, 23, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
    )


def test_a_night_worker_rota_brings_lessons_on_shift_days_at_their_times() -> None:
    # 2 days, 2 nights, 4 off from Monday 7 December 2026; lessons 07:30 days, 19:00 nights.
    pattern = rota(
        parse_rota("2 days 2 nights 4 off"),
        date(2026, 12, 7),
        day_time=time(7, 30),
        night_time=time(19, 0),
    )
    lessons = _lessons(pattern, "Europe/London", datetime(2026, 12, 6, tzinfo=UTC), 6)
    assert [f"{i:%a %d %H:%M}" for i in lessons] == [
        "Mon 07 07:30",
        "Tue 08 07:30",
        "Wed 09 19:00",
        "Thu 10 19:00",
        "Tue 15 07:30",
        "Wed 16 07:30",
    ]
    # Asleep the day before a night: 10:00 to 19:00 is quiet.
    assert in_quiet_hours(datetime(2026, 12, 10, 14, 0, tzinfo=UTC), pattern, "Europe/London")
    assert not in_quiet_hours(datetime(2026, 12, 10, 20, 0, tzinfo=UTC), pattern, "Europe/London")
    assert describe_next(lessons[2], pattern, "Europe/London") == (
        "on your next night shift, Wednesday 9 December 2026 at 19:00"
    )
    assert describe_next(lessons[2], pattern, "Europe/London", lessons[1]) == (
        "on your next night shift, tomorrow at 19:00"
    )
    assert describe(pattern) == (
        "rota of 2 days, 2 nights, 4 off: lessons at 07:30 on day shifts, 19:00 on night shifts"
    )


def test_lessons_on_days_off_only() -> None:
    pattern = rota("DDDDOOOO", date(2026, 12, 7), off_time=time(10, 0))
    assert lesson_time_on(pattern, date(2026, 12, 7)) is None
    assert lesson_time_on(pattern, date(2026, 12, 11)) == time(10, 0)


def test_a_weekly_answer_replaces_the_days_for_that_week_only() -> None:
    pattern = replace(weekly(WEEKDAYS, time(8, 0)), week_of=date(2026, 12, 7), week_days=0b1000000)
    sunday_lesson = next_lesson(datetime(2026, 12, 6, 12, 0, tzinfo=UTC), pattern, "UTC")
    assert sunday_lesson == datetime(2026, 12, 13, 8, 0, tzinfo=UTC)  # Sunday only, this week
    after = next_lesson(sunday_lesson, pattern, "UTC")
    assert after == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)  # next week: the usual days
    assert previous_lesson(after - timedelta(seconds=1), pattern, "UTC") == sunday_lesson


def test_stored_patterns_round_trip_and_plain_days_store_nothing() -> None:
    assert to_column(fixed_days(WEEKDAYS, time(8, 0))) is None
    assert stored(None, WEEKDAYS, time(8, 0)) == fixed_days(WEEKDAYS, time(8, 0))
    night = rota("DDNNOOOO", date(2026, 12, 7), day_time=time(7, 30), night_time=time(19, 0))
    quiet = with_quiet_hours(fixed_days(WEEKDAYS, time(8, 0)), time(22, 0), time(6, 30))
    for pattern in (night, quiet, weekly(WEEKDAYS, time(8, 0))):
        column = to_column(pattern)
        assert column is not None
        columns = (pattern.days or WEEKDAYS, pattern.lesson_time or time(8, 0))
        assert stored(column, *columns) == pattern


@pytest.mark.parametrize(
    ("typed", "cycle"),
    [
        ("4 on 4 off", "DDDDOOOO"),
        ("2 days 2 nights 4 off", "DDNNOOOO"),
        ("2 days, 2 nights, 4 off", "DDNNOOOO"),
        ("3 nights 4 off", "NNNOOOO"),
        ("5 on 2 off", "DDDDDOO"),
        ("1 day and 1 off", "DO"),
        ("4 On 4 Off", "DDDDOOOO"),
    ],
)
def test_typed_rotas(typed: str, cycle: str) -> None:
    assert parse_rota(typed) == cycle
    assert parse_rota(describe_cycle(cycle)) == cycle


@pytest.mark.parametrize("typed", ["", "4 off", "20 on 20 off", "sometimes", "4 on 4 off maybe"])
def test_rotas_that_cannot_be_used_are_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_rota(typed)


def test_quiet_hours_that_would_hide_the_lesson_are_refused() -> None:
    with pytest.raises(ValueError, match="07:30"):
        with_quiet_hours(fixed_days(WEEKDAYS, time(7, 30)), time(22, 0), time(8, 0))
    pattern = with_quiet_hours(fixed_days(WEEKDAYS, time(7, 30)), time(22, 0), time(7, 0))
    assert Pattern.from_data(pattern.to_data()) == pattern
