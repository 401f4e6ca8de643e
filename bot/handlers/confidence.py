"""Confidence before and after (issue 16): thin verbs over ConfidenceService and ReportService.

The learner's side: the invitation (`offer`, called when lessons begin and after the last lesson;
the six-week one comes through the outbox), the CONFIDENCE buttons (Begin, a rating, Prefer not
to say, Not now / Stop here) and /confidence (their own answers). Each rating replaces the
statement on screen with the next, so a double press changes nothing: the same answer is stored
once and the screen shows the next statement still to rate.

The admin's side: /report sends the programme report as a CSV and an XLSX document; anyone else
gets the neutral "not available".
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.core.states import ConfidencePhase
from bot.handlers import parse
from bot.render import reply, show
from bot.results.confidence import PREFER_NOT, RATINGS
from bot.results.roles import NotAvailable
from bot.views.callbacks import CONFIDENCE
from bot.views.cohorts import not_available_screen
from bot.views.confidence import (
    invitation_screen,
    my_confidence_screen,
    not_enrolled_screen,
    not_now_screen,
    question_screen,
    thanks_screen,
)
from bot.views.report import report_caption, report_csv, report_filename, report_xlsx

_PHASES = {phase.value: phase for phase in ConfidencePhase}
# A button's rating as sent (digits only, never int() of whatever came): None is prefer not to say.
_RATINGS: dict[str, int | None] = {str(PREFER_NOT): None, **{str(r): r for r in RATINGS}}


async def offer(update: Update, context: BotContext, phase: ConfidencePhase) -> None:
    """Invite the learner to rate the statements, unless they already have for this phase."""
    user = parse.user_id(update)
    if user is not None and await context.services.confidence.should_offer(user, phase):
        await reply(update, invitation_screen(phase))


async def button(update: Update, context: BotContext) -> None:
    """Begin, a rating, Prefer not to say, Not now / Stop here."""
    await parse.quiet(update)
    callback = parse.pressed(update)
    user = parse.user_id(update)
    assessment = context.services.content.confidence
    if callback is None or user is None or assessment is None or len(callback.args) < 2:
        return
    phase = _PHASES.get(callback.args[0])
    if phase is None:
        return
    service = context.services.confidence
    rest = callback.args[1:]
    if rest == ("no",):
        await show(update, not_now_screen(await service.step(user, phase)))
        return
    if rest == ("go",):
        step = await service.step(user, phase)
    elif len(rest) == 2 and rest[1] in _RATINGS:
        rating = _RATINGS[rest[1]]
        try:
            step = await service.answer(user, phase, rest[0], rating)
        except ValueError:
            return  # a forged or outdated statement: nothing to do
    else:
        return
    if not step.recorded:
        await show(update, not_enrolled_screen())
    elif step.next_statement is None:
        await show(update, thanks_screen(step, assessment))
    else:
        statement = assessment.statement(step.next_statement)
        if statement is not None:
            await show(update, question_screen(phase, assessment, statement))


async def my_confidence(update: Update, context: BotContext) -> None:
    """/confidence: the learner's own answers at the start, the end and six weeks later."""
    user = parse.user_id(update)
    assessment = context.services.content.confidence
    if user is None or assessment is None:
        return
    mine = await context.services.confidence.mine(user)
    if mine is None:
        await reply(update, not_enrolled_screen())
        return
    await reply(update, my_confidence_screen(mine, assessment))


async def programme_report(update: Update, context: BotContext) -> None:
    """/report (admins): the programme report as a CSV and an XLSX with a readme sheet."""
    user = parse.user_id(update)
    chat = parse.chat_id(update)
    if user is None or chat is None:
        return
    try:
        report = await context.services.reports.programme(user)
    except NotAvailable:
        await reply(update, not_available_screen())
        return
    caption = report_caption(report).text
    workbook = await asyncio.to_thread(report_xlsx, report)
    await context.bot.send_document(
        chat, report_csv(report), filename=report_filename(report.made_at, "csv")
    )
    await context.bot.send_document(
        chat,
        workbook,
        filename=report_filename(report.made_at, "xlsx"),
        caption=caption,
        parse_mode=ParseMode.HTML,
    )


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """The self-assessment's buttons, /confidence and the admin's /report (private chats)."""
    private = filters.ChatType.PRIVATE
    return [
        CallbackQueryHandler(button, pattern=f"^{CONFIDENCE}:"),
        CommandHandler("confidence", my_confidence, filters=private),
        CommandHandler("report", programme_report, filters=private),
    ]
