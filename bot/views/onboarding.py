"""Pure views for onboarding, schedule settings and the subscription lifecycle.

Enrolment values in, Screens out (HTML text and buttons); no telegram, no database. Times are
shown in the learner's own timezone, relative to `now` ("tomorrow at 08:00"). Every button has a
text label, and nothing here counts, compares or scolds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from bot.content.schema import Content
from bot.core.schedule import DAY_NAMES, format_days, local_date, weekdays_of, zone
from bot.core.textclean import shorten
from bot.core.timeparse import format_time, time_code
from bot.results.enrolment import Enrolment
from bot.services.enrolment import ACTIVE, FINISHED, INACTIVE, PAUSED, SETUP, STOPPED
from bot.views.callbacks import COURSE, MENU_SHOW, ONBOARD, SETTINGS, encode
from bot.views.common import framing_text
from bot.views.lookup import ALL_MENUS
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
PAUSE_CHOICES = ((3, "3 days"), (7, "1 week"), (14, "2 weeks"))
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


def _echo(text: str) -> str:
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


def _position(enrolment: Enrolment, content: Content) -> str:
    total = len(content.lessons)
    had = min(enrolment.lessons_had, total)
    if had == 0:
        return f"The course has {total} lessons; your first is still to come."
    last = content.lesson(enrolment.last_lesson_id) if enrolment.last_lesson_id else None
    latest = f" The latest was <i>{escape(last.title)}</i>." if last is not None else ""
    return f"You've had {had} of {total} lessons.{latest}"


def _next_line(enrolment: Enrolment, now: datetime) -> str:
    tz = enrolment.schedule.timezone
    if enrolment.state == ACTIVE and enrolment.next_lesson_at is not None:
        return f"Next lesson: {when_text(enrolment.next_lesson_at, tz, now)}."
    if enrolment.state == PAUSED:
        if enrolment.paused_until is None:
            return "Your lessons are paused. /resume brings them back whenever you like."
        back = day_text(enrolment.paused_until, tz, now)
        return f"Your lessons are paused; they start again by themselves {back}."
    if enrolment.state in (STOPPED, INACTIVE):
        return "Your daily lessons are stopped. /resume starts them again."
    if enrolment.state == FINISHED:
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


# --- welcome and consent -------------------------------------------------------------------------


def welcome_screen(content: Content) -> Screen:
    """The first /start: what the course is and is not, what is stored, and a choice."""
    count = len(content.lessons)
    return Screen(
        f"<b>Welcome to {escape(content.course.title)}</b>\n\n"
        f"A short course on trauma-informed practice for frontline staff: {count} lessons, one a"
        " day, about two minutes each, with a question to reflect on and a quick check.\n\n"
        f"{framing_text()}\n\n"
        "Nothing is stored unless you agree.",
        (
            (Button("I agree, let's set up", encode(ONBOARD, "yes")),),
            (Button("No thanks", encode(ONBOARD, "no")),),
        ),
    )


def declined_screen() -> Screen:
    """After "No thanks": nothing was stored, and what still works."""
    return Screen(
        "That's fine: nothing has been stored.\n\n"
        "You can still look things up at any time: /cards, or type a few words. /support is"
        " always there. If you change your mind, send /start.",
        ((Button("Browse the cards", encode(MENU_SHOW, ALL_MENUS)),),),
    )


def not_enrolled_screen() -> Screen:
    """A course command (or an old button) from someone who has not started the course."""
    return Screen(
        "You haven't started the course yet. It takes a minute to set up.\n\n"
        "Lookups work without it: /cards, or type a few words. /support is always there.",
        ((Button("Set up the course", encode(ONBOARD, "welcome")),),),
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
        _next_line(enrolment, now),
        "",
        "/settings changes your schedule, /pause takes a break, and /support is always there.",
    ]
    return Screen("\n".join(lines))


def settings_screen(enrolment: Enrolment, now: datetime, *, note: str | None = None) -> Screen:
    """/settings: the schedule and a button per thing that can change (setup shows setup)."""
    if enrolment.state == SETUP:
        return setup_screen(enrolment, now, note=note)
    lines = [note, ""] if note else []
    lines += ["<b>Your settings</b>", "", *schedule_lines(enrolment, now), ""]
    lines.append(_next_line(enrolment, now))
    return Screen(
        "\n".join(lines).strip(),
        (*_edit_rows(enrolment), (Button("Done", encode(SETTINGS, "close")),)),
    )


def settings_closed_screen(enrolment: Enrolment, now: datetime) -> Screen:
    """The settings message after Done: the schedule, no buttons."""
    lines = ["<b>Your settings are saved</b>", "", *schedule_lines(enrolment, now), ""]
    lines.append(_next_line(enrolment, now))
    lines.append("/settings changes them again.")
    return Screen("\n".join(lines).strip())


def _back() -> Button:
    return Button("Back", encode(SETTINGS, "home"))


def time_menu_screen(enrolment: Enrolment, *, retry: str | None = None) -> Screen:
    """Choose the lesson time: common times as buttons, or type one."""
    current = enrolment.schedule.delivery_time
    lines = []
    if retry is not None:
        lines += [f"I couldn't read <i>{_echo(retry)}</i> as a time.", ""]
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
            f"I couldn't find <i>{_echo(typed)}</i> exactly. Did you mean one of these?\n\n"
            "Or type it again."
        )
    else:
        text = (
            f"I couldn't find a timezone called <i>{_echo(typed)}</i>.\n\n"
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
        lines += [f"I couldn't use <i>{_echo(retry)}</i> as a reflection time.", ""]
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
        f"I couldn't read <i>{_echo(typed)}</i> as days. Try <code>Mon, Wed, Fri</code>,"
        f" <code>weekdays</code> or <code>every day</code>.\n\n{menu.text}",
        menu.buttons,
    )


# --- status, lessons now, and the course's end ---------------------------------------------------


def status_screen(
    enrolment: Enrolment, content: Content, now: datetime, *, note: str | None = None
) -> Screen:
    """/start when already enrolled: where they are, and the menu."""
    if enrolment.state == SETUP:
        return setup_screen(enrolment, now, note=note)
    if enrolment.state == FINISHED:
        return finished_screen(content, note=note)
    lines = [note, ""] if note else []
    lines += [_position(enrolment, content), _next_line(enrolment, now)]
    rows: list[tuple[Button, ...]] = []
    if enrolment.state == ACTIVE:
        rows.append(
            (
                Button("Today's lesson", encode(COURSE, "today")),
                Button("Next lesson now", encode(COURSE, "next")),
            )
        )
        rows.append(
            (Button("Settings", encode(SETTINGS, "home")), Button("Pause", encode(COURSE, "pause")))
        )
    else:
        rows.append((Button("Resume lessons", encode(COURSE, "resume")),))
        rows.append(
            (
                Button("Today's lesson", encode(COURSE, "today")),
                Button("Settings", encode(SETTINGS, "home")),
            )
        )
    lines += ["", "More: /progress, /journal, /help. /support is always there."]
    return Screen("\n".join(lines), tuple(rows))


def nothing_yet_screen(enrolment: Enrolment, now: datetime) -> Screen:
    """/today before any lesson has come."""
    text = "No lesson has come yet."
    if enrolment.next_lesson_at is not None:
        slot = when_text(enrolment.next_lesson_at, enrolment.schedule.timezone, now)
        text = f"Your first lesson comes {slot}."
    return Screen(
        f"{text} Would you like it now?",
        ((Button("First lesson now", encode(COURSE, "next")),),),
    )


def finished_screen(content: Content, *, note: str | None = None) -> Screen:
    """The end of the course: what was covered, the cards, and the way to go through it again."""
    covered = "\n".join(f"• {escape(lesson.title)}" for lesson in content.lessons)
    lines = [note, ""] if note else []
    lines += [
        f"<b>You've finished {escape(content.course.title)}</b>",
        "",
        "Thank you for making the time. Together the lessons covered:",
        covered,
        "",
        "No more daily lessons will come. The lookup cards are here whenever you need them"
        " (/cards, or type a few words), and /journal keeps your reflections.",
        "Quick checks you are still practising can be reviewed below, and you can go through"
        " the lessons again from the start, at your own pace; your history is kept.",
    ]
    return Screen(
        "\n".join(lines),
        (
            (Button("Review quick checks", encode(COURSE, "review")),),
            (Button("Browse the cards", encode(MENU_SHOW, ALL_MENUS)),),
            (Button("Go through the lessons again", encode(COURSE, "restart")),),
        ),
    )


def nothing_to_review_screen() -> Screen:
    """The course's end offered reviews, and none is waiting now."""
    return Screen(
        "No quick checks are waiting for review just now. Any you are still practising come back"
        " after a few days, so try again later. /restart goes through the lessons again."
    )


# --- pause, resume, stop, restart ----------------------------------------------------------------


def _pause_rows() -> tuple[tuple[Button, ...], ...]:
    return (
        tuple(Button(label, encode(COURSE, "pause", days)) for days, label in PAUSE_CHOICES),
        (Button("Not now", encode(COURSE, "status")),),
    )


PAUSE_EXAMPLES = (
    "<code>/pause 3d</code> for three days, <code>/pause 2w</code> for two weeks, or"
    " <code>/pause until 2027-01-04</code> to have lessons back on that date."
)


def pause_menu_screen() -> Screen:
    """/pause with no length: a few lengths as buttons, and how to type one."""
    return Screen(
        "<b>Take a break whenever you need one.</b> How long for?\n\n"
        f"Choose below, or type {PAUSE_EXAMPLES}",
        _pause_rows(),
    )


def pause_help_screen(typed: str, reason: str) -> Screen:
    """A pause that could not be read or used: why, kindly, with examples."""
    return Screen(
        f"I couldn't use <i>{_echo(typed)}</i> as a pause ({escape(reason)}).\n\n"
        f"Try {PAUSE_EXAMPLES} A pause can be up to a year.",
        _pause_rows(),
    )


def paused_screen(enrolment: Enrolment, now: datetime) -> Screen:
    """A pause has started."""
    tz = enrolment.schedule.timezone
    text = "<b>Paused.</b> Take the time you need."
    if enrolment.paused_until is not None:
        text += (
            f" No lessons until {day_text(enrolment.paused_until, tz, now).removeprefix('on ')};"
            " they start again by themselves then"
        )
        if enrolment.next_lesson_at is not None:
            text += f" (next lesson {when_text(enrolment.next_lesson_at, tz, now)})"
        text += "."
    text += "\n\n/resume brings them back sooner. /support is always there."
    return Screen(text, ((Button("Resume now", encode(COURSE, "resume")),),))


def resumed_screen(enrolment: Enrolment, content: Content, now: datetime) -> Screen:
    """Welcome back: a short recap and the next slot; nothing to catch up on."""
    lines = ["<b>Welcome back.</b>", _position(enrolment, content), _next_line(enrolment, now)]
    lines.append("There's nothing to catch up on: the course carries on from where you were.")
    return Screen(
        "\n".join(lines),
        ((Button("Next lesson now", encode(COURSE, "next")),),),
    )


def stop_confirm_screen() -> Screen:
    """/stop: stop lessons, and keep or delete data (the learner's choice)."""
    return Screen(
        "<b>Stop your daily lessons?</b>\n\n"
        "You choose what happens to what is stored:\n"
        "• <b>Keep</b> your progress and reflections, so you can come back any time with"
        " /resume.\n"
        "• <b>Delete</b> everything about you, for good.",
        (
            (Button("Stop, keep my data", encode(COURSE, "stop", "keep")),),
            (Button("Stop and delete my data", encode(COURSE, "stop", "delete")),),
            (Button("Cancel, keep my lessons", encode(COURSE, "status")),),
        ),
    )


def delete_confirm_screen() -> Screen:
    """The second step before deleting everything."""
    return Screen(
        "This stops your lessons and deletes your progress, reflections and settings for good."
        " It can't be undone.",
        (
            (Button("Yes, delete everything", encode(COURSE, "stop", "delete", "yes")),),
            (Button("No, keep my data", encode(COURSE, "stop", "keep")),),
        ),
    )


def stopped_screen() -> Screen:
    """Lessons stopped; data kept."""
    return Screen(
        "Your daily lessons are stopped. Your progress and reflections are kept, and nobody"
        " else can see your reflections.\n\n"
        "Come back any time with /resume. Lookups (/cards) and /support still work.",
        ((Button("Resume lessons", encode(COURSE, "resume")),),),
    )


def deleted_screen(erased: Screen) -> Screen:
    """Lessons stopped and everything deleted: the privacy service's account of what went."""
    return Screen(f"Your daily lessons are stopped.\n\n{erased.text}")


def restart_confirm_screen() -> Screen:
    """/restart: go through the course again from lesson 1?"""
    return Screen(
        "<b>Go through the course again from lesson 1?</b>\n"
        "Your history so far is kept; lessons carry on at your usual time.",
        (
            (Button("Yes, start again", encode(COURSE, "restart", "yes")),),
            (Button("No, keep my place", encode(COURSE, "status")),),
        ),
    )


def restarted_screen(enrolment: Enrolment, now: datetime) -> Screen:
    """The course starts again."""
    return Screen(
        f"Starting again from lesson 1. {_next_line(enrolment, now)}",
        ((Button("First lesson now", encode(COURSE, "next")),),),
    )


def state_note(state: str | None) -> str:
    """One line explaining why a course action did not apply in this state (an old button)."""
    return {
        None: "You haven't started the course yet.",
        SETUP: "You're nearly set up: choose when your lessons come, then start.",
        ACTIVE: "Your lessons are already on.",
        PAUSED: "Your lessons are paused.",
        STOPPED: "Your daily lessons are stopped.",
        INACTIVE: "Your daily lessons are stopped.",
        FINISHED: "You've finished the course.",
    }.get(state, "That button is from an older message.")
