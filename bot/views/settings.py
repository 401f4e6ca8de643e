"""Pure views for the schedule: how its times and days read, the setup screen after consent,
/settings and its menus (lesson time, timezone, days, reflection time, reminders, the shift
pattern with a rota's start date and times, quiet hours).

Enrolment values in, Screens out (HTML text and buttons); no telegram, no database. Times are
shown in the learner's own timezone, relative to `now` ("tomorrow at 08:00"); anything a person
typed is shortened and escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from bot.core.dates import moment, named, on_day, weekday
from bot.core.pattern import (
    MAX_CYCLE_DAYS,
    Pattern,
    PatternKind,
    Shift,
    describe_cycle,
    describe_next,
    lesson_time_on,
    shift_on,
)
from bot.core.schedule import DAY_NAMES, format_days, local_date, weekdays_of, zone
from bot.core.states import SubscriptionState
from bot.core.textclean import shorten
from bot.core.timeparse import format_time, from_time_code, time_code
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
    return on_day(local_date(instant, tz), local_date(now, tz))


def when_text(instant: datetime, tz: str, now: datetime) -> str:
    """A delivery instant as the learner reads it: 'tomorrow at 08:00'."""
    return moment(instant, tz, now)


def next_when(instant: datetime, pattern: Pattern, tz: str, now: datetime) -> str:
    """When the next lesson comes, in words that fit the pattern: 'on your next night shift,
    Thursday at 19:00' on a rota, else 'tomorrow at 08:00'."""
    if pattern.kind == PatternKind.ROTA:
        return describe_next(instant, pattern, tz, now)
    return when_text(instant, tz, now)


def next_line(enrolment: Enrolment, now: datetime) -> str:
    """The one line saying when the next lesson comes (or why none is coming)."""
    tz = enrolment.schedule.timezone
    if enrolment.state == SubscriptionState.ACTIVE and enrolment.next_lesson_at is not None:
        when = next_when(enrolment.next_lesson_at, enrolment.schedule.pattern, tz, now)
        return f"Next lesson: {when}."
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


_SHIFT_PLURALS = {Shift.DAY: "day shifts", Shift.NIGHT: "night shifts", Shift.OFF: "days off"}
_SHIFT_ONE = {Shift.DAY: "a day shift", Shift.NIGHT: "a night shift", Shift.OFF: "a day off"}


def _rota_times(pattern: Pattern) -> str:
    """'07:30 on day shifts, 19:00 on night shifts, no lesson on days off'."""
    times = ((Shift.DAY, pattern.day_time), (Shift.NIGHT, pattern.night_time))
    parts = [
        f"{format_time(at)} on {_SHIFT_PLURALS[shift]}"
        if at is not None
        else f"no lesson on {_SHIFT_PLURALS[shift]}"
        for shift, at in (*times, (Shift.OFF, pattern.off_time))
        if shift in pattern.cycle
    ]
    return ", ".join(parts)


def pattern_text(pattern: Pattern) -> str:
    """The pattern in the learner's words: 'fixed days', 'ask me each week', or the rota."""
    if pattern.kind == PatternKind.ROTA:
        return f"a rota of {describe_cycle(pattern.cycle)}"
    if pattern.kind == PatternKind.WEEKLY:
        return "ask me each week"
    return "fixed days"


def today_text(pattern: Pattern, now: datetime, tz: str) -> str:
    """What today is in the pattern: 'a night shift (lesson at 19:00)', 'a day off (no lesson)'."""
    today = local_date(now, tz)
    at = lesson_time_on(pattern, today)
    lesson = f"lesson at {format_time(at)}" if at is not None else "no lesson"
    shift = shift_on(pattern, today)
    if shift is None:
        return f"{weekday(today)}, {lesson}"
    return f"{weekday(today)}, {_SHIFT_ONE[shift]} ({lesson})"


def pattern_today_line(enrolment: Enrolment, now: datetime) -> str:
    """One line for the sandbox's clock: the learner's pattern and what today is in it."""
    schedule = enrolment.schedule
    today = today_text(schedule.pattern, now, schedule.timezone)
    return f"your pattern: {pattern_text(schedule.pattern)}; today: {today}"


def quiet_text(pattern: Pattern) -> str:
    """The learner's quiet hours: their own window, or the default."""
    if pattern.quiet_from is None or pattern.quiet_until is None:
        return "the 9 hours before your lesson (the default)"
    return f"{format_time(pattern.quiet_from)} to {format_time(pattern.quiet_until)}"


def schedule_lines(enrolment: Enrolment, now: datetime) -> list[str]:
    """The schedule as a few plain lines."""
    schedule = enrolment.schedule
    pattern = schedule.pattern
    reflection = (
        "with the lesson"
        if schedule.reflection_time is None
        else f"later the same day, at {format_time(schedule.reflection_time)}"
    )
    zone_line = (
        f"<b>Timezone:</b> {escape(schedule.timezone)}"
        f" (it's {local_clock(now, schedule.timezone)} there now)"
    )
    if pattern.kind == PatternKind.ROTA:
        assert pattern.cycle_start is not None
        when = (
            f"<b>Your pattern:</b> {pattern_text(pattern)}, started on"
            f" {named(pattern.cycle_start, local_date(now, schedule.timezone))}",
            f"<b>Lessons:</b> {_rota_times(pattern)}",
            f"<b>Today:</b> {today_text(pattern, now, schedule.timezone)}",
            zone_line,
        )
    else:
        when = (
            f"<b>Your pattern:</b> {pattern_text(pattern)}",
            f"<b>Lesson time:</b> {format_time(schedule.delivery_time)}",
            zone_line,
            f"<b>Days:</b> {format_days(schedule.days)}"
            + (
                " (until you choose the coming week's)"
                if pattern.kind == PatternKind.WEEKLY
                else ""
            ),
        )
    return [
        *when,
        f"<b>Reflection prompt:</b> {reflection}",
        f"<b>Reminders:</b> {'on' if schedule.reminders else 'off'}",
        f"<b>Quiet hours:</b> {quiet_text(pattern)}",
    ]


def _edit_rows(enrolment: Enrolment) -> tuple[tuple[Button, ...], ...]:
    reminders = enrolment.schedule.reminders
    reminder_row = (
        Button(
            "Turn reminders off" if reminders else "Turn reminders on",
            encode(SETTINGS, "rem", "off" if reminders else "on"),
        ),
    )
    pattern_row = (
        Button("Your pattern", encode(SETTINGS, "pat")),
        Button("Quiet hours", encode(SETTINGS, "quiet")),
    )
    if enrolment.schedule.pattern.kind == PatternKind.ROTA:
        # The rota sets the days and times; changing them is choosing the pattern again.
        return (
            pattern_row,
            (
                Button("Change timezone", encode(SETTINGS, "zone")),
                Button("Reflection time", encode(SETTINGS, "refl")),
            ),
            reminder_row,
        )
    return (
        (
            Button("Change time", encode(SETTINGS, "time")),
            Button("Change timezone", encode(SETTINGS, "zone")),
        ),
        (
            Button("Change days", encode(SETTINGS, "days")),
            Button("Reflection time", encode(SETTINGS, "refl")),
        ),
        pattern_row,
        reminder_row,
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
        (
            f"Lessons follow your rota: {_rota_times(schedule.pattern)}"
            if schedule.pattern.kind == PatternKind.ROTA
            else f"Lessons come {format_days(schedule.days)} at"
            f" {format_time(schedule.delivery_time)}"
        )
        + f" ({escape(schedule.timezone)}).",
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


def time_menu_screen(
    enrolment: Enrolment, *, retry: str | None = None, refused: str | None = None
) -> Screen:
    """Choose the lesson time: common times as buttons, or type one."""
    current = enrolment.schedule.delivery_time
    lines = []
    if retry is not None:
        lines += [f"I couldn't read <i>{echo(retry)}</i> as a time.", ""]
    if refused is not None:
        lines += [
            f"I couldn't use that time: {escape(refused)} (your quiet hours are"
            f" {quiet_text(enrolment.schedule.pattern)}). Choose another time, or change your"
            " quiet hours first.",
            "",
        ]
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


# --- the shift pattern: fixed days, a rota, or ask each week -------------------------------------

# Common rotas, offered as buttons (anything else can be typed).
ROTA_CHOICES = (
    ("4 on 4 off", "DDDDOOOO"),
    ("2 days 2 nights 4 off", "DDNNOOOO"),
    ("5 on 2 off", "DDDDDOO"),
    ("3 on 3 off", "DDDOOO"),
)
ROTA_TIME_CHOICES = (
    time(6, 0),
    time(6, 30),
    time(7, 0),
    time(7, 30),
    time(8, 0),
    time(9, 0),
    time(12, 0),
    time(14, 0),
    time(17, 0),
    time(18, 0),
    time(19, 0),
    time(20, 0),
)
QUIET_CHOICES = (
    (time(21, 0), time(7, 0)),
    (time(22, 0), time(6, 0)),
    (time(23, 0), time(7, 0)),
    (time(8, 0), time(16, 0)),  # after a night shift
)
_SHIFTS = (Shift.DAY, Shift.NIGHT, Shift.OFF)
_NO_LESSON = "-"
_DRAFT = re.compile(
    rf"^([DNO]{{2,{MAX_CYCLE_DAYS}}})(?:\.(\d{{8}})?)?((?:\.(?:-|\d{{4}})?){{0,3}})$"
)


@dataclass(frozen=True, slots=True)
class RotaDraft:
    """A rota being chosen, step by step: carried in its buttons' callback data and in the typed
    answer's pending action (at most 52 characters: 'DDNNOOOO.20261203.0730.1900.-')."""

    cycle: str
    start: date | None = None
    # A lesson time per kind of day (day shift, night shift, day off): "" not asked yet,
    # "-" no lesson, or HHMM.
    times: tuple[str, str, str] = ("", "", "")

    def code(self) -> str:
        """The draft as text for callback data: cycle.YYYYMMDD.D.N.O."""
        start = self.start.strftime("%Y%m%d") if self.start is not None else ""
        return ".".join((self.cycle, start, *self.times)).rstrip(".")

    @classmethod
    def read(cls, code: str) -> RotaDraft | None:
        """A draft from `code`; None when it is not one (a forged or garbled button)."""
        match = _DRAFT.match(code)
        if match is None:
            return None
        start = None
        if match[2]:
            try:
                start = datetime.strptime(match[2], "%Y%m%d").date()
            except ValueError:
                return None
        times = [*match[3].split(".")[1:], "", "", ""][:3]
        if any(t and t != _NO_LESSON and from_time_code(t) is None for t in times):
            return None
        return cls(match[1], start, (times[0], times[1], times[2]))

    def next_shift(self) -> Shift | None:
        """The next kind of day in the cycle whose lesson time is still to be asked."""
        for shift, chosen in zip(_SHIFTS, self.times, strict=True):
            if shift in self.cycle and not chosen:
                return shift
        return None

    def with_time(self, shift: Shift, at: time | None) -> RotaDraft:
        """The draft with a lesson time (None: no lesson) for one kind of day."""
        times = list(self.times)
        times[_SHIFTS.index(shift)] = time_code(at) if at is not None else _NO_LESSON
        return replace(self, times=(times[0], times[1], times[2]))

    def without_times(self) -> RotaDraft:
        """The draft with its times to be asked again."""
        return replace(self, times=("", "", ""))

    def lesson_times(self) -> dict[str, time | None]:
        """The chosen times as `bot.core.pattern.rota` keywords."""
        names = ("day_time", "night_time", "off_time")
        return {
            name: from_time_code(chosen) if chosen and chosen != _NO_LESSON else None
            for name, chosen in zip(names, self.times, strict=True)
        }


def pattern_menu_screen(enrolment: Enrolment, *, retry: str | None = None) -> Screen:
    """Choose a pattern: fixed days, a common rota, or ask each week (or type a rota)."""
    pattern = enrolment.schedule.pattern
    lines = []
    if retry is not None:
        lines += [
            f"I couldn't read <i>{echo(retry)}</i> as a rota. Count the days of each kind, in"
            " order, such as <code>4 on 4 off</code> or <code>2 days 2 nights 4 off</code>"
            f" (a cycle of 2 to {MAX_CYCLE_DAYS} days).",
            "",
        ]
    lines += [
        "<b>Your pattern</b>",
        f"Now: {pattern_text(pattern)}.",
        "",
        "• <b>Fixed days</b>: the same days each week, at one time.",
        "• <b>A rota</b>: a cycle that repeats, with a lesson time for each kind of day (or none,"
        " so lessons can come on your days off only).",
        "• <b>Ask me each week</b>: on Sunday you choose the coming week's days.",
        "",
        "Choose below, or type your rota, such as <code>4 on 4 off</code> or"
        " <code>2 days 2 nights 4 off</code>.",
    ]

    def current(label: str, kind: PatternKind) -> str:
        return f"{label} (current)" if pattern.kind == kind else label

    rotas = [
        Button(label, encode(SETTINGS, "rota", RotaDraft(cycle).code()))
        for label, cycle in ROTA_CHOICES
    ]
    return Screen(
        "\n".join(lines),
        (
            (Button(current("Fixed days", PatternKind.DAYS), encode(SETTINGS, "pat", "days")),),
            *_rows(rotas, 2),
            (
                Button(
                    current("Ask me each week", PatternKind.WEEKLY),
                    encode(SETTINGS, "pat", "weekly"),
                ),
            ),
            (_back(),),
        ),
    )


def _long_date(day: date) -> str:
    return named(day, day)


def rota_start_screen(draft: RotaDraft, today: date, *, retry: str | None = None) -> Screen:
    """A rota's first day: today, tomorrow, or a typed date."""
    lines = []
    if retry is not None:
        lines += [
            f"I couldn't read <i>{echo(retry)}</i> as a date within a year of today. Try"
            " <code>today</code>, <code>Thursday</code>, <code>3 Dec</code> or"
            " <code>2026-12-03</code>.",
            "",
        ]
    first = _SHIFT_ONE[Shift(draft.cycle[0])].removeprefix("a ")
    lines += [
        f"<b>A rota of {describe_cycle(draft.cycle)}</b>",
        "",
        f"On which date does (or did) a cycle start? That is the date of its first day, your"
        f" first {first}. It can be in the past.",
        "",
        "Choose below, or type a date, such as <code>Thursday</code> or <code>3 Dec</code>.",
    ]
    choices = [
        Button(
            f"{word}, {_long_date(day)}",
            encode(SETTINGS, "rota", replace(draft, start=day).code()),
        )
        for word, day in (("Today", today), ("Tomorrow", today + timedelta(days=1)))
    ]
    return Screen(
        "\n".join(lines),
        (*_rows(choices, 1), (Button("Back", encode(SETTINGS, "pat")),)),
    )


def rota_time_screen(draft: RotaDraft, shift: Shift, *, retry: str | None = None) -> Screen:
    """The lesson time on one kind of day in the rota, or no lesson on those days."""
    lines = []
    if retry is not None:
        lines += [
            f"I couldn't read <i>{echo(retry)}</i> as a time. Try <code>7:30</code> or"
            " <code>7pm</code>, or <code>no lesson</code>.",
            "",
        ]
    plural = _SHIFT_PLURALS[shift]
    lines += [
        f"<b>What time would you like your lesson on {plural}?</b>",
        "Pick a time when you are awake and have a couple of minutes: before the shift, or in a"
        " break. Or no lesson on those days.",
        "",
        "Choose below, or type a time, such as <code>7:30</code> or <code>7pm</code>.",
    ]
    choices = [
        Button(format_time(at), encode(SETTINGS, "rota", draft.with_time(shift, at).code()))
        for at in ROTA_TIME_CHOICES
    ]
    return Screen(
        "\n".join(lines),
        (
            *_rows(choices, 4),
            (
                Button(
                    f"No lesson on {plural}",
                    encode(SETTINGS, "rota", draft.with_time(shift, None).code()),
                ),
            ),
            (Button("Back", encode(SETTINGS, "pat")),),
        ),
    )


def rota_needs_a_lesson_screen(draft: RotaDraft) -> Screen:
    """Every kind of day was given no lesson: ask again, kindly."""
    first = draft.next_shift() or Shift(draft.cycle[0])
    menu = rota_time_screen(draft.without_times(), first)
    return Screen(
        "With no lesson on any kind of day, no lessons would come. Choose a time for at least"
        f" one kind of day.\n\n{menu.text}",
        menu.buttons,
    )


def pattern_refused_screen(enrolment: Enrolment, reason: str) -> Screen:
    """A pattern that could not be used (a lesson inside the learner's own quiet hours)."""
    menu = pattern_menu_screen(enrolment)
    return Screen(
        f"I couldn't set that pattern: {escape(reason)}. Your quiet hours are"
        f" {quiet_text(enrolment.schedule.pattern)}; choose other times, or change your quiet"
        f" hours first.\n\n{menu.text}",
        menu.buttons,
    )


# --- quiet hours ---------------------------------------------------------------------------------


def quiet_code(start: time, end: time) -> str:
    """A quiet window as callback data: 2200-0600."""
    return f"{time_code(start)}-{time_code(end)}"


def quiet_menu_screen(
    enrolment: Enrolment, *, retry: str | None = None, refused: str | None = None
) -> Screen:
    """Quiet hours: the default or a window of the learner's own (buttons or typed)."""
    pattern = enrolment.schedule.pattern
    lines = []
    if retry is not None:
        lines += [
            f"I couldn't read <i>{echo(retry)}</i> as quiet hours. Type a start and an end,"
            " such as <code>22:00-06:00</code> or <code>10pm to 6am</code>.",
            "",
        ]
    if refused is not None:
        lines += [
            f"Those quiet hours would cover a lesson time: {escape(refused)}. Quiet hours are"
            " for sleep and rest, so choose hours that leave your lesson time free, or change"
            " your lesson time first.",
            "",
        ]
    lines += [
        "<b>Quiet hours</b>",
        f"Now: {quiet_text(pattern)}.",
        "",
        "No reminders, nudges or weekly questions come in your quiet hours; a reminder that"
        " would fall in them waits until they end. By default they are the 9 hours before each"
        " lesson, so a night worker's daytime sleep is protected.",
        "",
        "Choose below, or type your own, such as <code>22:00-06:00</code>.",
    ]
    own = pattern.quiet_from is not None
    choices = [
        Button(
            f"{format_time(start)} to {format_time(end)}"
            + (" (current)" if (start, end) == (pattern.quiet_from, pattern.quiet_until) else ""),
            encode(SETTINGS, "quiet", quiet_code(start, end)),
        )
        for start, end in QUIET_CHOICES
    ]
    default = "The 9 hours before my lesson" + ("" if own else " (current)")
    return Screen(
        "\n".join(lines),
        (
            (Button(default, encode(SETTINGS, "quiet", "default")),),
            *_rows(choices, 2),
            (_back(),),
        ),
    )
