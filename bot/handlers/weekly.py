""" "Ask me each week": the buttons of Sunday's question about the coming week.

Buttons: WEEK_TOGGLE switches one day and saves the week at once (EnrolmentService.answer_week),
so the lessons follow each tap; WEEK_DONE closes the question. The message itself comes through
the outbox (`DeliveryKind.WEEK_PROMPT`, drawn by `scheduler.render`). Personal buttons: honoured
only in the owner's private chat (`bot.handlers.private`).
"""

from __future__ import annotations

from datetime import date, datetime

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.context import BotContext
from bot.core.pattern import week_answer
from bot.handlers import parse
from bot.render import show
from bot.services.enrolment import ScheduleError, WrongState
from bot.views.callbacks import WEEK_DONE, WEEK_TOGGLE
from bot.views.weekly import week_chosen_screen, week_not_weekly_screen, week_prompt_screen


def _monday(code: str) -> date | None:
    try:
        day = datetime.strptime(code, "%Y%m%d").date()
    except ValueError:
        return None
    return day if day.weekday() == 0 else None


def _days(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 <= int(text) <= 0b1111111 else None


async def week_button(update: Update, context: BotContext) -> None:
    """A day switched on or off (saved at once), or Done."""
    user, callback = parse.user_id(update), parse.pressed(update)
    await parse.quiet(update)
    if user is None or callback is None or not callback.args:
        return
    monday = _monday(callback.args[0])
    shown = _days(callback.args[1]) if len(callback.args) > 1 else None
    if monday is None or shown is None:
        return
    days = shown
    if callback.action == WEEK_TOGGLE:
        day = _days(callback.args[2]) if len(callback.args) == 3 else None
        if day is None or day > 6:
            return
        days = shown ^ (1 << day)
    try:
        enrolment = await context.services.enrolment.answer_week(user, monday, days)
    except WrongState:
        await show(update, week_not_weekly_screen())
        return
    except ScheduleError:
        return
    chosen = week_answer(enrolment.schedule.pattern, monday)
    if callback.action == WEEK_DONE:
        await show(update, week_chosen_screen(monday, chosen))
    else:
        await show(update, week_prompt_screen(monday, chosen))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """The week's toggles and Done."""
    return [CallbackQueryHandler(week_button, pattern=f"^(?:{WEEK_TOGGLE}|{WEEK_DONE}):")]
