"""Reading what people type about time: clock times, time zones and pause lengths.

Pure functions, no I/O and no clock of their own (callers pass `today`). Times accept the forms
people actually type (`7:30`, `19:05`, `7pm`, `7.30 a.m.`, `0730`, `noon`); time zones accept an
exact IANA name in any case, and otherwise offer suggestions: city names (`london`), a few
country words (`uk`) and near misses (`Europe/Londn`) matched with rapidfuzz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
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
    """A wall-clock time from `7:30`, `19:05`, `7pm`, `7.30am`, `0730`, `noon`, and the spoken
    forms `half seven`, `half past 7`, `quarter to nine`, `ten past eight`, `seven thirty`,
    `seven o'clock`, `7 in the evening`; None if unreadable.

    A bare hour (`7`, `19`, `seven`, `half seven`) is read on the 24-hour clock, so `half seven`
    is 07:30 (add `pm` or `in the evening` for 19:30); `12am` is midnight, `12pm` noon.
    """
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in _WORDS:
        return _WORDS[cleaned]
    match = _COMPACT.match(cleaned) or _CLOCK.match(cleaned)
    if match is None:
        return _spoken(cleaned)
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    return _on_clock(hour, minute, match.groupdict().get("half"))


def _on_clock(hour: int, minute: int, half: str | None) -> time | None:
    """The time for an hour and minute, with an optional a.m./p.m. (None when impossible)."""
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith(("p", "n")) and hour != 12 else 0)
        if half.startswith("p") and hour == 0:
            hour = 12  # 12pm is noon
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


# Spoken times: "half seven" (British: 07:30), "quarter to nine", "seven thirty"...
_HOUR_WORDS = {
    word: number
    for number, word in enumerate(
        [
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ],
        1,
    )
}
_MINUTE_WORDS = {
    "five": 5,
    "ten": 10,
    "quarter": 15,
    "a quarter": 15,
    "twenty": 20,
    "twenty five": 25,
    "twenty-five": 25,
    "half": 30,
}
_AFTER_HOUR = {"fifteen": 15, "thirty": 30, "forty five": 45, "forty-five": 45, "o five": 5}
_PERIODS = (
    ("in the morning", "am"),
    ("in the afternoon", "pm"),
    ("in the evening", "pm"),
    ("at night", "night"),  # pm, but "twelve at night" is midnight
)
_HOUR = r"(?P<hour>\d{1,2}|" + "|".join(_HOUR_WORDS) + r")"
_HALF_HOUR = re.compile(rf"^half {_HOUR}$")
_PAST_OR_TO = re.compile(
    r"^(?P<minute>\d{1,2}|" + "|".join(_MINUTE_WORDS) + rf") (?P<way>past|after|to) {_HOUR}$"
)
_HOUR_THEN = re.compile(rf"^{_HOUR}(?: (?P<minute>" + "|".join(_AFTER_HOUR) + r"))?$")
_SUFFIX_HALF = re.compile(r"\s*(?P<half>a\.?\s?m\.?|p\.?\s?m\.?)$")


def _spoken(cleaned: str) -> time | None:
    """A spoken time (see parse_time), with an optional a.m./p.m. or 'in the evening'."""
    half: str | None = None
    for words, period in _PERIODS:
        if cleaned.endswith(" " + words):
            cleaned, half = cleaned.removesuffix(" " + words), period
            break
    cleaned = re.sub(r"\s*o'?\s?clock$", "", cleaned.replace("’", "'"))
    if half is None and (found := _SUFFIX_HALF.search(cleaned)) and found.start() > 0:
        cleaned, half = cleaned[: found.start()], found["half"]
    # Something was taken off ("7 o'clock", "7:30 in the evening"): the rest may be numeric.
    numeric = _COMPACT.match(cleaned) or _CLOCK.match(cleaned)
    if numeric is not None and not numeric.groupdict().get("half"):
        return _on_clock(int(numeric["hour"]), int(numeric["minute"] or 0), half)
    if match := _HALF_HOUR.match(cleaned):
        hour, minute = _hour(match["hour"]), 30
    elif match := _PAST_OR_TO.match(cleaned):
        hour = _hour(match["hour"])
        word = match["minute"]
        minute = int(word) if word.isdigit() else _MINUTE_WORDS[word]
        if not 0 < minute < 60:
            return None
        if match["way"] == "to":
            hour, minute = hour - 1, 60 - minute
            if hour < 0:
                hour = 23
    elif match := _HOUR_THEN.match(cleaned):
        hour = _hour(match["hour"])
        minute = _AFTER_HOUR[match["minute"]] if match["minute"] else 0
        if match["hour"].isdigit() and match["minute"] is None and half is None:
            return None  # a bare number is the strict parser's to read
    else:
        return None
    return _on_clock(hour, minute, half)


def _hour(word: str) -> int:
    return int(word) if word.isdigit() else _HOUR_WORDS[word]


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
_UNTIL = re.compile(r"^(?:until|till|til|to|back on|back)\s+")


class PauseError(ValueError):
    """A pause that cannot be read or is not allowed; the message says why, kindly."""


def parse_pause(text: str, today: date) -> date:
    """The local date lessons come back, from `3d`, `2w`, `1 week`, `until 2027-01-04`, or a
    day in words: `until 4 January`, `Monday`, `until next Friday`, `a fortnight`.

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
    if dated is not None:
        try:
            back = date.fromisoformat(_iso(dated["date"]))
        except ValueError as exc:
            raise PauseError("not a real date") from exc
    else:
        words = _UNTIL.sub("", cleaned)
        found = coming_day(words, today) if words else None
        if found is None:
            raise PauseError("not a length or a date")
        back = found
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
_HAS_LETTER = re.compile(r"[a-z]")
_ORDINAL = re.compile(r"^(?:the )?(?P<day>\d{1,2})(?:st|nd|rd|th)$")
# "3m", "7pm", "noon", "5 minutes": times and tiny spans, not days.
_TIME_ONLY = re.compile(
    r"\d\s*(?:a\.?m|p\.?m|h|m|min|mins|minutes?|hours?|hrs?|s|secs?|seconds?)\b|noon|midnight|o'?clock"
)
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
    return _in_words(cleaned, today, future=False)


def coming_day(text: str, today: date) -> date | None:
    """A local date after today from 'Monday' (the next one, never today), '4 January' (the
    next one), 'tomorrow', '2027-01-04', 'next Friday', 'the 14th', 'a fortnight', 'in 3 weeks';
    None if unreadable or more than a year away."""
    cleaned = " ".join(text.strip().lower().replace(",", " ").split()).removeprefix("on ")
    named = [i for i, name in enumerate(_WEEKDAY_NAMES) if name.startswith(cleaned)]
    if len(cleaned) >= 3 and named:
        return today + timedelta(days=(named[0] - today.weekday() - 1) % 7 + 1)
    for pattern in (_DAY_MONTH, _MONTH_DAY, _SLASHED):
        match = pattern.match(cleaned)
        if match is not None and match["year"] is None:
            found = _next_of(match["day"], match["month"], today)
            if found is not None:
                return found
    ordinal = _ORDINAL.match(cleaned)
    if ordinal is not None:  # "the 14th": this month's if still to come, else next month's
        month = date(today.year, today.month, 1)
        for _ in range(2):
            found = _nearest(ordinal["day"], str(month.month), str(month.year), today)
            if found is not None and found > today:
                return found
            month = (month + timedelta(days=32)).replace(day=1)
        return None
    found = parse_day(cleaned, today)
    if found is None or found <= today:
        found = _in_words(cleaned, today, future=True)
    return found if found is not None and found > today else None


def _next_of(day: str, month: str, today: date) -> date | None:
    """The first such day and month after today."""
    for year in (today.year, today.year + 1):
        found = _nearest(day, month, str(year), today)
        if found is not None and found > today:
            return found
    return None


def _in_words(text: str, today: date, *, future: bool) -> date | None:
    """Any other date in English words, read by dateparser ('next Friday', 'the 14th', 'in two
    weeks'), day before month; None when it reads nothing, a time only, or a date over a year
    away. Clock times never come here: the strict parser above reads those better."""
    if not _HAS_LETTER.search(text) or _TIME_ONLY.search(text):
        return None
    import dateparser  # deferred: about 0.1 s and a few MB, only for typed dates

    settings = {
        "RELATIVE_BASE": datetime.combine(today, time(12)),
        "DATE_ORDER": "DMY",
        "PREFER_DATES_FROM": "future" if future else "current_period",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    found = dateparser.parse(text, languages=["en"], settings=settings)
    if found is None:
        return None
    day = found.date()
    return day if abs((day - today).days) <= MAX_DAY_DISTANCE else None


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
