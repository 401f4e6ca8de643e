"""Always-available verbs: /help, /support, unknown input, and the one error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import views
from bot.callbacks import SEP, SUPPORT, SUPPORT_DISCLOSURE, decode
from bot.commands import sections
from bot.context import BotContext
from bot.handlers.render import reply

log = logging.getLogger(__name__)


async def help_command(update: Update, context: BotContext) -> None:
    """Explain every command on one screen."""
    await reply(update, views.help_screen(sections()))


async def support(update: Update, context: BotContext) -> None:
    """Show grounding and support contacts; needs only the content, so works if the DB is down."""
    await reply(update, views.support_screen(context.services.content.support))


async def support_button(update: Update, context: BotContext) -> None:
    """The support screen's buttons: itself, or "responding to a disclosure" (content only)."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    callback = decode(query.data)
    support_text = context.services.content.support
    if callback is not None and callback.args == (SUPPORT_DISCLOSURE,):
        await reply(update, views.disclosure_screen(support_text))
    else:
        await reply(update, views.support_screen(support_text))


async def unknown_command(update: Update, context: BotContext) -> None:
    """Point a mistyped command at /help."""
    await reply(update, views.unknown_command_screen())


async def unsupported_message(update: Update, context: BotContext) -> None:
    """Explain kindly that only text can be read."""
    await reply(update, views.unsupported_message_screen())


async def stale_button(update: Update, context: BotContext) -> None:
    """A button nobody recognises (forged, or from a removed feature): answer it quietly."""
    if update.callback_query is not None:
        await update.callback_query.answer()


async def error_handler(update: object, context: BotContext) -> None:
    """Log the failure without personal content and apologise to the person, once."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error(
        "update %s failed: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await reply(update, views.apology_screen())
        except Exception as exc:  # the apology itself failed (e.g. Telegram down)
            log.warning("could not send apology for update %s: %s", update_id, type(exc).__name__)


def first_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Handlers that take precedence over everything (support is never blocked)."""
    return [
        CommandHandler("support", support),
        CallbackQueryHandler(support_button, pattern=f"^{SUPPORT}(?:{SEP}|$)"),
        CommandHandler("help", help_command),
    ]


def fallback_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Handlers that catch whatever no feature handled; registered last."""
    return [
        CallbackQueryHandler(stale_button),
        MessageHandler(filters.COMMAND, unknown_command),
        MessageHandler(
            filters.ChatType.PRIVATE
            & ~filters.TEXT
            & ~filters.StatusUpdate.ALL
            & ~filters.UpdateType.EDITED,
            unsupported_message,
        ),
    ]
