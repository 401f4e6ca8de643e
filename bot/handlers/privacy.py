"""/privacy (what is stored and for how long), /mydata (everything stored about the learner, as a
JSON document) and /forget (erase it all)."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.handlers import parse
from bot.handlers.menus import LEAD_ROLE_TABLE, refresh_menu
from bot.render import reply, show
from bot.views.callbacks import FORGET_CONFIRM, FORGET_KEEP, SEP
from bot.views.privacy import (
    forget_confirm_screen,
    forget_done_screen,
    forget_expired_screen,
    forget_kept_screen,
    forget_nothing_screen,
    mydata_caption,
    mydata_nothing_screen,
    privacy_screen,
)

# A confirmation pressed later than this is not acted on (an old message tapped by accident).
CONFIRMATION_MINUTES = 60


def _minute(context: BotContext) -> int:
    return int(context.services.clock.now().timestamp() // 60)


async def privacy_policy(update: Update, context: BotContext) -> None:
    """/privacy: what is stored, who sees it, the retention in force, how to export or erase."""
    settings = context.services.settings
    await reply(
        update,
        privacy_screen(
            settings.reflection_retention_days, settings.inactive_learner_retention_days
        ),
    )


async def send_my_data(update: Update, context: BotContext) -> None:
    """/mydata: send everything stored about the learner as a JSON document."""
    user_id, chat = parse.user_id(update), update.effective_chat
    if user_id is None or chat is None:
        return
    export = await context.services.privacy.export(user_id)
    if export is None:
        await reply(update, mydata_nothing_screen())
        return
    await chat.send_document(
        document=export.data,
        filename=export.filename,
        caption=mydata_caption(export.taken_at),
    )


async def ask_to_forget(update: Update, context: BotContext) -> None:
    """/forget: say what would be erased and ask for an explicit yes."""
    user_id = parse.user_id(update)
    if user_id is None:
        return
    if not await context.services.privacy.holds_anything(user_id):
        await reply(update, forget_nothing_screen())
        return
    await reply(update, forget_confirm_screen(_minute(context)))


async def forget(update: Update, context: BotContext) -> None:
    """Yes, erase everything: crypto-shred and delete every row, then say what went."""
    query, user_id = update.callback_query, parse.user_id(update)
    if query is None or user_id is None:
        return
    callback = parse.pressed(update)
    raw = callback.args[0] if callback is not None and len(callback.args) == 1 else ""
    asked = int(raw) if raw.isdigit() else None
    age = _minute(context) - asked if asked is not None else -1
    if age < 0:  # malformed or from the future: forged
        await query.answer()
        return
    await query.answer()
    if age > CONFIRMATION_MINUTES:
        await show(update, forget_expired_screen())
        return
    report = await context.services.privacy.forget(user_id)
    if report is None:
        await show(update, forget_nothing_screen())
        return
    await show(update, forget_done_screen(report.erased, report.kept))
    if report.erased.get(LEAD_ROLE_TABLE):  # a lead's role went with their data: so does the menu
        await refresh_menu(context, user_id)


async def keep_data(update: Update, context: BotContext) -> None:
    """No, keep my data."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    await show(update, forget_kept_screen())


def _button(prefix: str) -> str:
    return f"^{re.escape(prefix)}(?:{re.escape(SEP)}|$)"


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """/privacy, /mydata, /forget and its confirmation buttons."""
    return [
        CommandHandler("privacy", privacy_policy),
        CommandHandler("mydata", send_my_data),
        CommandHandler("forget", ask_to_forget),
        CallbackQueryHandler(forget, pattern=_button(FORGET_CONFIRM)),
        CallbackQueryHandler(keep_data, pattern=_button(FORGET_KEEP)),
    ]
