"""How every date and time is written for people: one style, one module.

"today at 08:00", "tomorrow at 08:00", "yesterday at 21:15", "Thursday 3 December at 08:00",
"Monday 4 January 2027 at 08:00" (the year only when it is not this year, or when there is no
"now" to compare with). Times are 24-hour. Every view calls these; tests/test_dates.py fails on a
strftime-style date format anywhere else in the views, handlers or scheduler.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.core.schedule import zone

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_NEAR = {0: "today", 1: "tomorrow", -1: "yesterday"}


def clock(at: time | datetime) -> str:
    """A time of day, 24-hour: '08:00'."""
    return f"{at.hour:02d}:{at.minute:02d}"


def weekday(day: date) -> str:
    """The day's name: 'Thursday'."""
    return WEEKDAYS[day.weekday()]


def day(when: date, today: date | None = None) -> str:
    """A date: 'today', 'tomorrow', 'yesterday' near `today`, else 'Thursday 3 December' (with
    the year when it is not `today`'s, or when `today` is not given)."""
    if today is not None and (when - today).days in _NEAR:
        return _NEAR[(when - today).days]
    return named(when, today)


def named(when: date, today: date | None = None) -> str:
    """A date by name, never 'tomorrow': 'Thursday 3 December' (with the year when it is not
    `today`'s, or when `today` is not given)."""
    text = f"{weekday(when)} {when.day} {MONTHS[when.month - 1]}"
    return text if today is not None and when.year == today.year else f"{text} {when.year}"


def moment(instant: datetime, tz: str | ZoneInfo | None = None, now: datetime | None = None) -> str:
    """An instant as people read it, in `tz` (else as given): 'tomorrow at 08:00',
    'Thursday 3 December at 08:00'; relative to `now` when given."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    if tzinfo is None and isinstance(instant.tzinfo, ZoneInfo):
        tzinfo = instant.tzinfo  # already local: "today" is that zone's today
    local = instant.astimezone(tzinfo) if tzinfo is not None else instant
    today = None
    if now is not None:
        today = (now.astimezone(tzinfo) if tzinfo is not None else now).date()
    return f"{day(local.date(), today)} at {clock(local)}"


def on_day(when: date, today: date | None = None) -> str:
    """A date after a verb: 'today', 'tomorrow', 'on Thursday 3 December'."""
    text = day(when, today)
    return text if text in _NEAR.values() else f"on {text}"


def capitalised(text: str) -> str:
    """'today at 08:00' -> 'Today at 08:00', for the start of a line."""
    return text[:1].upper() + text[1:]


def short_day(when: date) -> str:
    """A date where there is little room (a chart's axis): '3 Dec'."""
    return f"{when.day} {MONTHS[when.month - 1][:3]}"


def short_date(when: date) -> str:
    """A date with its year where there is little room (a table's cell): '3 Dec 2026'."""
    return f"{short_day(when)} {when.year}"
