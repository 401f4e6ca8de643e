"""Pure views for onboarding and the subscription lifecycle: welcome and consent, where you are,
lessons now, the course's end, pause, resume, stop and restart.

Enrolment values in, Screens out (HTML text and buttons); no telegram, no database. Times are
shown in the learner's own timezone, relative to `now` ("tomorrow at 08:00"). Every button has a
text label, and nothing here counts, compares or scolds. The schedule's screens are
`bot.views.settings`.
"""

from __future__ import annotations

from datetime import datetime

from bot.content.schema import Content
from bot.core.states import SubscriptionState
from bot.results.enrolment import Enrolment
from bot.views.callbacks import COURSE, MENU_SHOW, ONBOARD, SETTINGS, encode
from bot.views.common import framing_text
from bot.views.lookup import ALL_MENUS
from bot.views.screen import Button, Screen, escape
from bot.views.settings import day_text, echo, next_line, setup_screen, when_text

PAUSE_CHOICES = ((3, "3 days"), (7, "1 week"), (14, "2 weeks"))


def _position(enrolment: Enrolment, content: Content) -> str:
    total = len(content.lessons)
    had = min(enrolment.lessons_had, total)
    if had == 0:
        return f"The course has {total} lessons; your first is still to come."
    last = content.lesson(enrolment.last_lesson_id) if enrolment.last_lesson_id else None
    latest = f" The latest was <i>{escape(last.title)}</i>." if last is not None else ""
    # Say what is true: a lesson that came is not a lesson done.
    done = min(enrolment.lessons_done, had)
    marked = f"{done} marked done" if done else "none marked done yet"
    came = "has come to you so far" if had == 1 else "have come to you so far"
    return f"{had} of {total} lessons {came} ({marked}).{latest}"


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


# --- status, lessons now, and the course's end ---------------------------------------------------


def status_screen(
    enrolment: Enrolment, content: Content, now: datetime, *, note: str | None = None
) -> Screen:
    """/start when already enrolled: where they are, and the menu."""
    if enrolment.state == SubscriptionState.SETUP:
        return setup_screen(enrolment, now, note=note)
    if enrolment.state == SubscriptionState.FINISHED:
        return finished_screen(content, note=note)
    lines = [note, ""] if note else []
    lines += [_position(enrolment, content), next_line(enrolment, now)]
    rows: list[tuple[Button, ...]] = []
    if enrolment.state == SubscriptionState.ACTIVE:
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
    " <code>/pause until 4 January</code> (or <i>until Monday</i>, <i>until the 14th</i>) to have"
    " lessons back on that day."
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
        f"I couldn't use <i>{echo(typed)}</i> as a pause ({escape(reason)}).\n\n"
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
            text += f" (next lesson: {when_text(enrolment.next_lesson_at, tz, now)})"
        text += "."
    text += "\n\n/resume brings them back sooner. /support is always there."
    return Screen(text, ((Button("Resume now", encode(COURSE, "resume")),),))


def resumed_screen(enrolment: Enrolment, content: Content, now: datetime) -> Screen:
    """Welcome back: a short recap and the next slot; nothing to catch up on."""
    lines = ["<b>Welcome back.</b>", _position(enrolment, content), next_line(enrolment, now)]
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
        f"Starting again from lesson 1. {next_line(enrolment, now)}",
        ((Button("First lesson now", encode(COURSE, "next")),),),
    )


def state_note(state: str | None) -> str:
    """One line explaining why a course action did not apply in this state (an old button)."""
    notes: dict[str | None, str] = {
        None: "You haven't started the course yet.",
        SubscriptionState.SETUP: "You're nearly set up: choose when your lessons come, then start.",
        SubscriptionState.ACTIVE: "Your lessons are already on.",
        SubscriptionState.PAUSED: "Your lessons are paused.",
        SubscriptionState.STOPPED: "Your daily lessons are stopped.",
        SubscriptionState.INACTIVE: "Your daily lessons are stopped.",
        SubscriptionState.FINISHED: "You've finished the course.",
    }
    return notes.get(state, "That button is from an older message.")
