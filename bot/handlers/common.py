"""Always-available verbs: /help, /support, unknown input, and the one error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.handlers import parse
from bot.render import reply, show
from bot.results.roles import NONE
from bot.services.updates import AlreadyHandled
from bot.views.callbacks import HELP_PAGE, SEP, SUPPORT, SUPPORT_DISCLOSURE, decode
from bot.views.commands import COMMANDS, Command, menu
from bot.views.common import (
    HELP_ALL,
    all_commands_screen,
    apology_screen,
    help_screen,
    private_command_screen,
    unknown_command_screen,
    unsupported_message_screen,
)
from bot.views.learning import reflection_still_open_screen
from bot.views.lookup import disclosure_screen, support_screen

log = logging.getLogger(__name__)

COMMAND_NAMES = frozenset(command.name for command in COMMANDS)


async def help_command(update: Update, context: BotContext) -> None:
    """The commands people need, on one phone screen, with buttons for the rest."""
    await reply(update, help_screen(await _menu(update, context)))


async def help_page(update: Update, context: BotContext) -> None:
    """/help's buttons: every command, or back to the short help."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    callback = decode(query.data)
    commands = await _menu(update, context)
    if callback is not None and callback.args == (HELP_ALL,):
        await show(update, all_commands_screen(commands))
    else:
        await show(update, help_screen(commands))


async def _menu(update: Update, context: BotContext) -> tuple[Command, ...]:
    """The person's commands: a learner's outside their private chat (a group learns nothing
    about anyone's role) and when the role cannot be read (help always works)."""
    user_id, chat = parse.user_id(update), update.effective_chat
    if user_id is None or chat is None or chat.type != "private":
        return menu(NONE)
    try:
        return menu(await context.services.leads.role(user_id))
    except Exception as exc:
        log.warning("role unreadable for help: %s", type(exc).__name__)
        return menu(NONE)


async def support(update: Update, context: BotContext) -> None:
    """Show grounding and support contacts; needs only the content, so works if the DB is down."""
    await reply(update, support_screen(context.services.content.support))


async def support_button(update: Update, context: BotContext) -> None:
    """The support screen's buttons: itself, or "responding to a disclosure" (content only)."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    callback = decode(query.data)
    support_text = context.services.content.support
    if callback is not None and callback.args == (SUPPORT_DISCLOSURE,):
        await reply(update, disclosure_screen(support_text))
    else:
        await reply(update, support_screen(support_text))


async def unknown_command(update: Update, context: BotContext) -> None:
    """Point a mistyped command at /help; a known one that does not work here, at the private
    chat; a command addressed to another bot (`/start@OtherBot`) is not ours to answer."""
    message = update.effective_message
    words = message.text.split() if message is not None and message.text else []
    name, _, addressee = (words[0][1:] if words else "").partition("@")
    username = context.bot.username
    if addressee and addressee.lower() != username.lower():
        return
    private = update.effective_chat is not None and update.effective_chat.type == "private"
    if name.lower() in COMMAND_NAMES and not private:
        await reply(update, private_command_screen(name.lower(), username))
        return
    await reply(update, unknown_command_screen())


async def unsupported_message(update: Update, context: BotContext) -> None:
    """Explain kindly that only text can be read; with a reflection prompt open, say that it is
    still open (the photo was not kept) rather than offering a search."""
    user_id = parse.user_id(update)
    lesson_id: str | None = None
    if user_id is not None:
        try:
            lesson_id = await context.services.learning.open_reflection(user_id)
        except Exception as exc:  # this answer needs no database; the plain one will do
            log.warning("could not read an open reflection: %s", type(exc).__name__)
    if lesson_id is not None:
        await reply(update, reflection_still_open_screen(lesson_id or None))
        return
    await reply(update, unsupported_message_screen())


async def stale_button(update: Update, context: BotContext) -> None:
    """A button nobody recognises (forged, or from a removed feature): answer it quietly."""
    await parse.quiet(update)


async def error_handler(update: object, context: BotContext) -> None:
    """Log the failure without personal content, apologise to the person once, stop handling.

    Stopping skips the guard's finishing step, so the update id is not recorded as handled
    (unless something the update changed recorded it with the change).
    """
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if not isinstance(update, Update):
        log.error(
            "error outside an update: %s",
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__) if error else None,
        )
        return
    lost_race = await context.services.updates.lost_race(error)
    context.services.updates.abandon()
    if isinstance(error, AlreadyHandled) or lost_race:  # another copy of it got there first
        log.info("update %s was handled by another copy; this one changed nothing", update_id)
        raise ApplicationHandlerStop
    log.error(
        "update %s failed: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if update.effective_chat is not None:
        try:
            await reply(update, apology_screen())
        except Exception as exc:  # the apology itself failed (e.g. Telegram down)
            log.warning("could not send apology for update %s: %s", update_id, type(exc).__name__)
    raise ApplicationHandlerStop


def first_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Handlers that take precedence over everything (support is never blocked)."""
    return [
        CommandHandler("support", support),
        CallbackQueryHandler(support_button, pattern=f"^{SUPPORT}(?:{SEP}|$)"),
        CommandHandler("help", help_command),
        CallbackQueryHandler(help_page, pattern=f"^{HELP_PAGE}(?:{SEP}|$)"),
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
