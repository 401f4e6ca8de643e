"""Turn a view's Screen into Telegram calls: the one place views meet the telegram library."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.render import keyboard
from bot.views import Screen

__all__ = ["keyboard", "reply", "show"]  # keyboard lives in bot.render (the scheduler uses it)


async def reply(update: Update, screen: Screen) -> Message | None:
    """Send the screen to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(
        screen.text,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(screen),
        disable_web_page_preview=True,
    )


async def show(update: Update, screen: Screen) -> None:
    """Answer a button press by editing its message in place (or replying when that fails)."""
    query = update.callback_query
    if query is None or query.message is None or not isinstance(query.message, Message):
        await reply(update, screen)
        return
    if query.message.text is None:  # a photo or file: Telegram refuses a text edit of it
        await reply(update, screen)
        return
    try:
        await query.message.edit_text(
            screen.text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(screen),
            disable_web_page_preview=True,
        )
    except BadRequest as exc:
        # Pressing the same button twice edits to identical content: nothing to do.
        if "not modified" not in exc.message:
            await reply(update, screen)
