"""Reading typed times, time zones and pause lengths."""

from __future__ import annotations

from datetime import date, time

import pytest

from bot.core.timeparse import (
    PauseError,
    ZoneMatch,
    format_time,
    from_time_code,
    is_usable_timezone,
    match_timezone,
    parse_day,
    parse_pause,
    parse_time,
    time_code,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("7:30", time(7, 30)),
        ("07:30", time(7, 30)),
        ("19:05", time(19, 5)),
        ("7pm", time(19, 0)),
        ("7 PM", time(19, 0)),
        ("7.30am", time(7, 30)),
        ("7:30 p.m.", time(19, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("0730", time(7, 30)),
        ("1905", time(19, 5)),
        ("19h05", time(19, 5)),
        ("7", time(7, 0)),
        ("19", time(19, 0)),
        (" noon ", time(12, 0)),
        ("Midnight", time(0, 0)),
        ("٧:٣٠", time(7, 30)),  # Arabic-Indic digits are digits too
        # Spoken times: a bare hour is the morning's, as with "7".
        ("half seven", time(7, 30)),
        ("Half 7", time(7, 30)),
        ("half past seven", time(7, 30)),
        ("quarter past eight", time(8, 15)),
        ("a quarter to nine", time(8, 45)),
        ("ten past seven", time(7, 10)),
        ("twenty to eight", time(7, 40)),
        ("twenty-five past six", time(6, 25)),
        ("seven o'clock", time(7, 0)),
        ("7 o’clock", time(7, 0)),
        ("seven thirty", time(7, 30)),
        ("seven forty-five", time(7, 45)),
        ("seven", time(7, 0)),
        ("half seven pm", time(19, 30)),
        ("half seven in the evening", time(19, 30)),
        ("7 in the morning", time(7, 0)),
        ("7:30 in the evening", time(19, 30)),
        ("quarter past 7pm", time(19, 15)),
        ("half eleven at night", time(23, 30)),
        ("twelve at night", time(0, 0)),
    ],
)
def test_times_people_type(typed: str, expected: time) -> None:
    assert parse_time(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        *("", "soon", "25:00", "7:60", "13pm", "0am", "7:5", "12345", "7:30:00", "-1"),
        *("half", "quarter to", "half past", "thirteen", "half thirteen pm", "60 past 7"),
    ],
)
def test_unreadable_times(typed: str) -> None:
    assert parse_time(typed) is None


def test_time_codes_round_trip_and_refuse_forgeries() -> None:
    assert time_code(time(7, 5)) == "0705"
    assert from_time_code("0705") == time(7, 5)
    assert format_time(time(7, 5)) == "07:05"
    for forged in ("2460", "9999", "7:05", "", "07050"):
        assert from_time_code(forged) is None


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/London", "Europe/London"),
        ("europe/london", "Europe/London"),
        (" America/New_York ", "America/New_York"),
        ("america/new york", "America/New_York"),
        ("UTC", "UTC"),
        ("Asia/Kolkata", "Asia/Kolkata"),
    ],
)
def test_exact_zone_names_in_any_case(typed: str, zone: str) -> None:
    assert match_timezone(typed) == ZoneMatch(zone)


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("Europe/Londn", "Europe/London"),
        ("london", "Europe/London"),
        ("LONDON", "Europe/London"),
        ("londn", "Europe/London"),
        ("uk", "Europe/London"),
        ("GMT", "Europe/London"),
        ("manchester", "Europe/London"),
        ("Edinburgh", "Europe/London"),
        ("dublin", "Europe/Dublin"),
        ("new york", "America/New_York"),
        ("Amerca/Chicago", "America/Chicago"),
        ("sydny", "Australia/Sydney"),
        ("Berlinn", "Europe/Berlin"),
        ("Mumbai", "Asia/Kolkata"),
    ],
)
def test_near_misses_get_suggestions(typed: str, first: str) -> None:
    match = match_timezone(typed)
    assert match.zone is None
    assert match.suggestions[0] == first
    assert len(match.suggestions) <= 3


@pytest.mark.parametrize("typed", ["", "a", "xyz", "Lon", "nowhere at all", "x" * 200])
def test_nonsense_gets_no_suggestions(typed: str) -> None:
    assert match_timezone(typed) == ZoneMatch(None)


def test_a_close_typo_is_not_padded_with_unrelated_zones() -> None:
    assert match_timezone("Europe/Londn").suggestions == ("Europe/London",)


MONDAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("typed", "back_on"),
    [
        ("3d", date(2026, 12, 3)),
        ("3 days", date(2026, 12, 3)),
        ("1 day", date(2026, 12, 1)),
        ("2w", date(2026, 12, 14)),
        ("1 week", date(2026, 12, 7)),
        ("2 months", date(2027, 1, 29)),
        ("5", date(2026, 12, 5)),
        ("until 2027-01-04", date(2027, 1, 4)),
        ("Until 2027-1-4", date(2027, 1, 4)),
        ("2027-01-04", date(2027, 1, 4)),
        # Days in words: the next one after today, never today.
        ("until 4 January", date(2027, 1, 4)),
        ("4 Jan", date(2027, 1, 4)),
        ("until Monday", date(2026, 12, 7)),  # today is a Monday: the next one
        ("Friday", date(2026, 12, 4)),
        ("until next Friday", date(2026, 12, 4)),
        ("till the 14th", date(2026, 12, 14)),
        ("until the 4th of January", date(2027, 1, 4)),
        ("until tomorrow", date(2026, 12, 1)),
        ("until 4/1", date(2027, 1, 4)),  # day first
        ("a fortnight", date(2026, 12, 14)),
        ("in 3 weeks", date(2026, 12, 21)),
    ],
)
def test_pause_lengths(typed: str, back_on: date) -> None:
    assert parse_pause(typed, MONDAY) == back_on


@pytest.mark.parametrize(
    "typed",
    [
        *("", "0d", "a while", "3x", "until today", "until 2026-11-30", "until 2025-01-01"),
        *("until 7pm", "until 5 minutes", "until 30 February", "until 4 January 2028"),
        *("until 2027-02-30", "400d", "until 2028-06-01", "3m"),
    ],
)
def test_pauses_that_cannot_be_used(typed: str) -> None:
    with pytest.raises(PauseError):
        parse_pause(typed, MONDAY)


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("today", MONDAY),
        ("Wednesday", date(2026, 12, 2)),
        ("3 Dec", date(2026, 12, 3)),
        ("next Friday", date(2026, 12, 4)),
        ("in two days", date(2026, 12, 2)),
        ("yesterday", date(2026, 11, 29)),
    ],
)
def test_a_day_in_words(typed: str, day: date) -> None:
    assert parse_day(typed, MONDAY) == day


def test_only_real_zone_names_are_usable() -> None:
    assert is_usable_timezone("Europe/London") and is_usable_timezone("UTC")
    for name in ("europe/london", "localtime", "Factory", "posixrules", "../etc/passwd", ""):
        assert not is_usable_timezone(name), name
