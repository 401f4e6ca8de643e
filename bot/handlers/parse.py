"""Reading an update: who sent it, in which chat, what they typed, which button they pressed.

The handler modules share these instead of each keeping a private copy. Each returns an empty
value (None or "") when the update lacks the part asked for, so a verb checks once and returns.
"""

from __future__ import annotations

import re

from telegram import Update

from bot.views.callbacks import Callback, decode

_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)")


def user_id(update: Update) -> int | None:
    """The sender's Telegram id."""
    user = update.effective_user
    return user.id if user is not None else None


def chat_id(update: Update) -> int | None:
    """The id of the chat the update came from."""
    chat = update.effective_chat
    return chat.id if chat is not None else None


def message_text(update: Update) -> str:
    """The message's text as sent."""
    message = update.effective_message
    return (message.text or "") if message is not None else ""


def command(update: Update) -> str:
    """The command a message starts with, lower case, without the slash or @botname."""
    message = update.effective_message
    match = _COMMAND.match(message.text or "") if message is not None else None
    return match.group(1).lower() if match else ""


def argument(update: Update) -> str:
    """Everything after the command in a message, as typed (outer whitespace stripped)."""
    message = update.effective_message
    parts = (message.text or "").split(maxsplit=1) if message is not None else []
    return parts[1].strip() if len(parts) > 1 else ""


def one_line_argument(update: Update) -> str:
    """Everything after the command's first space, its whitespace collapsed to one line."""
    return " ".join(message_text(update).partition(" ")[2].split())


def pressed(update: Update) -> Callback | None:
    """The pressed button's decoded callback data; None when malformed or not a button press."""
    query = update.callback_query
    return decode(query.data if query is not None else None)


async def quiet(update: Update) -> None:
    """Answer a button press with nothing (stops the client's spinner)."""
    if update.callback_query is not None:
        await update.callback_query.answer()
