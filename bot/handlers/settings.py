"""Schedule settings: thin verbs over EnrolmentService for the lesson time, timezone, days,
reflection time and reminders.

Command: /settings. Buttons: the SETTINGS callbacks (open a menu, or apply the value a button
carries). Typed answers on a menu (a time, a timezone, days) arrive through the free-text router
as the "sched" flow (TEXT_FLOWS). A button from an old message acts on the learner's current
state; malformed callback data is answered with nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import time

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.core.schedule import EVERY_DAY, format_days, parse_days
from bot.core.timeparse import format_time, from_time_code, match_timezone
from bot.core.timeparse import parse_time as read_time
from bot.handlers import parse
from bot.handlers.onboarding import Show, state_screen
from bot.handlers.text import FlowStep, pending
from bot.render import reply, show
from bot.results.enrolment import Enrolment
from bot.services.enrolment import SCHEDULE_FLOW, EnrolmentService, ScheduleError, WrongState
from bot.views.callbacks import SETTINGS
from bot.views.onboarding import not_enrolled_screen
from bot.views.settings import (
    days_menu_screen,
    days_retry_screen,
    pick_days_screen,
    reflection_menu_screen,
    settings_closed_screen,
    settings_screen,
    time_menu_screen,
    zone_menu_screen,
    zone_suggestions_screen,
)

_DAYS_CODE = re.compile(r"^\d{1,3}$")


def _service(context: BotContext) -> EnrolmentService:
    return context.services.enrolment


async def settings(update: Update, context: BotContext) -> None:
    """Show the schedule with a button for each thing that can change."""
    user_id = parse.user_id(update)
    if user_id is None:
        return
    enrolment = await _service(context).close_settings(user_id)
    if enrolment is None:
        await reply(update, not_enrolled_screen())
        return
    await reply(update, settings_screen(enrolment, context.services.clock.now()))


async def settings_button(update: Update, context: BotContext) -> None:
    """A settings button: open a menu, or apply the value it carries."""
    await parse.quiet(update)
    callback = parse.pressed(update)
    user_id = parse.user_id(update)
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
    user_id = parse.user_id(update)
    if user_id is None:
        return
    typed = parse.message_text(update).strip()
    step = _TYPED.get(field)
    try:
        if step is not None:
            await step(update, context, user_id, typed)
        else:  # an unknown step (from an older version): forget it, show where they are
            enrolment = await _service(context).close_settings(user_id)
            await reply(update, state_screen(context, enrolment))
    except WrongState:
        await context.services.learners.set_pending_action(user_id, None)
        await reply(update, not_enrolled_screen())


async def _typed_time(update: Update, context: BotContext, user_id: int, typed: str) -> None:
    at = read_time(typed)
    if at is None:
        current = await _require(_service(context), user_id)
        await reply(update, time_menu_screen(current, retry=typed))
        return
    await _apply_time(update, context, user_id, at, reply)


async def _typed_zone(update: Update, context: BotContext, user_id: int, typed: str) -> None:
    match = match_timezone(typed)
    if match.zone is None:
        now = context.services.clock.now()
        await reply(update, zone_suggestions_screen(typed, match.suggestions, now))
        return
    enrolment = await _service(context).set_timezone(user_id, match.zone)
    await _changed(update, context, enrolment, f"Timezone set to {match.zone}.", reply)


async def _typed_days(update: Update, context: BotContext, user_id: int, typed: str) -> None:
    try:
        days = parse_days(typed)
    except ValueError:
        current = await _require(_service(context), user_id)
        await reply(update, days_retry_screen(typed, current))
        return
    enrolment = await _service(context).set_days(user_id, days)
    await _changed(update, context, enrolment, f"Lessons will come {format_days(days)}.", reply)


async def _typed_reflection(update: Update, context: BotContext, user_id: int, typed: str) -> None:
    at = read_time(typed)
    if at is None:
        current = await _require(_service(context), user_id)
        await reply(update, reflection_menu_screen(current, retry=typed))
        return
    await _apply_reflection(update, context, user_id, at, typed, reply)


# A typed answer, by the menu it answers (the buttons' values go through _SETTERS).
_TYPED: dict[str, Setter] = {
    "time": _typed_time,
    "zone": _typed_zone,
    "days": _typed_days,
    "refl": _typed_reflection,
}


async def _require(service: EnrolmentService, user_id: int) -> Enrolment:
    enrolment = await service.status(user_id)
    if enrolment is None:
        raise WrongState(None)
    return enrolment


TEXT_FLOWS: dict[str, FlowStep] = {SCHEDULE_FLOW: schedule_text}


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """The settings command and buttons (private chats only; the schedule is personal)."""
    return [
        CommandHandler("settings", settings, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(settings_button, pattern=f"^{SETTINGS}(:|$)"),
    ]
