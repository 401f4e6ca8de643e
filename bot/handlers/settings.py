"""Schedule settings: thin verbs over EnrolmentService for the lesson time, timezone, days,
reflection time, reminders, the shift pattern (fixed days, a rota, ask each week) and quiet hours.

A rota is chosen in steps (its cycle, its first day, a lesson time per kind of day); the steps so
far travel in the buttons' callback data and in the pending typed answer as a `RotaDraft`, so
nothing is stored until the last step.

Command: /settings. Buttons: the SETTINGS callbacks (open a menu, or apply the value a button
carries). Typed answers on a menu (a time, a timezone, days) arrive through the free-text router
as the "sched" flow (TEXT_FLOWS). A button from an old message acts on the learner's current
state; malformed callback data is answered with nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import time
from typing import Protocol

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.core.pattern import Pattern, PatternKind, fixed_days, parse_rota, rota, weekly
from bot.core.schedule import EVERY_DAY, format_days, local_date, parse_days
from bot.core.timeparse import format_time, from_time_code, match_timezone, parse_day
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
    RotaDraft,
    days_menu_screen,
    days_retry_screen,
    pattern_menu_screen,
    pattern_refused_screen,
    pattern_text,
    pick_days_screen,
    quiet_menu_screen,
    quiet_text,
    reflection_menu_screen,
    rota_needs_a_lesson_screen,
    rota_start_screen,
    rota_time_screen,
    settings_closed_screen,
    settings_screen,
    time_menu_screen,
    zone_menu_screen,
    zone_suggestions_screen,
)

_DAYS_CODE = re.compile(r"^\d{1,3}$")
_QUIET_CODE = re.compile(r"^(\d{4})-(\d{4})$")
_QUIET_TYPED = re.compile(r"\s*(?:-|–|—|\bto\b|\buntil\b|\btill\b)\s*", re.IGNORECASE)
_NO_LESSON = frozenset({"no lesson", "no", "none", "no lessons", "skip", "-"})
_DEFAULT = frozenset({"default", "reset", "the default", "back to default"})


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
        "pat": lambda: pattern_menu_screen(enrolment),
        "quiet": lambda: quiet_menu_screen(enrolment),
    }
    await show(update, screens[field]())


_MENUS = frozenset({"time", "zone", "days", "refl", "pat", "quiet"})


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
    service = _service(context)
    try:
        enrolment = await service.set_time(user_id, at)
    except ScheduleError as refused:  # inside the learner's own quiet hours
        current = await _require(service, user_id)
        await context.services.learners.set_pending_action(user_id, pending(SCHEDULE_FLOW, "time"))
        await respond(update, time_menu_screen(current, refused=str(refused)))
        return
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


# --- the shift pattern ---------------------------------------------------------------------------


async def _set_pattern_kind(update: Update, context: BotContext, user_id: int, value: str) -> None:
    if value in ("days", "weekly"):
        await _apply_kind(update, context, user_id, value, show)


async def _apply_kind(
    update: Update, context: BotContext, user_id: int, kind: str, respond: Show
) -> None:
    """Fixed days or ask each week, keeping the learner's days and lesson time."""
    current = await _require(_service(context), user_id)
    schedule = current.schedule
    make = weekly if kind == "weekly" else fixed_days
    await _apply_pattern(
        update, context, user_id, make(schedule.days, schedule.delivery_time), respond
    )


async def _apply_pattern(
    update: Update, context: BotContext, user_id: int, pattern: Pattern, respond: Show
) -> None:
    service = _service(context)
    try:
        enrolment = await service.set_pattern(user_id, pattern)
    except ScheduleError as refused:
        current = await _require(service, user_id)
        await context.services.learners.set_pending_action(user_id, pending(SCHEDULE_FLOW, "pat"))
        await respond(update, pattern_refused_screen(current, str(refused)))
        return
    chosen = enrolment.schedule.pattern
    note = f"Your pattern is now {pattern_text(chosen)}."
    if chosen.kind == PatternKind.WEEKLY:
        note += " Each Sunday I'll ask which days suit the coming week; until then, these stand."
    await _changed(update, context, enrolment, note, respond)


async def _set_rota(update: Update, context: BotContext, user_id: int, value: str) -> None:
    draft = RotaDraft.read(value)
    if draft is not None:
        await _rota_step(update, context, user_id, draft, show)


async def _rota_step(
    update: Update, context: BotContext, user_id: int, draft: RotaDraft, respond: Show
) -> None:
    """Ask for what the rota still needs (its first day, a time per kind of day), or keep it."""
    shift = draft.next_shift()
    if draft.start is not None and shift is None:
        try:
            chosen = rota(draft.cycle, draft.start, **draft.lesson_times())
        except ValueError:  # no lesson on any kind of day
            draft = draft.without_times()
            await _await_rota(context, user_id, draft)
            await respond(update, rota_needs_a_lesson_screen(draft))
            return
        await _apply_pattern(update, context, user_id, chosen, respond)
        return
    enrolment = await _require(_service(context), user_id)
    await _await_rota(context, user_id, draft)
    if draft.start is None:
        today = local_date(context.services.clock.now(), enrolment.schedule.timezone)
        await respond(update, rota_start_screen(draft, today))
    elif shift is not None:
        await respond(update, rota_time_screen(draft, shift))


async def _await_rota(context: BotContext, user_id: int, draft: RotaDraft) -> None:
    """The next typed text answers this step of the rota."""
    step = pending(SCHEDULE_FLOW, f"rota.{draft.code()}")
    await context.services.learners.set_pending_action(user_id, step)


# --- quiet hours ---------------------------------------------------------------------------------


async def _set_quiet(update: Update, context: BotContext, user_id: int, value: str) -> None:
    if value == "default":
        await _apply_quiet(update, context, user_id, None, None, show)
        return
    match = _QUIET_CODE.match(value)
    start = from_time_code(match[1]) if match else None
    end = from_time_code(match[2]) if match else None
    if start is not None and end is not None:
        await _apply_quiet(update, context, user_id, start, end, show)


async def _apply_quiet(
    update: Update,
    context: BotContext,
    user_id: int,
    start: time | None,
    end: time | None,
    respond: Show,
) -> None:
    service = _service(context)
    try:
        enrolment = await service.set_quiet_hours(user_id, start, end)
    except ScheduleError as refused:
        current = await _require(service, user_id)
        await context.services.learners.set_pending_action(user_id, pending(SCHEDULE_FLOW, "quiet"))
        await respond(update, quiet_menu_screen(current, refused=str(refused)))
        return
    note = f"Quiet hours: {quiet_text(enrolment.schedule.pattern)}."
    await _changed(update, context, enrolment, note, respond)


Setter = Callable[[Update, BotContext, int, str], Awaitable[None]]
_SETTERS: dict[str, Setter] = {
    "time": _set_time,
    "zone": _set_zone,
    "days": _set_days,
    "refl": _set_reflection,
    "rem": _set_reminders,
    "pat": _set_pattern_kind,
    "rota": _set_rota,
    "quiet": _set_quiet,
}


async def schedule_text(update: Update, context: BotContext, field: str) -> None:
    """A typed answer on a schedule screen: a time, a timezone, days or a reflection time."""
    user_id = parse.user_id(update)
    if user_id is None:
        return
    typed = parse.message_text(update).strip()
    name, _, draft = field.partition(".")  # a rota's steps so far ride along: "rota.DDOO..."
    step = _TYPED.get(name)
    try:
        if step is not None:
            await step(update, context, user_id, typed, draft)
        else:  # an unknown step (from an older version): forget it, show where they are
            enrolment = await _service(context).close_settings(user_id)
            await reply(update, state_screen(context, enrolment))
    except WrongState:
        await context.services.learners.set_pending_action(user_id, None)
        await reply(update, not_enrolled_screen())


async def _typed_time(
    update: Update, context: BotContext, user_id: int, typed: str, _draft: str
) -> None:
    at = read_time(typed)
    if at is None:
        current = await _require(_service(context), user_id)
        await reply(update, time_menu_screen(current, retry=typed))
        return
    await _apply_time(update, context, user_id, at, reply)


async def _typed_zone(
    update: Update, context: BotContext, user_id: int, typed: str, _draft: str
) -> None:
    match = match_timezone(typed)
    if match.zone is None:
        now = context.services.clock.now()
        await reply(update, zone_suggestions_screen(typed, match.suggestions, now))
        return
    enrolment = await _service(context).set_timezone(user_id, match.zone)
    await _changed(update, context, enrolment, f"Timezone set to {match.zone}.", reply)


async def _typed_days(
    update: Update, context: BotContext, user_id: int, typed: str, _draft: str
) -> None:
    try:
        days = parse_days(typed)
    except ValueError:
        current = await _require(_service(context), user_id)
        await reply(update, days_retry_screen(typed, current))
        return
    enrolment = await _service(context).set_days(user_id, days)
    await _changed(update, context, enrolment, f"Lessons will come {format_days(days)}.", reply)


async def _typed_reflection(
    update: Update, context: BotContext, user_id: int, typed: str, _draft: str
) -> None:
    at = read_time(typed)
    if at is None:
        current = await _require(_service(context), user_id)
        await reply(update, reflection_menu_screen(current, retry=typed))
        return
    await _apply_reflection(update, context, user_id, at, typed, reply)


async def _typed_pattern(
    update: Update, context: BotContext, user_id: int, typed: str, _draft: str
) -> None:
    words = " ".join(typed.lower().split())
    if words in ("fixed", "fixed days"):
        await _apply_kind(update, context, user_id, "days", reply)
        return
    if words in ("weekly", "each week", "ask me each week", "ask each week"):
        await _apply_kind(update, context, user_id, "weekly", reply)
        return
    try:
        cycle = parse_rota(typed)
    except ValueError:
        current = await _require(_service(context), user_id)
        await reply(update, pattern_menu_screen(current, retry=typed))
        return
    await _rota_step(update, context, user_id, RotaDraft(cycle), reply)


async def _typed_rota(
    update: Update, context: BotContext, user_id: int, typed: str, draft_code: str
) -> None:
    draft = RotaDraft.read(draft_code)
    if draft is None:  # garbled: start the pattern again
        current = await _require(_service(context), user_id)
        await context.services.learners.set_pending_action(user_id, pending(SCHEDULE_FLOW, "pat"))
        await reply(update, pattern_menu_screen(current))
        return
    if draft.start is None:
        enrolment = await _require(_service(context), user_id)
        today = local_date(context.services.clock.now(), enrolment.schedule.timezone)
        day = parse_day(typed, today)
        if day is None:
            await reply(update, rota_start_screen(draft, today, retry=typed))
            return
        await _rota_step(update, context, user_id, RotaDraft(draft.cycle, day), reply)
        return
    shift = draft.next_shift()
    if shift is None:  # nothing left to ask: keep it
        await _rota_step(update, context, user_id, draft, reply)
        return
    words = " ".join(typed.lower().split())
    at = None if words in _NO_LESSON or words.startswith("no lesson") else read_time(typed)
    if at is None and not (words in _NO_LESSON or words.startswith("no lesson")):
        await reply(update, rota_time_screen(draft, shift, retry=typed))
        return
    await _rota_step(update, context, user_id, draft.with_time(shift, at), reply)


async def _typed_quiet(
    update: Update, context: BotContext, user_id: int, typed: str, _draft: str
) -> None:
    if " ".join(typed.lower().split()) in _DEFAULT:
        await _apply_quiet(update, context, user_id, None, None, reply)
        return
    parts = _QUIET_TYPED.split(typed.strip(), maxsplit=1)
    times = [read_time(part) for part in parts] if len(parts) == 2 else []
    start, end = (times[0], times[1]) if len(times) == 2 else (None, None)
    if start is None or end is None:
        current = await _require(_service(context), user_id)
        await reply(update, quiet_menu_screen(current, retry=typed))
        return
    await _apply_quiet(update, context, user_id, start, end, reply)


class TypedStep(Protocol):
    """A typed answer on a menu; `draft` is what the menu carried (a rota's steps so far)."""

    async def __call__(
        self, update: Update, context: BotContext, user_id: int, typed: str, draft: str, /
    ) -> None: ...


# A typed answer, by the menu it answers (the buttons' values go through _SETTERS).
_TYPED: dict[str, TypedStep] = {
    "time": _typed_time,
    "zone": _typed_zone,
    "days": _typed_days,
    "refl": _typed_reflection,
    "pat": _typed_pattern,
    "rota": _typed_rota,
    "quiet": _typed_quiet,
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
