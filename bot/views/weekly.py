"""Pure views for "ask me each week": Sunday's question with the coming week's days as toggles,
and the reply once the learner has chosen.

Plain values in (the Monday of the coming week, the days as a mask), Screens out.
"""

from __future__ import annotations

from datetime import date

from bot.core.dates import named
from bot.core.schedule import DAY_NAMES, format_days
from bot.views.callbacks import WEEK_DONE, WEEK_TOGGLE, encode
from bot.views.screen import Button, Screen

_DATE_CODE = "%Y%m%d"


def week_code(monday: date) -> str:
    """A Monday as it travels in callback data."""
    return monday.strftime(_DATE_CODE)


def _chosen(days: int) -> str:
    return format_days(days) if days else "no lessons that week"


def week_prompt_screen(monday: date, days: int) -> Screen:
    """Which days suit you next week? Each day a toggle (on/off), and Done."""
    code = week_code(monday)
    toggles = [
        Button(
            f"{name} {'on' if days >> index & 1 else 'off'}",
            encode(WEEK_TOGGLE, code, days, index),
        )
        for index, name in enumerate(DAY_NAMES)
    ]
    return Screen(
        f"<b>Your week from {named(monday, monday)}</b>\n"
        "Which days suit you for a lesson? Tap a day to switch it on or off.\n\n"
        f"Now: {_chosen(days)}.\n"
        "If you don't answer, these days stand, the same as last week. "
        "There's no need to reply if nothing has changed.",
        (tuple(toggles[:4]), tuple(toggles[4:]), (Button("Done", encode(WEEK_DONE, code, days)),)),
    )


def week_chosen_screen(monday: date, days: int) -> Screen:
    """After Done: what the week now holds (changeable until the next Sunday's question)."""
    return Screen(
        f"<b>Your week from {named(monday, monday)}</b>\n"
        f"Lessons: {_chosen(days)}.\n\n"
        "I'll ask again next Sunday. You can change your pattern any time in /settings."
    )


def week_not_weekly_screen() -> Screen:
    """A week button pressed after the learner stopped being asked each week."""
    return Screen(
        "You're no longer asked about your week, so this question has closed. "
        "Your schedule is in /settings."
    )
