"""The free-text router: a learner's text continues a flow they started, or it is a search.

A flow (e.g. "reflect" after pressing Reflect) stores its name and argument as the learner's
pending action, `name:argument`; the next text message is handed to that flow's handler. Text
outside any flow goes to the search. Flows register by name in `build_router`.

Safety comes first even when the database is down: if the pending action cannot be read, the
text still gets the safety check (which needs no database) before the error handler apologises.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from telegram import Update
from telegram.ext import BaseHandler, MessageHandler, filters

from bot.context import BotContext

# A flow step: (update, context, the argument stored with the pending action).
FlowStep = Callable[[Update, BotContext, str], Awaitable[None]]
Fallback = Callable[[Update, BotContext], Awaitable[None]]
# Answers the text if the safety check matches it; True when it did.
SafetyFirst = Callable[[Update, BotContext], Awaitable[bool]]


def pending(name: str, argument: str = "") -> str:
    """The pending-action value that routes the learner's next text to flow `name`."""
    return f"{name}:{argument}"


def build_router(
    flows: Mapping[str, FlowStep], fallback: Fallback, safety_first: SafetyFirst
) -> BaseHandler[Update, BotContext, None]:
    """One handler for private, non-command text: continue the pending flow, else fall back."""

    async def route_text(update: Update, context: BotContext) -> None:
        """Send the text to the learner's pending flow, or to the fallback (search)."""
        user = update.effective_user
        try:
            action = (
                await context.services.learners.pending_action(user.id)
                if user is not None
                else None
            )
        except Exception:
            if await safety_first(update, context):
                return
            raise  # the error handler apologises
        if action:
            name, _, argument = action.partition(":")
            step = flows.get(name)
            if step is not None:
                await step(update, context, argument)
                return
        await fallback(update, context)

    return MessageHandler(
        filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
        route_text,
    )
