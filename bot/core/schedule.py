"""Delivery schedules: when a learner's next lesson is due, as an aware UTC instant.

Pure functions, no I/O. A schedule is a local wall-clock time, an IANA timezone and a set of
delivery days (a bitmask, bit 0 = Monday ... bit 6 = Sunday). Instants are computed with
`zoneinfo` for each local date, never by adding 24 hours, so:

* a time that falls in a spring-forward gap is delivered once, at the first valid instant after
  the gap (the moment the clocks jump);
* a time that occurs twice in an autumn fold is delivered once, at its first occurrence;
* never two deliveries on one local date: callers pass the local date of the last delivery
  (`last_local_date`), which also covers a change of timezone or time after today's lesson.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
EVERY_DAY = 0b1111111
WEEKDAYS = 0b0011111
WEEKENDS = 0b1100000

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_LOOKUP = {name.lower(): index for index, name in enumerate(DAY_NAMES)} | {
    full: index
    for index, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
_NAMED_SETS = {
    "every day": EVERY_DAY,
    "everyday": EVERY_DAY,
    "daily": EVERY_DAY,
    "all": EVERY_DAY,
    "weekdays": WEEKDAYS,
    "workdays": WEEKDAYS,
    "weekends": WEEKENDS,
    "weekend": WEEKENDS,
}
# Two weeks: enough to find any delivery day, even across a whole skipped local date.
_SEARCH_DAYS = 16


# --- days ----------------------------------------------------------------------------------------


def days_mask(weekdays: Iterable[int]) -> int:
    """The bitmask for these weekday numbers (0 = Monday ... 6 = Sunday)."""
    mask = 0
    for day in weekdays:
        if not 0 <= day <= 6:
            raise ValueError(f"weekday {day} is not 0 (Monday) to 6 (Sunday)")
        mask |= 1 << day
    return mask


def weekdays_of(days: int) -> list[int]:
    """Weekday numbers (0 = Monday) set in a bitmask, in week order."""
    return [day for day in range(7) if days >> day & 1]


def is_delivery_day(days: int, day: date) -> bool:
    """True when the bitmask includes this date's weekday."""
    return bool(days >> day.weekday() & 1)


def check_days(days: int) -> int:
    """The bitmask itself, or ValueError when it names no day or has bits beyond Sunday."""
    if not 0 < days <= EVERY_DAY:
        raise ValueError("delivery days must include at least one of Monday to Sunday")
    return days


def parse_days(text: str) -> int:
    """Parse 'every day', 'weekdays', 'weekends', 'Mon,Wed,Fri', 'mon-fri' or 'Tue Thu'."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in _NAMED_SETS:
        return _NAMED_SETS[cleaned]
    mask = 0
    for part in filter(None, re.split(r"[,\s/]+|\band\b", cleaned)):
        if "-" in part:
            first, _, last = part.partition("-")
            start, end = _day(first), _day(last)
            span = range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)]
            mask |= days_mask(span)
        else:
            mask |= 1 << _day(part)
    return check_days(mask)


def _day(name: str) -> int:
    key = name.strip().lower()
    if key in _DAY_LOOKUP:
        return _DAY_LOOKUP[key]
    if len(key) >= 2:
        matches = {index for full, index in _DAY_LOOKUP.items() if full.startswith(key)}
        if len(matches) == 1:
            return matches.pop()
    raise ValueError(f"{name!r} is not a day of the week")


def format_days(days: int) -> str:
    """A short human description: 'every day', 'weekdays', 'weekends' or 'Mon, Wed, Fri'."""
    check_days(days)
    for label, mask in (("every day", EVERY_DAY), ("weekdays", WEEKDAYS), ("weekends", WEEKENDS)):
        if days == mask:
            return label
    return ", ".join(DAY_NAMES[day] for day in weekdays_of(days))


# --- time zones ----------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA timezone") from exc


def is_timezone(name: str) -> bool:
    """True when name is a known IANA timezone."""
    try:
        zone(name)
    except ValueError:
        return False
    return True


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: schedules work with aware datetimes only")
    return instant


def local_date(instant: datetime, tz: str | ZoneInfo) -> date:
    """The local calendar date of an instant in a timezone."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    return _aware(instant).astimezone(tzinfo).date()


def local_instant(day: date, at: time, tz: str | ZoneInfo) -> datetime:
    """The UTC instant of wall time `at` on local date `day`.

    In a fold this is the first occurrence; in a gap, the first valid instant after the gap.
    """
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    return _local_instant(day, at.replace(tzinfo=None, fold=0), tzinfo)


@lru_cache(maxsize=65536)
def _local_instant(day: date, at: time, tzinfo: ZoneInfo) -> datetime:
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=tzinfo)  # fold=0: the earlier offset, i.e. the first occurrence
    instant = first.astimezone(UTC)
    if instant.astimezone(tzinfo).replace(tzinfo=None) == wall:
        return instant
    # The wall time does not exist (a gap). fold=0 reads it with the offset in force before the
    # jump, which lands after the transition; fold=1 with the offset after it, which lands
    # before. The transition lies between: find the first instant with the post-jump offset.
    after_jump = instant
    before_jump = wall.replace(tzinfo=tzinfo, fold=1).astimezone(UTC)
    if before_jump > after_jump:
        before_jump, after_jump = after_jump, before_jump
    offset_after = after_jump.astimezone(tzinfo).utcoffset()
    low, high = int(before_jump.timestamp()), int(after_jump.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(tzinfo).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def is_scheduled_instant(instant: datetime, at: time, tz: str | ZoneInfo) -> bool:
    """True when instant is `at` on its nominal local date (or the gap instant standing for it)."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    day = local_date(instant, tzinfo)
    return any(local_instant(d, at, tzinfo) == instant for d in (day, day - timedelta(days=1)))


# --- schedules -----------------------------------------------------------------------------------


def next_delivery(
    after: datetime,
    at: time,
    tz: str | ZoneInfo,
    days: int,
    *,
    last_local_date: date | None = None,
) -> datetime:
    """The first delivery instant strictly after `after` (UTC).

    Only delivery days count, and only local dates later than `last_local_date` (the local
    date, in this timezone, of the last delivery), so a schedule never delivers twice on one
    local date.
    """
    check_days(days)
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    after = _aware(after).astimezone(UTC)
    start = local_date(after, tzinfo) - timedelta(days=1)
    if last_local_date is not None and last_local_date >= start:
        start = last_local_date + timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if not is_delivery_day(days, day):
            continue
        instant = local_instant(day, at, tzinfo)
        if instant <= after:
            continue
        if last_local_date is not None and local_date(instant, tzinfo) <= last_local_date:
            continue
        return instant
    raise AssertionError("no delivery day found in two weeks")  # unreachable for a valid mask


def previous_delivery(
    at_or_before: datetime, at: time, tz: str | ZoneInfo, days: int
) -> datetime | None:
    """The latest delivery instant at or before the given instant (None if none in a week)."""
    check_days(days)
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    limit = _aware(at_or_before).astimezone(UTC)
    newest = local_date(limit, tzinfo) + timedelta(days=1)
    for offset in range(_SEARCH_DAYS // 2 + 1):
        day = newest - timedelta(days=offset)
        if is_delivery_day(days, day):
            instant = local_instant(day, at, tzinfo)
            if instant <= limit:
                return instant
    return None


def deliveries_between(
    start: datetime, end: datetime, at: time, tz: str | ZoneInfo, days: int
) -> list[datetime]:
    """Every delivery instant in (start, end], each on its own local date (for tests and views)."""
    found: list[datetime] = []
    cursor, last = start, None
    while True:
        instant = next_delivery(cursor, at, tz, days, last_local_date=last)
        if instant > end:
            return found
        found.append(instant)
        cursor, last = instant, local_date(instant, tz)
