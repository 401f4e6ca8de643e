"""Pure views for the schedule: how its times and days read, the setup screen after consent,
/settings and its menus (lesson time, timezone, days, reflection time, reminders).

Enrolment values in, Screens out (HTML text and buttons); no telegram, no database. Times are
shown in the learner's own timezone, relative to `now` ("tomorrow at 08:00"); anything a person
typed is shortened and escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from bot.core.schedule import DAY_NAMES, format_days, local_date, weekdays_of, zone
from bot.core.states import SubscriptionState
from bot.core.textclean import shorten
from bot.core.timeparse import format_time, time_code
from bot.results.enrolment import Enrolment
from bot.views.callbacks import ONBOARD, SETTINGS, encode
from bot.views.screen import Button, Screen, escape

# Quick choices; anything else can be typed.
TIME_CHOICES = (
    time(6, 0),
    time(6, 30),
    time(7, 0),
    time(7, 30),
    time(8, 0),
    time(8, 30),
    time(9, 0),
    time(12, 0),
    time(13, 0),
    time(17, 0),
    time(18, 0),
    time(19, 0),
)
REFLECTION_CHOICES = tuple(time(hour, 0) for hour in (12, 13, 15, 16, 17, 18, 19, 20, 21))
ZONE_CHOICES = (
    ("UK", "Europe/London"),
    ("Ireland", "Europe/Dublin"),
    ("Central Europe", "Europe/Paris"),
    ("Eastern Europe", "Europe/Athens"),
    ("India", "Asia/Kolkata"),
    ("US Eastern", "America/New_York"),
    ("Australia Eastern", "Australia/Sydney"),
    ("UTC", "UTC"),
)


_MAX_ECHO = 40
_MONTHS = (
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
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- small helpers -------------------------------------------------------------------------------


def echo(text: str) -> str:
    """What the person typed, shortened and escaped, to show it back."""
    return escape(shorten(" ".join(text.split()), _MAX_ECHO))


def _rows(buttons: Sequence[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def local_clock(now: datetime, tz: str) -> str:
    """The time it is now in a timezone, as 24-hour HH:MM."""
    return format_time(now.astimezone(zone(tz)).time())


def day_text(instant: datetime, tz: str, now: datetime) -> str:
    """A day relative to now in the learner's timezone: today, tomorrow, on Thursday 3 December."""
    day = local_date(instant, tz)
    today = local_date(now, tz)
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    text = f"on {_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def when_text(instant: datetime, tz: str, now: datetime) -> str:
    """A delivery instant as the learner reads it: 'tomorrow at 08:00'."""
    local = instant.astimezone(zone(tz))
    return f"{day_text(instant, tz, now)} at {format_time(local.time())}"


def next_line(enrolment: Enrolment, now: datetime) -> str:
    tz = enrolment.schedule.timezone
    if enrolment.state == SubscriptionState.ACTIVE and enrolment.next_lesson_at is not None:
        return f"Next lesson: {when_text(enrolment.next_lesson_at, tz, now)}."
    if enrolment.state == SubscriptionState.PAUSED:
        if enrolment.paused_until is None:
            return "Your lessons are paused. /resume brings them back whenever you like."
        back = day_text(enrolment.paused_until, tz, now)
        return f"Your lessons are paused; they start again by themselves {back}."
    if enrolment.state in (SubscriptionState.STOPPED, SubscriptionState.INACTIVE):
        return "Your daily lessons are stopped. /resume starts them again."
    if enrolment.state == SubscriptionState.FINISHED:
        return "You've finished the course: no more daily lessons will come."
    return ""


def schedule_lines(enrolment: Enrolment, now: datetime) -> list[str]:
    """The schedule as a few plain lines."""
    schedule = enrolment.schedule
    reflection = (
        "with the lesson"
        if schedule.reflection_time is None
        else f"later the same day, at {format_time(schedule.reflection_time)}"
    )
    return [
        f"<b>Lesson time:</b> {format_time(schedule.delivery_time)}",
        f"<b>Timezone:</b> {escape(schedule.timezone)}"
        f" (it's {local_clock(now, schedule.timezone)} there now)",
        f"<b>Days:</b> {format_days(schedule.days)}",
        f"<b>Reflection prompt:</b> {reflection}",
        f"<b>Reminders:</b> {'on' if schedule.reminders else 'off'}",
    ]


def _edit_rows(enrolment: Enrolment) -> tuple[tuple[Button, ...], ...]:
    reminders = enrolment.schedule.reminders
    return (
        (
            Button("Change time", encode(SETTINGS, "time")),
            Button("Change timezone", encode(SETTINGS, "zone")),
        ),
        (
            Button("Change days", encode(SETTINGS, "days")),
            Button("Reflection time", encode(SETTINGS, "refl")),
        ),
        (
            Button(
                "Turn reminders off" if reminders else "Turn reminders on",
                encode(SETTINGS, "rem", "off" if reminders else "on"),
            ),
        ),
    )


# --- the schedule: setup and settings ------------------------------------------------------------


def setup_screen(enrolment: Enrolment, now: datetime, *, note: str | None = None) -> Screen:
    """After consent: the schedule with defaults, accepted in one tap, or changed first."""
    lines = [note, ""] if note else []
    lines += ["<b>When would you like your lessons?</b>", "", *schedule_lines(enrolment, now), ""]
    first: tuple[Button, ...] = ()
    if enrolment.next_lesson_at is not None:
        slot = when_text(enrolment.next_lesson_at, enrolment.schedule.timezone, now)
        lines.append(
            "Start with these, or change anything first. Your first lesson can come now, or at"
            f" your lesson time ({slot})."
        )
        first = (Button(f"Start: first lesson {slot}", encode(ONBOARD, "later")),)
    rows: list[tuple[Button, ...]] = [(Button("Start: first lesson now", encode(ONBOARD, "now")),)]
    if first:
        rows.append(first)
    return Screen("\n".join(lines), (*rows, *_edit_rows(enrolment)))


def started_screen(enrolment: Enrolment, now: datetime, *, lesson_now: bool) -> Screen:
    """The schedule is confirmed: when lessons come, and how to change that."""
    schedule = enrolment.schedule
    lines = [
        "<b>You're all set.</b>",
        f"Lessons come {format_days(schedule.days)} at {format_time(schedule.delivery_time)}"
        f" ({escape(schedule.timezone)}).",
    ]
    if lesson_now:
        lines.append("Here is your first lesson.")
    lines += [
        next_line(enrolment, now),
        "",
        "/settings changes your schedule, /pause takes a break, and /support is always there.",
    ]
    return Screen("\n".join(lines))


def settings_screen(enrolment: Enrolment, now: datetime, *, note: str | None = None) -> Screen:
    """/settings: the schedule and a button per thing that can change (setup shows setup)."""
    if enrolment.state == SubscriptionState.SETUP:
        return setup_screen(enrolment, now, note=note)
    lines = [note, ""] if note else []
    lines += ["<b>Your settings</b>", "", *schedule_lines(enrolment, now), ""]
    lines.append(next_line(enrolment, now))
    return Screen(
        "\n".join(lines).strip(),
        (*_edit_rows(enrolment), (Button("Done", encode(SETTINGS, "close")),)),
    )


def settings_closed_screen(enrolment: Enrolment, now: datetime) -> Screen:
    """The settings message after Done: the schedule, no buttons."""
    lines = ["<b>Your settings are saved</b>", "", *schedule_lines(enrolment, now), ""]
    lines.append(next_line(enrolment, now))
    lines.append("/settings changes them again.")
    return Screen("\n".join(lines).strip())


def _back() -> Button:
    return Button("Back", encode(SETTINGS, "home"))


def time_menu_screen(enrolment: Enrolment, *, retry: str | None = None) -> Screen:
    """Choose the lesson time: common times as buttons, or type one."""
    current = enrolment.schedule.delivery_time
    lines = []
    if retry is not None:
        lines += [f"I couldn't read <i>{echo(retry)}</i> as a time.", ""]
    lines += [
        "<b>What time would you like your lesson?</b>",
        f"Now: {format_time(current)}.",
        "",
        "Choose a time, or type one, such as <code>7:30</code>, <code>19:05</code> or"
        " <code>7pm</code>.",
    ]
    choices = [
        Button(
            f"{format_time(at)} (current)" if at == current else format_time(at),
            encode(SETTINGS, "time", time_code(at)),
        )
        for at in TIME_CHOICES
    ]
    return Screen("\n".join(lines), (*_rows(choices, 3), (_back(),)))


def zone_menu_screen(enrolment: Enrolment, now: datetime) -> Screen:
    """Choose the timezone: common ones as buttons (with the time there now), or type one."""
    current = enrolment.schedule.timezone
    choices = [
        Button(
            f"{label}: {local_clock(now, name)} now" + (" (current)" if name == current else ""),
            encode(SETTINGS, "zone", name),
        )
        for label, name in ZONE_CHOICES
    ]
    return Screen(
        "<b>Which timezone are you in?</b>\n"
        f"Now: {escape(current)} (it's {local_clock(now, current)} there).\n\n"
        "Choose one, or type a city or a timezone name, such as <code>London</code> or"
        " <code>Europe/London</code>.",
        (*_rows(choices, 2), (_back(),)),
    )


def zone_suggestions_screen(typed: str, suggestions: Sequence[str], now: datetime) -> Screen:
    """A typed timezone that was not exact: the nearest ones to choose from, or try again."""
    if suggestions:
        text = (
            f"I couldn't find <i>{echo(typed)}</i> exactly. Did you mean one of these?\n\n"
            "Or type it again."
        )
    else:
        text = (
            f"I couldn't find a timezone called <i>{echo(typed)}</i>.\n\n"
            "Try a city, such as <code>London</code> or <code>New York</code>, or a timezone"
            " name, such as <code>Europe/London</code>. Or choose from the list."
        )
    rows: list[tuple[Button, ...]] = [
        (Button(f"{name} ({local_clock(now, name)} now)", encode(SETTINGS, "zone", name)),)
        for name in suggestions
    ]
    rows.append(
        (Button("Choose from a list", encode(SETTINGS, "zone")), _back()),
    )
    return Screen(text, tuple(rows))


def days_menu_screen(enrolment: Enrolment) -> Screen:
    """Choose the days: every day, weekdays, or chosen days (or type them)."""
    return Screen(
        "<b>Which days would you like lessons?</b>\n"
        f"Now: {format_days(enrolment.schedule.days)}.\n\n"
        "Choose below, or type days, such as <code>Mon, Wed, Fri</code>.",
        (
            (Button("Every day", encode(SETTINGS, "days", 0b1111111)),),
            (Button("Weekdays (Monday to Friday)", encode(SETTINGS, "days", 0b0011111)),),
            (Button("Choose days", encode(SETTINGS, "pick", enrolment.schedule.days)),),
            (_back(),),
        ),
    )


def pick_days_screen(days: int) -> Screen:
    """Chosen days: each button switches one day on or off; Save keeps them."""
    chosen = set(weekdays_of(days))
    toggles = [
        Button(
            f"{name}: on" if index in chosen else f"{name}: off",
            encode(SETTINGS, "pick", days ^ (1 << index)),
        )
        for index, name in enumerate(DAY_NAMES)
    ]
    text = "<b>Choose your days</b>\nPress a day to switch it on or off, then Save."
    last_row: tuple[Button, ...] = (_back(),)
    if chosen:
        text += f"\n\nChosen: {format_days(days)}."
        last_row = (Button("Save these days", encode(SETTINGS, "days", days)), _back())
    else:
        text += "\n\nChoose at least one day."
    return Screen(text, (*_rows(toggles, 4), last_row))


def reflection_menu_screen(enrolment: Enrolment, *, retry: str | None = None) -> Screen:
    """Choose when the reflective prompt comes: with the lesson, or later that day."""
    lesson_time = enrolment.schedule.delivery_time
    current = enrolment.schedule.reflection_time
    lines = []
    if retry is not None:
        lines += [f"I couldn't use <i>{echo(retry)}</i> as a reflection time.", ""]
    lines += [
        "<b>When would you like the question to reflect on?</b>",
        "With the lesson, or later the same day, when practice has given you something to"
        " think about (for example at the end of your shift).",
        "",
        f"It must be after your lesson time ({format_time(lesson_time)}). Choose below, or type"
        " a time, such as <code>17:30</code>.",
    ]
    choices = [
        Button(
            f"{format_time(at)} (current)" if at == current else format_time(at),
            encode(SETTINGS, "refl", time_code(at)),
        )
        for at in REFLECTION_CHOICES
        if at > lesson_time
    ]
    with_lesson = "With the lesson" + (" (current)" if current is None else "")
    return Screen(
        "\n".join(lines),
        (
            (Button(with_lesson, encode(SETTINGS, "refl", "off")),),
            *_rows(choices, 3),
            (_back(),),
        ),
    )


def days_retry_screen(typed: str, enrolment: Enrolment) -> Screen:
    """Typed days that could not be read."""
    menu = days_menu_screen(enrolment)
    return Screen(
        f"I couldn't read <i>{echo(typed)}</i> as days. Try <code>Mon, Wed, Fri</code>,"
        f" <code>weekdays</code> or <code>every day</code>.\n\n{menu.text}",
        menu.buttons,
    )
