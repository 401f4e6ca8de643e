"""The guard runs before every feature and after them all: floods and redelivered updates stop
here, and a handled update's id is recorded at the end (unless what it changed recorded it)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot import metrics
from bot.context import BotContext
from bot.core.flood import Verdict
from bot.incoming import is_support
from bot.render import reply
from bot.views.common import slow_down_screen

GUARD_GROUP = -1
FINISH_GROUP = 1_000  # after every feature's group


async def guard(update: Update, context: BotContext) -> None:
    """Ignore a flooding person (in memory, first) or a redelivered update (by its id)."""
    services = context.services
    user = update.effective_user
    if user is not None:
        verdict = await services.flood.verdict(
            update.update_id, user.id, support=is_support(update)
        )
        if verdict is Verdict.TELL:  # once per spell over the limit
            metrics.flood_limited()
            if update.effective_chat is not None:
                await reply(update, slow_down_screen())
        if verdict is not Verdict.HANDLE:
            raise ApplicationHandlerStop
    if not await services.updates.begin(update.update_id):
        raise ApplicationHandlerStop


async def finish(update: Update, context: BotContext) -> None:
    """Every handler succeeded: remember the update id (the error handler skips this step)."""
    await context.services.updates.finish()


def handlers() -> list[tuple[BaseHandler[Update, BotContext, None], int]]:
    """The guard and the finishing step, with the groups they run in (around the features')."""
    return [(TypeHandler(Update, guard), GUARD_GROUP), (TypeHandler(Update, finish), FINISH_GROUP)]
