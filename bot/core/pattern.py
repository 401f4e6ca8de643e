"""Shift patterns: which local dates bring a lesson, at what time, and when a learner is asleep.

Pure functions, no I/O, built on `bot.core.schedule` (so DST gaps and folds are handled the same
way for every pattern). A pattern is one of:

* **fixed days** (``days``): lessons at one local time on chosen weekdays (the original
  behaviour; a subscription without a stored pattern is this);
* **a repeating rota** (``rota``): a cycle of 2 to 28 days, one letter a day: ``D`` a day shift,
  ``N`` a night shift, ``O`` a day off; it starts on ``cycle_start`` (a local date, the first day
  of the cycle). Each kind of day has its own lesson time, or none (``None``): e.g. 07:30 on day
  shifts, 19:00 on nights, no lesson on days off; or lessons on days off only;
* **ask me each week** (``weekly``): the learner picks the coming week's days on Sunday; until
  they answer, the days they chose last time (``days``) stand.

Quiet hours are the learner's own: by default the 9 hours before that day's lesson time (so a
night worker's daytime sleep is protected), or a fixed local window they chose. On a date with no
lesson the quiet hours of the nearest earlier lesson day apply (the body clock follows the last
shift), falling back to the classic 21:00-07:00 when the pattern has no lesson time at all.

A rota is plain arithmetic on the date, ``(day - cycle_start) % len(cycle)``: dateutil's
``rrule`` would need one rule per position in the cycle to say the same, and the search below
already walks day by day, so it would add a dependency without removing any code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.dates import clock, moment
from bot.core.schedule import (
    check_days,
    format_days,
    is_delivery_day,
    local_date,
    local_instant,
    zone,
)
from bot.core.timeparse import parse_time

MAX_CYCLE_DAYS = 28
DEFAULT_QUIET = timedelta(hours=9)
CLASSIC_QUIET = (time(21, 0), time(7, 0))
_TICK = timedelta(minutes=1)
# Far enough to find a lesson date in any valid pattern (a 28-day rota with one on-day).
_SEARCH_DAYS = MAX_CYCLE_DAYS * 2 + 2


class PatternKind(StrEnum):
    """The shape of a learner's week (stored as text)."""

    DAYS = "days"
    ROTA = "rota"
    WEEKLY = "weekly"


class Shift(StrEnum):
    """One day of a rota, as a letter of its cycle."""

    DAY = "D"
    NIGHT = "N"
    OFF = "O"


SHIFT_WORDS = {Shift.DAY: "day shift", Shift.NIGHT: "night shift", Shift.OFF: "day off"}


@dataclass(frozen=True, slots=True)
class Pattern:
    """When lessons come. Build with `fixed_days`, `rota` or `weekly`; validate with `checked`."""

    kind: PatternKind
    days: int = 0  # DAYS and WEEKLY: lesson weekdays (bit 0 = Monday)
    lesson_time: time | None = None  # DAYS and WEEKLY: the one lesson time
    cycle: str = ""  # ROTA: one Shift letter a day
    cycle_start: date | None = None  # ROTA: local date of the cycle's first day
    day_time: time | None = None  # ROTA: lesson time on day shifts (None: no lesson)
    night_time: time | None = None  # ROTA: on night shifts
    off_time: time | None = None  # ROTA: on days off
    quiet_from: time | None = None  # a fixed local quiet window; None: 9 hours before the lesson
    quiet_until: time | None = None
    week_of: date | None = None  # WEEKLY: the Monday of the week the learner last answered for
    week_days: int = 0  # WEEKLY: their answer for that week (0: no lessons that week)

    def checked(self) -> Pattern:
        """The pattern itself, or ValueError saying what is wrong with it."""
        if self.kind in (PatternKind.DAYS, PatternKind.WEEKLY):
            check_days(self.days)
            if self.lesson_time is None:
                raise ValueError("a lesson time is needed")
        else:
            if not re.fullmatch(r"[DNO]{2,28}", self.cycle):
                raise ValueError("a rota is 2 to 28 days of day shifts, nights and days off")
            if self.cycle_start is None:
                raise ValueError("a rota needs the date its cycle starts")
            if not self.lesson_times():
                raise ValueError("no kind of day in this rota has a lesson time")
        if (self.quiet_from is None) != (self.quiet_until is None):
            raise ValueError("quiet hours need a start and an end")
        if self.quiet_from is not None and self.quiet_until is not None:
            if self.quiet_from == self.quiet_until:
                raise ValueError("quiet hours cannot start and end at the same time")
            for at in self.lesson_times():
                if _within(at, self.quiet_from, self.quiet_until):
                    raise ValueError(f"your {clock(at)} lesson would fall in those quiet hours")
        return self

    def lesson_times(self) -> tuple[time, ...]:
        """Every local time a lesson can come at in this pattern."""
        if self.kind != PatternKind.ROTA:
            return (self.lesson_time,) if self.lesson_time is not None else ()
        times = {Shift.DAY: self.day_time, Shift.NIGHT: self.night_time, Shift.OFF: self.off_time}
        return tuple(at for shift, at in times.items() if at is not None and shift in self.cycle)

    # --- storage ---------------------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """A JSON-ready dict (times as HH:MM, dates as ISO), without the empty fields."""
        data: dict[str, Any] = {"kind": str(self.kind)}
        for name in ("days", "cycle", "week_days"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        for name in (
            "lesson_time",
            "day_time",
            "night_time",
            "off_time",
            "quiet_from",
            "quiet_until",
        ):
            value = getattr(self, name)
            if value is not None:
                data[name] = value.isoformat("minutes")
        for name in ("cycle_start", "week_of"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value.isoformat()
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Pattern:
        """Read `to_data`'s dict back (ValueError if it is not a valid pattern)."""
        fields: dict[str, Any] = {"kind": PatternKind(data["kind"])}
        fields["days"] = int(data.get("days", 0))
        fields["week_days"] = int(data.get("week_days", 0))
        fields["cycle"] = str(data.get("cycle", ""))
        for name in (
            "lesson_time",
            "day_time",
            "night_time",
            "off_time",
            "quiet_from",
            "quiet_until",
        ):
            if data.get(name) is not None:
                fields[name] = time.fromisoformat(str(data[name]))
        for name in ("cycle_start", "week_of"):
            if data.get(name) is not None:
                fields[name] = date.fromisoformat(str(data[name]))
        return cls(**fields).checked()


def fixed_days(days: int, at: time) -> Pattern:
    """Lessons at `at` on the weekdays in `days` (today's behaviour)."""
    return Pattern(PatternKind.DAYS, days=days, lesson_time=at).checked()


def rota(
    cycle: str,
    start: date,
    *,
    day_time: time | None = None,
    night_time: time | None = None,
    off_time: time | None = None,
) -> Pattern:
    """A repeating rota starting on `start`, with a lesson time for each kind of day (or none)."""
    return Pattern(
        PatternKind.ROTA,
        cycle=cycle,
        cycle_start=start,
        day_time=day_time,
        night_time=night_time,
        off_time=off_time,
    ).checked()


def weekly(days: int, at: time) -> Pattern:
    """Ask each week; `days` are the days last chosen (they stand until the next answer)."""
    return Pattern(PatternKind.WEEKLY, days=days, lesson_time=at).checked()


def with_quiet_hours(pattern: Pattern, start: time | None, end: time | None) -> Pattern:
    """The pattern with fixed quiet hours (or, with None and None, the default again)."""
    return replace(pattern, quiet_from=start, quiet_until=end).checked()


# --- typed rotas ---------------------------------------------------------------------------------

_ROTA_PART = re.compile(
    r"(\d{1,2})\s*(on|days?|lates?|earlies|early|nights?|off|rest)\b", re.IGNORECASE
)


def parse_rota(text: str) -> str:
    """'4 on 4 off' -> 'DDDDOOOO'; '2 days 2 nights 4 off' -> 'DDNNOOOO' (ValueError if not)."""
    cleaned = text.strip().lower().replace(",", " ").replace("+", " ")
    parts = _ROTA_PART.findall(cleaned)
    if not parts or _ROTA_PART.sub("", cleaned).strip(" and-"):
        raise ValueError("write a rota such as '4 on 4 off' or '2 days 2 nights 4 off'")
    cycle = ""
    for count, word in parts:
        letter = Shift.OFF if word in ("off", "rest") else Shift.NIGHT
        if word.startswith(("on", "day", "late", "earl")):
            letter = Shift.DAY
        cycle += str(letter) * int(count)
    if not 2 <= len(cycle) <= MAX_CYCLE_DAYS:
        raise ValueError(f"a rota repeats every 2 to {MAX_CYCLE_DAYS} days")
    if set(cycle) == {Shift.OFF}:
        raise ValueError("a rota needs at least one working day")
    return cycle


DEFAULT_NIGHT_TIME = time(19, 0)  # a typed team rota's night-shift lesson unless told otherwise
_TEAM_ROTA = re.compile(
    r"^(?P<cycle>.+?)\s+from\s+(?P<start>\d{4}-\d{2}-\d{2})"
    r"(?:\s+nights?\s+(?:at\s+)?(?P<night>\S+))?\s*$",
    re.IGNORECASE,
)


def parse_team_rota(text: str, day_time: time) -> Pattern:
    """'4 on 4 off from 2026-12-07 [nights 19:00]' -> a rota with lessons at `day_time` on day
    shifts and at 19:00 (or the time given) on nights; ValueError saying what is wrong."""
    found = _TEAM_ROTA.match(" ".join(text.split()))
    if found is None:
        raise ValueError("write a rota and its first on-day, such as '4 on 4 off from 2026-12-07'")
    night = DEFAULT_NIGHT_TIME
    if found.group("night"):
        read = parse_time(found.group("night"))
        if read is None:
            raise ValueError("write the night-shift lesson time such as 19:00")
        night = read
    return rota(
        parse_rota(found.group("cycle")),
        date.fromisoformat(found.group("start")),
        day_time=day_time,
        night_time=night,
    )


def describe_cycle(cycle: str) -> str:
    """'DDNNOOOO' -> '2 days, 2 nights, 4 off'."""
    words = {
        Shift.DAY: ("day", "days"),
        Shift.NIGHT: ("night", "nights"),
        Shift.OFF: ("off", "off"),
    }
    runs = [(m.group(0)[0], len(m.group(0))) for m in re.finditer(r"D+|N+|O+", cycle)]
    return ", ".join(f"{n} {words[Shift(letter)][n != 1]}" for letter, n in runs)


# --- which day is which --------------------------------------------------------------------------


def shift_on(pattern: Pattern, day: date) -> Shift | None:
    """What kind of day `day` is in a rota (None for a pattern that is not a rota)."""
    if pattern.kind != PatternKind.ROTA or pattern.cycle_start is None:
        return None
    return Shift(pattern.cycle[(day - pattern.cycle_start).days % len(pattern.cycle)])


def lesson_time_on(pattern: Pattern, day: date) -> time | None:
    """The local lesson time on `day`, or None when that date brings no lesson."""
    shift = shift_on(pattern, day)
    if shift is not None:
        return {Shift.DAY: pattern.day_time, Shift.NIGHT: pattern.night_time}.get(
            shift, pattern.off_time
        )
    days = pattern.days
    if pattern.kind == PatternKind.WEEKLY and pattern.week_of == day - timedelta(day.weekday()):
        days = pattern.week_days  # this week's answer (0: none this week)
    return pattern.lesson_time if is_delivery_day(days, day) else None


def week_answer(pattern: Pattern, monday: date) -> int:
    """The days (a mask, bit 0 = Monday) a weekly pattern brings in the week starting `monday`:
    the learner's answer for that week, or else the days they chose last time."""
    if pattern.kind == PatternKind.WEEKLY and pattern.week_of == monday:
        return pattern.week_days
    return pattern.days


def prompt_at(pattern: Pattern, sunday: date, tz: str | ZoneInfo) -> datetime:
    """When a weekly learner is asked about the coming week: Sunday `sunday` at their lesson
    time, or the end of the quiet hours that time falls in."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    assert pattern.lesson_time is not None  # a checked weekly pattern has one
    return waking(local_instant(sunday, pattern.lesson_time, tzinfo), pattern, tzinfo)


def next_lesson(
    after: datetime,
    pattern: Pattern,
    tz: str | ZoneInfo,
    *,
    last_local_date: date | None = None,
) -> datetime:
    """The first lesson instant strictly after `after`, on a local date later than
    `last_local_date` (never two lessons on one local date)."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    start = local_date(after, tzinfo) - timedelta(days=1)
    if last_local_date is not None and last_local_date >= start:
        start = last_local_date + timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        at = lesson_time_on(pattern, day)
        if at is None:
            continue
        instant = local_instant(day, at, tzinfo)
        if instant <= after:
            continue
        if last_local_date is not None and local_date(instant, tzinfo) <= last_local_date:
            continue
        return instant
    raise ValueError("this pattern brings no lesson")  # unreachable for a checked pattern


def previous_lesson(
    at_or_before: datetime, pattern: Pattern, tz: str | ZoneInfo
) -> datetime | None:
    """The latest lesson instant at or before the given instant (None if none in the search)."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    limit = at_or_before.astimezone(UTC)
    newest = local_date(limit, tzinfo) + timedelta(days=1)
    for back in range(_SEARCH_DAYS):
        day = newest - timedelta(days=back)
        at = lesson_time_on(pattern, day)
        if at is not None and (instant := local_instant(day, at, tzinfo)) <= limit:
            return instant
    return None


# --- storage on a subscription -------------------------------------------------------------------


@lru_cache(maxsize=4096)
def stored(data: str | None, days: int, at: time) -> Pattern:
    """A subscription's (or cohort's) pattern from its columns: the `pattern` JSON, with the
    `days` and `delivery_time` columns as the fixed days (None: fixed days only)."""
    if data is None:
        return fixed_days(days, at)
    fields = json.loads(data)
    if fields.get("kind") != PatternKind.ROTA:
        fields |= {"days": days, "lesson_time": at.isoformat("minutes")}
    return Pattern.from_data(fields)


def to_column(pattern: Pattern) -> str | None:
    """What the `pattern` column stores: None for plain fixed days (today's rows stay as they
    are); otherwise JSON without the days and time the columns already hold."""
    data = pattern.to_data()
    if pattern.kind != PatternKind.ROTA:
        data.pop("days", None)
        data.pop("lesson_time", None)
    return None if data == {"kind": str(PatternKind.DAYS)} else json.dumps(data, sort_keys=True)


# --- quiet hours ---------------------------------------------------------------------------------


def _usual_time(pattern: Pattern, day: date) -> time | None:
    """The lesson time that sets `day`'s quiet hours: that day's, or the nearest earlier one's."""
    for back in range(_SEARCH_DAYS):
        at = lesson_time_on(pattern, day - timedelta(days=back))
        if at is not None:
            return at
    return None


def _lesson_before(pattern: Pattern, day: date, tzinfo: ZoneInfo) -> datetime | None:
    """The lesson instant on the nearest local date before `day` that has one."""
    for back in range(1, _SEARCH_DAYS):
        earlier = day - timedelta(days=back)
        at = lesson_time_on(pattern, earlier)
        if at is not None:
            return local_instant(earlier, at, tzinfo)
    return None


def quiet_window(pattern: Pattern, day: date, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """The quiet hours that end on local date `day` (or, for a fixed window that does not cross
    midnight, lie within it), as UTC instants [start, end)."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    if pattern.quiet_from is not None and pattern.quiet_until is not None:
        start_at, end_at = pattern.quiet_from, pattern.quiet_until
    else:
        usual = _usual_time(pattern, day)
        if usual is None:
            start_at, end_at = CLASSIC_QUIET
        else:
            end = local_instant(day, usual, tzinfo)
            # Never reaching back over the lesson before (lessons less than 9 hours apart).
            before = _lesson_before(pattern, day, tzinfo)
            start = end - DEFAULT_QUIET
            return (max(start, before + _TICK) if before is not None else start), end
    end = local_instant(day, end_at, tzinfo)
    start_day = day - timedelta(days=1) if start_at >= end_at else day
    return local_instant(start_day, start_at, tzinfo), end


def in_quiet_hours(instant: datetime, pattern: Pattern, tz: str | ZoneInfo) -> bool:
    """True when `instant` falls in the learner's quiet hours."""
    return quiet_end(instant, pattern, tz) is not None


def quiet_end(instant: datetime, pattern: Pattern, tz: str | ZoneInfo) -> datetime | None:
    """When the quiet hours around `instant` end (None when it is not in quiet hours)."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    instant = instant.astimezone(UTC)
    day = local_date(instant, tzinfo)
    for candidate in (day, day + timedelta(days=1)):
        start, end = quiet_window(pattern, candidate, tzinfo)
        if start <= instant < end:
            return end
    return None


def waking(instant: datetime, pattern: Pattern, tz: str | ZoneInfo) -> datetime:
    """`instant`, or the end of the quiet hours it falls in: the learner's next waking moment."""
    for _ in range(3):  # windows of neighbouring days can overlap when lesson times move
        end = quiet_end(instant, pattern, tz)
        if end is None:
            return instant
        instant = end
    return instant


def _within(at: time, start: time, end: time) -> bool:
    """True when wall time `at` lies in the window [start, end), which may cross midnight."""
    return start <= at < end if start < end else at >= start or at < end


# --- words ---------------------------------------------------------------------------------------


def describe(pattern: Pattern) -> str:
    """The pattern in a few words, for settings and /progress."""
    if pattern.kind == PatternKind.ROTA:
        times = [
            f"{clock(at)} on {SHIFT_WORDS[shift]}s"
            for shift, at in (
                (Shift.DAY, pattern.day_time),
                (Shift.NIGHT, pattern.night_time),
                (Shift.OFF, pattern.off_time),
            )
            if at is not None and shift in pattern.cycle
        ]
        return f"rota of {describe_cycle(pattern.cycle)}: lessons at {', '.join(times)}"
    assert pattern.lesson_time is not None
    at = clock(pattern.lesson_time)
    if pattern.kind == PatternKind.WEEKLY:
        return f"asked each Sunday; lessons at {at}"
    return f"{format_days(pattern.days)} at {at}"


def describe_next(
    instant: datetime, pattern: Pattern, tz: str | ZoneInfo, now: datetime | None = None
) -> str:
    """'on your next day shift, tomorrow at 07:30' (rota) or 'tomorrow at 07:30' (relative to
    `now` when given, else 'Thursday 3 December 2026 at 07:30')."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    local = instant.astimezone(tzinfo)
    when = moment(local, tzinfo, now)
    shift = shift_on(pattern, local.date())
    if shift is None:
        return when
    if shift == Shift.OFF:
        return f"on your next day off, {when}"
    return f"on your next {SHIFT_WORDS[shift]}, {when}"
