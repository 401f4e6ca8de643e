"""The guard runs before every feature: redelivered updates and floods stop here."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot import views
from bot.context import BotContext
from bot.handlers.render import reply

GUARD_GROUP = -1


def _is_support(update: Update) -> bool:
    text = update.effective_message.text if update.effective_message else None
    words = text.split() if text else []  # whitespace-only text has no first word
    return bool(words) and words[0].split("@")[0] == "/support"


async def guard(update: Update, context: BotContext) -> None:
    """Ignore a redelivered update or a flooding person; /support always passes."""
    if _is_support(update):
        return
    services = context.services
    if not await services.updates.first_time(update.update_id):
        raise ApplicationHandlerStop
    user = update.effective_user
    if user is not None and not services.flood.allow(user.id):
        if services.flood.should_tell(user.id) and update.effective_chat is not None:
            await reply(update, views.slow_down_screen())
        raise ApplicationHandlerStop


def handlers() -> list[tuple[BaseHandler[Update, BotContext, None], int]]:
    """The guard and the group it runs in (before the features' group 0)."""
    return [(TypeHandler(Update, guard), GUARD_GROUP)]
