"""Reading what people type about time: clock times, time zones and pause lengths.

Pure functions, no I/O and no clock of their own (callers pass `today`). Times accept the forms
people actually type (`7:30`, `19:05`, `7pm`, `7.30 a.m.`, `0730`, `noon`); time zones accept an
exact IANA name in any case, and otherwise offer suggestions: city names (`london`), a few
country words (`uk`) and near misses (`Europe/Londn`) matched with rapidfuzz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import lru_cache
from zoneinfo import available_timezones

from rapidfuzz import fuzz, process, utils

# --- clock times ---------------------------------------------------------------------------------

_WORDS = {"noon": time(12, 0), "midday": time(12, 0), "midnight": time(0, 0)}
_CLOCK = re.compile(
    r"""^
    (?P<hour>\d{1,2})
    (?:\s*[:.h]\s*(?P<minute>\d{2}))?
    \s*(?P<half>a\.?\s?m\.?|p\.?\s?m\.?)?
    $""",
    re.VERBOSE,
)
_COMPACT = re.compile(r"^(?P<hour>\d{2})(?P<minute>\d{2})$")  # 0730, 1905


def parse_time(text: str) -> time | None:
    """A wall-clock time from `7:30`, `19:05`, `7pm`, `7.30am`, `0730`, `noon`; None if unreadable.

    A bare hour (`7`, `19`) is read on the 24-hour clock; `12am` is midnight, `12pm` noon.
    """
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in _WORDS:
        return _WORDS[cleaned]
    match = _COMPACT.match(cleaned) or _CLOCK.match(cleaned)
    if match is None:
        return None
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    half = match.groupdict().get("half")
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def format_time(at: time) -> str:
    """A time as people read it in settings: 24-hour `08:00`."""
    return f"{at.hour:02d}:{at.minute:02d}"


def time_code(at: time) -> str:
    """A time as four digits for button data (`0730`)."""
    return f"{at.hour:02d}{at.minute:02d}"


def from_time_code(code: str) -> time | None:
    """The time a `time_code` stands for; None when it is not one (an old or forged button)."""
    if not re.fullmatch(r"\d{4}", code):
        return None
    hour, minute = int(code[:2]), int(code[2:])
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


# --- time zones ----------------------------------------------------------------------------------

# Regions whose zones are offered as suggestions; other names (legacy links such as "US/Eastern",
# fixed offsets such as "Etc/GMT+5") are accepted when typed exactly but never suggested.
_REGIONS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe"}
    | {"Indian", "Pacific"}
)
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules", "posix", "right"})
# Words people use for a country or for a clock rather than a zone. Mapped to suggestions, not
# accepted outright: "GMT" typed in the UK usually means UK time, which is GMT only in winter.
_ALIASES: dict[str, tuple[str, ...]] = {
    "uk": ("Europe/London",),
    "gb": ("Europe/London",),
    "united kingdom": ("Europe/London",),
    "great britain": ("Europe/London",),
    "britain": ("Europe/London",),
    "england": ("Europe/London",),
    "scotland": ("Europe/London",),
    "wales": ("Europe/London",),
    "northern ireland": ("Europe/London",),
    # UK cities that are not zone names (most people typing a city here will be in the UK).
    **dict.fromkeys(
        (
            "belfast",
            "birmingham",
            "bristol",
            "cardiff",
            "edinburgh",
            "glasgow",
            "leeds",
            "liverpool",
            "manchester",
            "newcastle",
            "nottingham",
            "sheffield",
            "swansea",
            "aberdeen",
            "inverness",
            "brighton",
            "leicester",
            "coventry",
            "plymouth",
        ),
        ("Europe/London",),
    ),
    "bst": ("Europe/London",),
    "british summer time": ("Europe/London",),
    "gmt": ("Europe/London", "UTC"),
    "greenwich mean time": ("Europe/London", "UTC"),
    "ireland": ("Europe/Dublin",),
    "eire": ("Europe/Dublin",),
    "india": ("Asia/Kolkata",),
    "mumbai": ("Asia/Kolkata",),
    "delhi": ("Asia/Kolkata",),
    "new delhi": ("Asia/Kolkata",),
    "ist": ("Asia/Kolkata", "Europe/Dublin"),
}
FUZZY_CUTOFF = 80.0
FUZZY_MARGIN = 8.0  # suggest only matches nearly as close as the best one
MIN_FUZZY_CHARS = 4
MAX_SUGGESTIONS = 3


@dataclass(frozen=True, slots=True)
class ZoneMatch:
    """The result of reading a typed time zone: the zone itself, or some to choose from."""

    zone: str | None
    suggestions: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _known() -> dict[str, str]:
    """Every usable IANA name, by its case-folded form."""
    return {
        name.casefold(): name
        for name in available_timezones()
        if name.split("/")[0] not in _NOT_ZONES
    }


@lru_cache(maxsize=1)
def _choices() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """What fuzzy matching compares against (key -> zone), and exact place names (-> zones)."""
    choices: dict[str, str] = {}
    places: dict[str, list[str]] = {}
    for name in sorted(_known().values()):
        parts = name.split("/")
        if parts[0] not in _REGIONS and name != "UTC":
            continue
        choices[_key(name)] = name
        for part in parts[1:]:
            places.setdefault(_key(part), []).append(name)
    for place, zones in places.items():
        choices.setdefault(place, zones[0])
    return choices, {place: tuple(zones) for place, zones in places.items()}


def is_usable_timezone(name: str) -> bool:
    """True for an IANA name this host knows, excluding host files such as `localtime`."""
    return _known().get(name.casefold()) == name


def _key(text: str) -> str:
    return " ".join(utils.default_process(text.replace("_", " ")).split())


def match_timezone(text: str) -> ZoneMatch:
    """Read a typed time zone: an exact IANA name (any case), else suggestions (maybe none)."""
    typed = " ".join(text.strip().split())
    if not typed or len(typed) > 64:
        return ZoneMatch(None)
    exact = _known().get(typed.replace(" ", "_").casefold())
    key = _key(typed)
    if exact is not None and key not in _ALIASES:
        return ZoneMatch(exact)
    if key in _ALIASES:
        return ZoneMatch(None, _ALIASES[key])
    choices, places = _choices()
    if key in places:
        return ZoneMatch(None, places[key][:MAX_SUGGESTIONS])
    if not key:
        return ZoneMatch(None)
    if len(key) < MIN_FUZZY_CHARS:
        return ZoneMatch(None)
    # Plain ratio, not WRatio: partial matching would offer "Pacific/Easter" for "manchester".
    scored = process.extract(
        key, list(choices), scorer=fuzz.ratio, limit=10, score_cutoff=FUZZY_CUTOFF
    )
    found: list[str] = []
    best = scored[0][1] if scored else 0.0
    for zone_key, score, _ in scored:
        zone_name = choices[zone_key]
        if score >= best - FUZZY_MARGIN and zone_name not in found:
            found.append(zone_name)
    return ZoneMatch(None, tuple(found[:MAX_SUGGESTIONS]))


# --- pause lengths -------------------------------------------------------------------------------

MAX_PAUSE_DAYS = 366
_SPAN = re.compile(
    r"^(?P<count>\d{1,3})\s*(?P<unit>d|days?|w|wks?|weeks?|months?)?$",
)
_DATE = re.compile(r"^(?:until|till|til|to)?\s*(?P<date>\d{4}-\d{1,2}-\d{1,2})$")


class PauseError(ValueError):
    """A pause that cannot be read or is not allowed; the message says why, kindly."""


def parse_pause(text: str, today: date) -> date:
    """The local date lessons come back, from `3d`, `2w`, `1 week` or `until 2027-01-04`.

    `3d` from a Monday means no lessons Monday to Wednesday, back on Thursday. Raises PauseError
    for anything unreadable, in the past, or more than a year away.
    """
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise PauseError("no length given")
    span = _SPAN.match(cleaned)
    if span is not None:
        count = int(span["count"])
        unit = (span["unit"] or "d")[0]
        days = count * {"d": 1, "w": 7, "m": 30}[unit]
        if days < 1:
            raise PauseError("a pause needs at least one day")
        if days > MAX_PAUSE_DAYS:
            raise PauseError("a pause can be up to a year")
        return today + timedelta(days=days)
    dated = _DATE.match(cleaned)
    if dated is None:
        raise PauseError("not a length or a date")
    try:
        back = date.fromisoformat(_iso(dated["date"]))
    except ValueError as exc:
        raise PauseError("not a real date") from exc
    if back <= today:
        raise PauseError("that date has already come")
    if back > today + timedelta(days=MAX_PAUSE_DAYS):
        raise PauseError("a pause can be up to a year")
    return back


def _iso(text: str) -> str:
    year, month, day = text.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


# --- a day (a rota's first day) ------------------------------------------------------------------

MAX_DAY_DISTANCE = 366
_MONTH_NAMES = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_MONTH = re.compile(
    r"^(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month>[a-z]{3,9})\.?(?:\s+(?P<year>\d{4}))?$"
)
_MONTH_DAY = re.compile(
    r"^(?P<month>[a-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{4}))?$"
)
_SLASHED = re.compile(r"^(?P<day>\d{1,2})[/.](?P<month>\d{1,2})(?:[/.](?P<year>\d{4}))?$")
_ISO_DAY = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$")


def parse_day(text: str, today: date) -> date | None:
    """A local date from 'today', 'tomorrow', 'yesterday', a weekday (the next one, or today),
    '3 Dec', 'December 3', '3/12' (day first), '2026-12-03'; None if unreadable or more than a
    year away. Without a year, the date nearest to today is meant."""
    cleaned = " ".join(text.strip().lower().replace(",", " ").split()).removeprefix("on ")
    words = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if cleaned in words:
        return today + timedelta(days=words[cleaned])
    named = [i for i, name in enumerate(_WEEKDAY_NAMES) if name.startswith(cleaned)]
    if len(cleaned) >= 3 and named:
        return today + timedelta(days=(named[0] - today.weekday()) % 7)
    for pattern in (_ISO_DAY, _DAY_MONTH, _MONTH_DAY, _SLASHED):
        match = pattern.match(cleaned)
        if match is not None:
            return _nearest(match["day"], match["month"], match["year"], today)
    return None


def _nearest(day: str, month: str, year: str | None, today: date) -> date | None:
    if month.isdigit():
        number = int(month)
    else:
        found = [i for i, name in enumerate(_MONTH_NAMES) if month.startswith(name)]
        if not found:
            return None
        number = found[0] + 1
    years = [int(year)] if year else [today.year - 1, today.year, today.year + 1]
    candidates = []
    for candidate_year in years:
        try:
            candidates.append(date(candidate_year, number, int(day)))
        except ValueError:
            continue
    if not candidates:
        return None
    best = min(candidates, key=lambda d: abs((d - today).days))
    return best if abs((best - today).days) <= MAX_DAY_DISTANCE else None
