"""Onboarding and the subscription lifecycle: thin verbs over EnrolmentService.

Commands: /start (welcome and consent, or where you are), /pause, /resume, /stop, /restart,
/today, /next. Buttons: ONBOARD and COURSE callbacks. A button from an old message acts on the
learner's current state, or says why it no longer applies; malformed callback data is answered
with nothing. The schedule's settings are `bot.handlers.settings`.

A `/start` payload that is a team invite goes to the cohort handlers; any other payload is
ignored. Payloads are never logged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.core.schedule import local_date
from bot.core.states import ConfidencePhase, SubscriptionState
from bot.core.timeparse import PauseError, parse_pause
from bot.handlers import confidence, parse
from bot.handlers.cohorts import is_invite, open_invite
from bot.handlers.lookup import open_search
from bot.handlers.menus import LEAD_ROLE_TABLE, refresh_menu
from bot.render import reply, show
from bot.results.enrolment import Enrolment
from bot.services.enrolment import EnrolmentService, WrongState
from bot.views.callbacks import COURSE, ONBOARD
from bot.views.learning import review_question_screen
from bot.views.lesson import lesson_screen
from bot.views.lookup import SEARCH_PAYLOAD
from bot.views.onboarding import (
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
    restart_confirm_screen,
    restarted_screen,
    resumed_screen,
    state_note,
    status_screen,
    stop_confirm_screen,
    stopped_screen,
    welcome_screen,
)
from bot.views.privacy import forget_done_screen, forget_nothing_screen
from bot.views.screen import Screen
from bot.views.settings import (
    setup_screen,
    started_screen,
)

Show = Callable[[Update, Screen], Awaitable[object]]
_PAUSE_DAYS = re.compile(r"^\d{1,3}$")


def _service(context: BotContext) -> EnrolmentService:
    return context.services.enrolment


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


def state_screen(
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
    user_id = parse.user_id(update)
    if user_id is None:
        return
    # A deep-link payload: a team invite, or unknown and ignored (never logged either way).
    if context.args and is_invite(context.args[0]):
        await open_invite(update, context, context.args[0])  # a team invite
        return
    if context.args and context.args[0] == SEARCH_PAYLOAD:
        await open_search(update, context)  # from inline mode's "nothing found" button
        return
    if context.services.leads.is_admin(user_id):
        # Their menu could not be set at start-up if this is their first chat with the bot.
        await refresh_menu(context, user_id)
    service = _service(context)
    enrolment = await service.status(user_id)
    if enrolment is None:
        await reply(update, welcome_screen(context.services.content))
        return
    if enrolment.state == SubscriptionState.INACTIVE:
        # Telegram had refused delivery; a /start shows they are back: lessons on, no backlog.
        enrolment = await service.resume(user_id)
        now = context.services.clock.now()
        await reply(update, resumed_screen(enrolment, context.services.content, now))
        return
    await reply(update, state_screen(context, enrolment))


async def onboard_button(update: Update, context: BotContext) -> None:
    """Consent (I agree / No thanks) and the first start (lesson now or at the chosen time)."""
    await parse.quiet(update)
    callback = parse.pressed(update)
    user_id = parse.user_id(update)
    chat = update.effective_chat
    if callback is None or len(callback.args) != 1 or user_id is None or chat is None:
        return
    service = _service(context)
    now = context.services.clock.now()
    action = callback.args[0]
    if action == "yes":
        enrolment = await service.consent(user_id, chat.id)
        if enrolment.state == SubscriptionState.SETUP:
            await show(update, setup_screen(enrolment, now))
        else:
            await show(update, state_screen(context, enrolment, "You're signed up already."))
    elif action in ("no", "welcome"):
        existing = await service.status(user_id)
        if existing is not None:
            note = "You're signed up already. /stop or /forget if you'd like to leave."
            await show(update, state_screen(context, existing, note))
        elif action == "no":
            await show(update, declined_screen())
        else:
            await show(update, welcome_screen(context.services.content))
    elif action in ("now", "later"):
        await _start_lessons(update, context, lesson_now=action == "now")


async def _start_lessons(update: Update, context: BotContext, *, lesson_now: bool) -> None:
    user_id = parse.user_id(update)
    if user_id is None:
        return
    now = context.services.clock.now()
    try:
        result = await _service(context).start(user_id, lesson_now=lesson_now)
    except WrongState as refused:
        existing = await _service(context).status(user_id)
        note = "You've already started." if refused.state is not None else None
        await show(update, state_screen(context, existing, note))
        return
    await show(update, started_screen(result.enrolment, now, lesson_now=lesson_now))
    # The self-assessment is offered before the first lesson, as its own message that never
    # holds the lesson back: a "before" figure is only one before any lesson, and an invitation
    # the learner can pass over is gentler than a gate in front of the course.
    await confidence.offer(update, context, ConfidencePhase.START)
    if result.lesson_id is not None:
        await _show_lesson(update, context, result.lesson_id)
    elif result.enrolment.state == SubscriptionState.FINISHED:
        await reply(update, finished_screen(context.services.content))


# --- today's lesson, the next one now ------------------------------------------------------------


async def today(update: Update, context: BotContext) -> None:
    """Send the latest lesson again (also how a delivery that may not have arrived is served)."""
    user_id = parse.user_id(update)
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
    user_id = parse.user_id(update)
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
    await respond(update, state_screen(context, enrolment, note))


# --- pause, resume, stop, restart ----------------------------------------------------------------


async def pause(update: Update, context: BotContext) -> None:
    """Pause lessons for a while: /pause 3d, /pause 2w, /pause until 4 January."""
    user_id = parse.user_id(update)
    if user_id is None:
        return
    typed = " ".join(context.args or [])
    enrolment = await _service(context).status(user_id)
    if enrolment is None or enrolment.state not in (
        SubscriptionState.ACTIVE,
        SubscriptionState.PAUSED,
    ):
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
    user_id = parse.user_id(update)
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
    user_id = parse.user_id(update)
    if user_id is None:
        return
    if await _service(context).status(user_id) is None:
        await reply(update, not_enrolled_screen())
        return
    await reply(update, stop_confirm_screen())


async def restart(update: Update, context: BotContext) -> None:
    """Ask whether to go through the course again from lesson 1."""
    user_id = parse.user_id(update)
    if user_id is None:
        return
    enrolment = await _service(context).status(user_id)
    if enrolment is None or enrolment.state == SubscriptionState.SETUP:
        state = enrolment.state if enrolment is not None else None
        await _refused(update, context, user_id, WrongState(state), reply)
        return
    await reply(update, restart_confirm_screen())


async def course_button(update: Update, context: BotContext) -> None:
    """A course button: today, next, status, pause, resume, stop (keep/delete), restart."""
    await parse.quiet(update)
    callback = parse.pressed(update)
    user_id = parse.user_id(update)
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
    await show(update, state_screen(context, await _service(context).status(user_id)))


async def _course_pause(
    update: Update, context: BotContext, user_id: int, rest: tuple[str, ...]
) -> None:
    enrolment = await _service(context).status(user_id)
    if enrolment is None or enrolment.state not in (
        SubscriptionState.ACTIVE,
        SubscriptionState.PAUSED,
    ):
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
    if report is not None and report.erased.get(LEAD_ROLE_TABLE):
        await refresh_menu(context, user_id)


async def _course_restart(
    update: Update, context: BotContext, user_id: int, rest: tuple[str, ...]
) -> None:
    service = _service(context)
    if not rest:
        enrolment = await service.status(user_id)
        if enrolment is None or enrolment.state == SubscriptionState.SETUP:
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
        CommandHandler("pause", pause, filters=private),
        CommandHandler("resume", resume, filters=private),
        CommandHandler("stop", stop, filters=private),
        CommandHandler("restart", restart, filters=private),
        CommandHandler("today", today, filters=private),
        CommandHandler("next", next_lesson, filters=private),
        CallbackQueryHandler(onboard_button, pattern=f"^{ONBOARD}(:|$)"),
        CallbackQueryHandler(course_button, pattern=f"^{COURSE}(:|$)"),
    ]
