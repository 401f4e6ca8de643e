"""Onboarding, schedule settings and the subscription lifecycle: thin verbs over EnrolmentService.

Commands: /start (welcome and consent, or where you are), /settings, /pause, /resume, /stop,
/restart, /today, /next. Buttons: ONBOARD, SETTINGS and COURSE callbacks. Typed answers on the
schedule screens (a time, a timezone, days) arrive through the free-text router as the "sched"
flow (TEXT_FLOWS). A button from an old message acts on the learner's current state, or says why
it no longer applies; malformed callback data is answered with nothing.

A `/start` payload that is a team invite goes to the cohort handlers; any other payload is
ignored. Payloads are never logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date, time, timedelta
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, JobQueue, filters

from bot.context import BotContext
from bot.core.schedule import EVERY_DAY, format_days, local_date, parse_days
from bot.core.timeparse import PauseError, format_time, from_time_code, match_timezone, parse_pause
from bot.core.timeparse import parse_time as read_time
from bot.handlers import cohorts as cohort_handlers
from bot.handlers.text import FlowStep, pending
from bot.render import reply, show
from bot.results.enrolment import Enrolment
from bot.services.enrolment import (
    ACTIVE,
    FINISHED,
    INACTIVE,
    PAUSED,
    SCHEDULE_FLOW,
    SETUP,
    EnrolmentService,
    ScheduleError,
    WrongState,
)
from bot.views.callbacks import COURSE, ONBOARD, SETTINGS, decode
from bot.views.learning import forget_done_screen, forget_nothing_screen, review_question_screen
from bot.views.lesson import lesson_screen
from bot.views.onboarding import (
    days_menu_screen,
    days_retry_screen,
    declined_screen,
    delete_confirm_screen,
    deleted_screen,
    finished_screen,
    not_enrolled_screen,
    nothing_to_review_screen,
    nothing_yet_screen,
    pause_help_screen,
    pause_menu_screen,
    paused_screen,
    pick_days_screen,
    reflection_menu_screen,
    restart_confirm_screen,
    restarted_screen,
    resumed_screen,
    settings_closed_screen,
    settings_screen,
    setup_screen,
    started_screen,
    state_note,
    status_screen,
    stop_confirm_screen,
    stopped_screen,
    time_menu_screen,
    welcome_screen,
    zone_menu_screen,
    zone_suggestions_screen,
)
from bot.views.screen import Screen

log = logging.getLogger(__name__)

Show = Callable[[Update, Screen], Awaitable[object]]
_DAYS_CODE = re.compile(r"^\d{1,3}$")
_PAUSE_DAYS = re.compile(r"^\d{1,3}$")


def _service(context: BotContext) -> EnrolmentService:
    return context.services.enrolment


def _user_id(update: Update) -> int | None:
    user = update.effective_user
    return user.id if user is not None else None


def _text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message is not None else ""


async def _quiet(update: Update) -> None:
    """Answer a button press with nothing (stops the client's spinner)."""
    if update.callback_query is not None:
        await update.callback_query.answer()


async def _show_lesson(update: Update, context: BotContext, lesson_id: str) -> None:
    """Send a lesson as a new message, with its place in the course."""
    content = context.services.content
    lesson = content.lesson(lesson_id)
    if lesson is None:
        return
    screen = lesson_screen(
        lesson,
        course_position=content.lesson_index(lesson_id) + 1,
        course_length=len(content.lessons),
    )
    await reply(update, screen)


def _state_screen(
    context: BotContext, enrolment: Enrolment | None, note: str | None = None
) -> Screen:
    """Where the learner is (or the welcome path when they are not enrolled)."""
    if enrolment is None:
        return not_enrolled_screen()
    now = context.services.clock.now()
    return status_screen(enrolment, context.services.content, now, note=note)


# --- /start and consent --------------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> None:
    """Welcome a newcomer (consent first), or show an enrolled learner where they are."""
    user_id = _user_id(update)
    if user_id is None:
        return
    # A deep-link payload: a team invite, or unknown and ignored (never logged either way).
    if context.args and cohort_handlers.is_invite(context.args[0]):
        await cohort_handlers.open_invite(update, context, context.args[0])  # a team invite
        return
    service = _service(context)
    enrolment = await service.status(user_id)
    if enrolment is None:
        await reply(update, welcome_screen(context.services.content))
        return
    if enrolment.state == INACTIVE:
        # Telegram had refused delivery; a /start shows they are back: lessons on, no backlog.
        enrolment = await service.resume(user_id)
        now = context.services.clock.now()
        await reply(update, resumed_screen(enrolment, context.services.content, now))
        return
    await reply(update, _state_screen(context, enrolment))


async def onboard_button(update: Update, context: BotContext) -> None:
    """Consent (I agree / No thanks) and the first start (lesson now or at the chosen time)."""
    await _quiet(update)
    query = update.callback_query
    callback = decode(query.data if query is not None else None)
    user_id = _user_id(update)
    chat = update.effective_chat
    if callback is None or len(callback.args) != 1 or user_id is None or chat is None:
        return
    service = _service(context)
    now = context.services.clock.now()
    action = callback.args[0]
    if action == "yes":
        enrolment = await service.consent(user_id, chat.id)
        if enrolment.state == SETUP:
            await show(update, setup_screen(enrolment, now))
        else:
            await show(update, _state_screen(context, enrolment, "You're signed up already."))
    elif action in ("no", "welcome"):
        existing = await service.status(user_id)
        if existing is not None:
            note = "You're signed up already. /stop or /forget if you'd like to leave."
            await show(update, _state_screen(context, existing, note))
        elif action == "no":
            await show(update, declined_screen())
        else:
            await show(update, welcome_screen(context.services.content))
    elif action in ("now", "later"):
        await _start_lessons(update, context, lesson_now=action == "now")


async def _start_lessons(update: Update, context: BotContext, *, lesson_now: bool) -> None:
    user_id = _user_id(update)
    if user_id is None:
        return
    now = context.services.clock.now()
    try:
        result = await _service(context).start(user_id, lesson_now=lesson_now)
    except WrongState as refused:
        existing = await _service(context).status(user_id)
        note = "You've already started." if refused.state is not None else None
        await show(update, _state_screen(context, existing, note))
        return
    await show(update, started_screen(result.enrolment, now, lesson_now=lesson_now))
    if result.lesson_id is not None:
        await _show_lesson(update, context, result.lesson_id)
    elif result.enrolment.state == FINISHED:
        await reply(update, finished_screen(context.services.content))


# --- settings ------------------------------------------------------------------------------------


async def settings(update: Update, context: BotContext) -> None:
    """Show the schedule with a button for each thing that can change."""
    user_id = _user_id(update)
    if user_id is None:
        return
    enrolment = await _service(context).close_settings(user_id)
    if enrolment is None:
        await reply(update, not_enrolled_screen())
        return
    await reply(update, settings_screen(enrolment, context.services.clock.now()))


async def settings_button(update: Update, context: BotContext) -> None:
    """A settings button: open a menu, or apply the value it carries."""
    await _quiet(update)
    query = update.callback_query
    callback = decode(query.data if query is not None else None)
    user_id = _user_id(update)
    if callback is None or not callback.args or len(callback.args) > 2 or user_id is None:
        return
    field, value = callback.args[0], (callback.args[1] if len(callback.args) == 2 else None)
    service = _service(context)
    now = context.services.clock.now()
    if field == "pick":
        # Choosing days is kept in the buttons themselves until Save: nothing stored yet.
        if value is not None and _DAYS_CODE.match(value) and int(value) <= EVERY_DAY:
            await show(update, pick_days_screen(int(value)))
        return
    try:
        if field == "home" and value is None:
            enrolment = await service.close_settings(user_id)
            if enrolment is None:
                raise WrongState(None)
            await show(update, settings_screen(enrolment, now))
        elif field == "close" and value is None:
            enrolment = await service.close_settings(user_id)
            if enrolment is None:
                raise WrongState(None)
            await show(update, settings_closed_screen(enrolment, now))
        elif value is None and field in _MENUS:
            await _open_menu(update, context, user_id, field)
        elif value is not None and field in _SETTERS:
            await _SETTERS[field](update, context, user_id, value)
    except WrongState:
        await show(update, not_enrolled_screen())


async def _open_menu(update: Update, context: BotContext, user_id: int, field: str) -> None:
    """Show a menu where a value can also be typed (the next text is the answer)."""
    enrolment = await _service(context).status(user_id)
    if enrolment is None:
        raise WrongState(None)
    await context.services.learners.set_pending_action(user_id, pending(SCHEDULE_FLOW, field))
    now = context.services.clock.now()
    screens = {
        "time": lambda: time_menu_screen(enrolment),
        "zone": lambda: zone_menu_screen(enrolment, now),
        "days": lambda: days_menu_screen(enrolment),
        "refl": lambda: reflection_menu_screen(enrolment),
    }
    await show(update, screens[field]())


_MENUS = frozenset({"time", "zone", "days", "refl"})


async def _changed(
    update: Update, context: BotContext, enrolment: Enrolment, note: str, respond: Show
) -> None:
    now = context.services.clock.now()
    await respond(update, settings_screen(enrolment, now, note=note))


async def _set_time(update: Update, context: BotContext, user_id: int, value: str) -> None:
    at = from_time_code(value)
    if at is not None:
        await _apply_time(update, context, user_id, at, show)


async def _apply_time(
    update: Update, context: BotContext, user_id: int, at: time, respond: Show
) -> None:
    enrolment = await _service(context).set_time(user_id, at)
    await _changed(update, context, enrolment, f"Lesson time set to {format_time(at)}.", respond)


async def _set_zone(update: Update, context: BotContext, user_id: int, value: str) -> None:
    try:
        enrolment = await _service(context).set_timezone(user_id, value)
    except ScheduleError:
        return  # not a timezone: a forged button
    await _changed(update, context, enrolment, f"Timezone set to {value}.", show)


async def _set_days(update: Update, context: BotContext, user_id: int, value: str) -> None:
    if not _DAYS_CODE.match(value):
        return
    try:
        enrolment = await _service(context).set_days(user_id, int(value))
    except ScheduleError:
        return  # no days, or bits beyond Sunday: a forged button
    note = f"Lessons will come {format_days(enrolment.schedule.days)}."
    await _changed(update, context, enrolment, note, show)


async def _set_reflection(update: Update, context: BotContext, user_id: int, value: str) -> None:
    at = None if value == "off" else from_time_code(value)
    if value != "off" and at is None:
        return
    await _apply_reflection(update, context, user_id, at, value, show)


async def _apply_reflection(
    update: Update,
    context: BotContext,
    user_id: int,
    at: time | None,
    typed: str,
    respond: Show,
) -> None:
    service = _service(context)
    try:
        enrolment = await service.set_reflection_time(user_id, at)
    except ScheduleError:
        # Earlier than the lesson (an old button after the lesson time moved, or typed).
        current = await service.status(user_id)
        if current is None:
            raise WrongState(None) from None
        shown = format_time(at) if at is not None else typed
        await respond(update, reflection_menu_screen(current, retry=shown))
        return
    note = (
        "The question to reflect on will come with the lesson."
        if at is None
        else f"The question to reflect on will come at {format_time(at)}."
    )
    await _changed(update, context, enrolment, note, respond)


async def _set_reminders(update: Update, context: BotContext, user_id: int, value: str) -> None:
    if value not in ("on", "off"):
        return
    enrolment = await _service(context).set_reminders(user_id, value == "on")
    note = "Reminders are on." if value == "on" else "Reminders are off."
    await _changed(update, context, enrolment, note, show)


Setter = Callable[[Update, BotContext, int, str], Awaitable[None]]
_SETTERS: dict[str, Setter] = {
    "time": _set_time,
    "zone": _set_zone,
    "days": _set_days,
    "refl": _set_reflection,
    "rem": _set_reminders,
}


async def schedule_text(update: Update, context: BotContext, field: str) -> None:
    """A typed answer on a schedule screen: a time, a timezone, days or a reflection time."""
    user_id = _user_id(update)
    if user_id is None:
        return
    typed = _text(update).strip()
    service = _service(context)
    now = context.services.clock.now()
    try:
        if field == "time":
            at = read_time(typed)
            if at is None:
                current = await _require(service, user_id)
                await reply(update, time_menu_screen(current, retry=typed))
                return
            await _apply_time(update, context, user_id, at, reply)
        elif field == "zone":
            match = match_timezone(typed)
            if match.zone is None:
                await reply(update, zone_suggestions_screen(typed, match.suggestions, now))
                return
            enrolment = await service.set_timezone(user_id, match.zone)
            await _changed(update, context, enrolment, f"Timezone set to {match.zone}.", reply)
        elif field == "days":
            try:
                days = parse_days(typed)
            except ValueError:
                current = await _require(service, user_id)
                await reply(update, days_retry_screen(typed, current))
                return
            enrolment = await service.set_days(user_id, days)
            note = f"Lessons will come {format_days(days)}."
            await _changed(update, context, enrolment, note, reply)
        elif field == "refl":
            at = read_time(typed)
            if at is None:
                current = await _require(service, user_id)
                await reply(update, reflection_menu_screen(current, retry=typed))
                return
            await _apply_reflection(update, context, user_id, at, typed, reply)
        else:  # an unknown step (from an older version): forget it, show where they are
            await reply(update, _state_screen(context, await service.close_settings(user_id)))
    except WrongState:
        await context.services.learners.set_pending_action(user_id, None)
        await reply(update, not_enrolled_screen())


async def _require(service: EnrolmentService, user_id: int) -> Enrolment:
    enrolment = await service.status(user_id)
    if enrolment is None:
        raise WrongState(None)
    return enrolment


TEXT_FLOWS: dict[str, FlowStep] = {SCHEDULE_FLOW: schedule_text}


# --- today's lesson, the next one now ------------------------------------------------------------


async def today(update: Update, context: BotContext) -> None:
    """Send the latest lesson again (also how a delivery that may not have arrived is served)."""
    user_id = _user_id(update)
    if user_id is None:
        return
    try:
        result = await _service(context).latest_lesson(user_id)
    except WrongState as refused:
        await _refused(update, context, user_id, refused, reply)
        return
    if result.lesson_id is not None:
        await _show_lesson(update, context, result.lesson_id)
    else:
        now = context.services.clock.now()
        await reply(update, nothing_yet_screen(result.enrolment, now))


async def next_lesson(update: Update, context: BotContext) -> None:
    """Send the next lesson now (self-paced); the closing message at the end of the course."""
    user_id = _user_id(update)
    if user_id is None:
        return
    try:
        result = await _service(context).next_lesson_now(user_id)
    except WrongState as refused:
        await _refused(update, context, user_id, refused, reply)
        return
    if result.lesson_id is not None:
        await _show_lesson(update, context, result.lesson_id)
    else:
        await reply(update, finished_screen(context.services.content))


async def _refused(
    update: Update, context: BotContext, user_id: int, refused: WrongState, respond: Show
) -> None:
    """Explain why a course action does not apply now, and show where the learner is."""
    enrolment = await _service(context).status(user_id)
    note = state_note(refused.state) if enrolment is not None else None
    await respond(update, _state_screen(context, enrolment, note))


# --- pause, resume, stop, restart ----------------------------------------------------------------


async def pause(update: Update, context: BotContext) -> None:
    """Pause lessons for a while: /pause 3d, /pause 2w, /pause until 2027-01-04."""
    user_id = _user_id(update)
    if user_id is None:
        return
    typed = " ".join(context.args or [])
    enrolment = await _service(context).status(user_id)
    if enrolment is None or enrolment.state not in (ACTIVE, PAUSED):
        state = enrolment.state if enrolment is not None else None
        await _refused(update, context, user_id, WrongState(state), reply)
        return
    if not typed:
        await reply(update, pause_menu_screen())
        return
    today_there = local_date(context.services.clock.now(), enrolment.schedule.timezone)
    try:
        back_on = parse_pause(typed, today_there)
    except PauseError as error:
        await reply(update, pause_help_screen(typed, str(error)))
        return
    await _pause_until(update, context, user_id, back_on, reply)


async def _pause_until(
    update: Update, context: BotContext, user_id: int, back_on: date, respond: Show
) -> None:
    try:
        enrolment = await _service(context).pause(user_id, back_on)
    except WrongState as refused:
        await _refused(update, context, user_id, refused, respond)
        return
    await respond(update, paused_screen(enrolment, context.services.clock.now()))


async def resume(update: Update, context: BotContext) -> None:
    """Lessons on again from the next slot, with a short welcome back and no backlog."""
    user_id = _user_id(update)
    if user_id is not None:
        await _resume(update, context, user_id, reply)


async def _resume(update: Update, context: BotContext, user_id: int, respond: Show) -> None:
    try:
        enrolment = await _service(context).resume(user_id)
    except WrongState as refused:
        await _refused(update, context, user_id, refused, respond)
        return
    now = context.services.clock.now()
    await respond(update, resumed_screen(enrolment, context.services.content, now))


async def stop(update: Update, context: BotContext) -> None:
    """Ask whether to stop lessons keeping the data, or stop and delete it."""
    user_id = _user_id(update)
    if user_id is None:
        return
    if await _service(context).status(user_id) is None:
        await reply(update, not_enrolled_screen())
        return
    await reply(update, stop_confirm_screen())


async def restart(update: Update, context: BotContext) -> None:
    """Ask whether to go through the course again from lesson 1."""
    user_id = _user_id(update)
    if user_id is None:
        return
    enrolment = await _service(context).status(user_id)
    if enrolment is None or enrolment.state == SETUP:
        state = enrolment.state if enrolment is not None else None
        await _refused(update, context, user_id, WrongState(state), reply)
        return
    await reply(update, restart_confirm_screen())


async def course_button(update: Update, context: BotContext) -> None:
    """A course button: today, next, status, pause, resume, stop (keep/delete), restart."""
    await _quiet(update)
    query = update.callback_query
    callback = decode(query.data if query is not None else None)
    user_id = _user_id(update)
    if callback is None or not callback.args or user_id is None:
        return
    action, rest = callback.args[0], callback.args[1:]
    handler = _COURSE_ACTIONS.get((action, len(rest)))
    if handler is not None:
        await handler(update, context, user_id, rest)


async def _course_today(update: Update, context: BotContext, user_id: int, _: object) -> None:
    await today(update, context)


async def _course_next(update: Update, context: BotContext, user_id: int, _: object) -> None:
    await next_lesson(update, context)


async def _course_review(update: Update, context: BotContext, user_id: int, _: object) -> None:
    """The course's end offers reviews: the next question due, as a new message."""
    question = await context.services.learning.next_review(user_id)
    lesson = context.services.content.lesson(question.lesson_id) if question else None
    if question is None or lesson is None:
        await reply(update, nothing_to_review_screen())
        return
    await reply(update, review_question_screen(lesson, question.number, question.of))


async def _course_status(update: Update, context: BotContext, user_id: int, _: object) -> None:
    await show(update, _state_screen(context, await _service(context).status(user_id)))


async def _course_pause(
    update: Update, context: BotContext, user_id: int, rest: tuple[str, ...]
) -> None:
    enrolment = await _service(context).status(user_id)
    if enrolment is None or enrolment.state not in (ACTIVE, PAUSED):
        state = enrolment.state if enrolment is not None else None
        await _refused(update, context, user_id, WrongState(state), show)
        return
    if not rest:
        await show(update, pause_menu_screen())
        return
    if not _PAUSE_DAYS.match(rest[0]) or not 1 <= int(rest[0]) <= 366:
        return
    today_there = local_date(context.services.clock.now(), enrolment.schedule.timezone)
    await _pause_until(update, context, user_id, today_there + timedelta(days=int(rest[0])), show)


async def _course_resume(update: Update, context: BotContext, user_id: int, _: object) -> None:
    await _resume(update, context, user_id, show)


async def _course_stop(
    update: Update, context: BotContext, user_id: int, rest: tuple[str, ...]
) -> None:
    service = _service(context)
    if not rest:
        if await service.status(user_id) is None:
            await show(update, not_enrolled_screen())
        else:
            await show(update, stop_confirm_screen())
        return
    choice = rest
    if choice == ("delete",):
        await show(update, delete_confirm_screen())
        return
    if choice not in (("keep",), ("delete", "yes")):
        return
    try:
        await service.stop(user_id)
    except WrongState:
        await show(update, not_enrolled_screen())
        return
    if choice == ("keep",):
        await show(update, stopped_screen())
        return
    report = await context.services.privacy.forget(user_id)
    erased = (
        forget_done_screen(report.erased, report.kept)
        if report is not None
        else forget_nothing_screen()
    )
    await show(update, deleted_screen(erased))


async def _course_restart(
    update: Update, context: BotContext, user_id: int, rest: tuple[str, ...]
) -> None:
    service = _service(context)
    if not rest:
        enrolment = await service.status(user_id)
        if enrolment is None or enrolment.state == SETUP:
            state = enrolment.state if enrolment is not None else None
            await _refused(update, context, user_id, WrongState(state), show)
        else:
            await show(update, restart_confirm_screen())
        return
    if rest != ("yes",):
        return
    try:
        restarted = await service.restart(user_id)
    except WrongState as refused:
        await _refused(update, context, user_id, refused, show)
        return
    await show(update, restarted_screen(restarted, context.services.clock.now()))


CourseAction = Callable[[Update, BotContext, int, tuple[str, ...]], Awaitable[None]]
_COURSE_ACTIONS: dict[tuple[str, int], CourseAction] = {
    ("today", 0): _course_today,
    ("next", 0): _course_next,
    ("status", 0): _course_status,
    ("review", 0): _course_review,
    ("pause", 0): _course_pause,
    ("pause", 1): _course_pause,
    ("resume", 0): _course_resume,
    ("stop", 0): _course_stop,
    ("stop", 1): _course_stop,
    ("stop", 2): _course_stop,
    ("restart", 0): _course_restart,
    ("restart", 1): _course_restart,
}


# --- registration --------------------------------------------------------------------------------


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Onboarding and subscription handlers (private chats only; the course is personal)."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("start", start, filters=private),
        CommandHandler("settings", settings, filters=private),
        CommandHandler("pause", pause, filters=private),
        CommandHandler("resume", resume, filters=private),
        CommandHandler("stop", stop, filters=private),
        CommandHandler("restart", restart, filters=private),
        CommandHandler("today", today, filters=private),
        CommandHandler("next", next_lesson, filters=private),
        CallbackQueryHandler(onboard_button, pattern=f"^{ONBOARD}(:|$)"),
        CallbackQueryHandler(settings_button, pattern=f"^{SETTINGS}(:|$)"),
        CallbackQueryHandler(course_button, pattern=f"^{COURSE}(:|$)"),
    ]


PAUSE_JOB_NAME = "end-due-pauses"


def start_jobs(job_queue: JobQueue[Any] | None, enrolment: EnrolmentService, every: float) -> None:
    """Register the repeating job that switches lessons back on when a pause's date comes."""
    if job_queue is None:
        return

    async def end_pauses(context: Any) -> None:
        del context
        try:
            await enrolment.end_due_pauses()
        except Exception:
            log.exception("ending due pauses failed; the next run will try again")

    job_queue.run_repeating(
        end_pauses,
        interval=every,
        first=1.0,
        name=PAUSE_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
