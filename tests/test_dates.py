"""One date and time style everywhere: the formatting module, and no stray formats elsewhere."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path

from bot.core.dates import clock, day, moment, on_day

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # Thursday 3 December 2026, 17:00 in London


def test_near_days_are_words_and_others_are_full_dates() -> None:
    today = date(2026, 12, 3)
    assert day(today, today) == "today"
    assert day(date(2026, 12, 4), today) == "tomorrow"
    assert day(date(2026, 12, 2), today) == "yesterday"
    assert day(date(2026, 12, 9), today) == "Wednesday 9 December"
    assert day(date(2027, 1, 4), today) == "Monday 4 January 2027"
    assert day(date(2026, 12, 9)) == "Wednesday 9 December 2026"  # no "now": the year is said
    assert on_day(date(2026, 12, 9), today) == "on Wednesday 9 December"
    assert on_day(date(2026, 12, 4), today) == "tomorrow"


def test_moments_are_local_24_hour_and_relative_to_now() -> None:
    at = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert moment(at, "Europe/London", NOW) == "tomorrow at 08:00"
    assert moment(at, "Asia/Kolkata", NOW) == "tomorrow at 13:30"
    assert moment(datetime(2026, 12, 10, 19, 5, tzinfo=UTC), "UTC", NOW) == (
        "Thursday 10 December at 19:05"
    )
    assert moment(at) == "Friday 4 December 2026 at 08:00"
    assert clock(time(7, 5)) == "07:05"


# A strftime-style date or time in f-strings or strftime calls: day, month, hour names.
_STRAY = re.compile(r"%[aAbBdHIMpyY]")
_CODES = ("%Y%m%d",)  # compact dates in callback data, not shown to anyone
_CHECKED = ("bot/views", "bot/handlers", "scheduler", "bot/core/pattern.py")


def test_no_view_handler_or_scheduler_formats_dates_itself() -> None:
    stray = []
    for place in _CHECKED:
        path = ROOT / place
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for number, line in enumerate(file.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                for code_format in _CODES:
                    code = code.replace(code_format, "")
                if "log." in code or ("%d" in code and "strftime" not in code and ":%" not in code):
                    continue  # logging's %-style arguments
                if _STRAY.search(code) and ("strftime" in code or ":%" in code):
                    stray.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert stray == [], "format dates with bot.core.dates:\n" + "\n".join(stray)
