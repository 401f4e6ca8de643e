"""/certificate: the learner's record of learning as a one-page PDF, then a CPD summary.

The options (titles of reflected lessons, a mastery line) are toggled with buttons and travel in
the callback data; the name is the Telegram first name, the name given to the team, or typed
(the CERTIFICATE flow). The name is used for the PDF and the summary only: never stored or
logged.
"""

from __future__ import annotations

import asyncio
import re

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.handlers import parse
from bot.handlers.lookup import search_text, show_safety
from bot.handlers.text import FlowStep, pending
from bot.render import reply, show
from bot.results.certificate import CertificateOptions, LearningRecord, NotFinished
from bot.services.cohorts.manage import clean_name
from bot.views.callbacks import CERT_MAKE, CERT_NAME, CERT_OPTIONS, SEP
from bot.views.certificate import (
    TEAM_NAME,
    TELEGRAM_NAME,
    TYPED_NAME,
    certificate_caption,
    certificate_filename,
    certificate_pdf,
    cpd_summary_screen,
    flags,
    name_problem_screen,
    name_prompt_screen,
    not_a_learner_screen,
    not_finished_screen,
    options_screen,
    parse_flags,
)
from bot.views.screen import Screen

CERTIFICATE_FLOW = "certificate"
MAX_NAME_CHARS = 64
# A typed name is awaited this long after "Type a different name"; later text is a search.
NAME_WINDOW_SECONDS = 30 * 60


def _first_name(update: Update) -> str:
    user = update.effective_user
    name, _ = clean_name(user.first_name if user is not None else "", MAX_NAME_CHARS)
    return name


def _refusal(result: NotFinished | None) -> Screen:
    return not_a_learner_screen() if result is None else not_finished_screen(result)


async def certificate(update: Update, context: BotContext) -> None:
    """/certificate: the choices, or how many lessons are left."""
    user = parse.user_id(update)
    if user is None:
        return
    result = await context.services.certificate.options(user)
    if not isinstance(result, CertificateOptions):
        await reply(update, _refusal(result))
        return
    await reply(update, options_screen(result, _first_name(update), False, False))


def _chosen(update: Update, arguments: int) -> tuple[tuple[bool, bool], tuple[str, ...]] | None:
    """The two choices and the other arguments of a pressed certificate button."""
    callback = parse.pressed(update)
    if callback is None or len(callback.args) != arguments:
        return None
    chosen = parse_flags(callback.args[0])
    return (chosen, callback.args[1:]) if chosen is not None else None


async def toggle(update: Update, context: BotContext) -> None:
    """Switch an optional part on or off, in place."""
    user, parsed = parse.user_id(update), _chosen(update, 1)
    await parse.quiet(update)
    if user is None or parsed is None:
        return
    result = await context.services.certificate.options(user)
    if not isinstance(result, CertificateOptions):
        await show(update, _refusal(result))
        return
    await show(update, options_screen(result, _first_name(update), *parsed[0]))


async def make(update: Update, context: BotContext) -> None:
    """Make the certificate for the Telegram first name or the name given to the team."""
    user, parsed = parse.user_id(update), _chosen(update, 2)
    await parse.quiet(update)
    if user is None or parsed is None or parsed[1][0] not in (TELEGRAM_NAME, TEAM_NAME):
        return
    (reflected, mastered), (source,) = parsed
    name = _first_name(update)
    if source == TEAM_NAME:
        options = await context.services.certificate.options(user)
        if not isinstance(options, CertificateOptions):
            await reply(update, _refusal(options))
            return
        name = options.team_name or ""
    if not name:
        await reply(update, name_prompt_screen())
        await _await_name(update, context, user, flags(reflected, mastered))
        return
    await _send(update, context, user, name, source, reflected=reflected, mastered=mastered)


async def ask_name(update: Update, context: BotContext) -> None:
    """ "Type a different name": the next text is the name."""
    user, parsed = parse.user_id(update), _chosen(update, 1)
    await parse.quiet(update)
    if user is None or parsed is None:
        return
    await _await_name(update, context, user, flags(*parsed[0]))
    await show(update, name_prompt_screen())


async def _await_name(update: Update, context: BotContext, user: int, chosen: str) -> None:
    stamp = int(context.services.clock.now().timestamp())
    await context.services.learners.set_pending_action(
        user, pending(CERTIFICATE_FLOW, f"{chosen}{SEP}{stamp}")
    )


async def typed_name(update: Update, context: BotContext, argument: str) -> None:
    """The text after "Type a different name" (the free-text router calls this)."""
    user, text = parse.user_id(update), parse.message_text(update)
    if user is None or not text:
        return
    chosen_text, _, stamp = argument.partition(SEP)
    chosen = parse_flags(chosen_text)
    now = context.services.clock.now().timestamp()
    if chosen is None or not stamp.isdigit() or now - int(stamp) > NAME_WINDOW_SECONDS:
        await context.services.learners.set_pending_action(user, None)
        await search_text(update, context)  # too long ago to be the name: a search after all
        return
    found = context.services.safety.check(text)
    if found is not None:  # safety first: no certificate from these words
        await context.services.learners.set_pending_action(user, None)
        await show_safety(update, context, found)
        return
    name, _ = clean_name(text, MAX_NAME_CHARS)
    if not name:
        await reply(update, name_problem_screen())
        return
    await context.services.learners.set_pending_action(user, None)
    await _send(update, context, user, name, TYPED_NAME, reflected=chosen[0], mastered=chosen[1])


async def _send(
    update: Update,
    context: BotContext,
    user: int,
    name: str,
    source: str,
    *,
    reflected: bool,
    mastered: bool,
) -> None:
    record = await context.services.certificate.record(user, reflected=reflected, mastered=mastered)
    chat = parse.chat_id(update)
    if not isinstance(record, LearningRecord) or chat is None:
        await reply(update, _refusal(record if isinstance(record, NotFinished) else None))
        return
    pdf = await asyncio.to_thread(certificate_pdf, record, name)
    await context.bot.send_document(
        chat,
        pdf,
        filename=certificate_filename(record.issued_on),
        caption=certificate_caption(name, source).text,
        parse_mode=ParseMode.HTML,
    )
    await reply(update, cpd_summary_screen(record, name))


TEXT_FLOWS: dict[str, FlowStep] = {CERTIFICATE_FLOW: typed_name}


def _button(prefix: str) -> str:
    return f"^{re.escape(prefix)}(?:{re.escape(SEP)}|$)"


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """/certificate and its buttons."""
    return [
        CommandHandler("certificate", certificate),
        CallbackQueryHandler(toggle, pattern=_button(CERT_OPTIONS)),
        CallbackQueryHandler(make, pattern=_button(CERT_MAKE)),
        CallbackQueryHandler(ask_name, pattern=_button(CERT_NAME)),
    ]
