"""Turn a view's Screen into Telegram calls: the one place views meet the telegram library.

Used by the handlers (replies) and the scheduler (`keyboard`, for lessons and nudges alike).

A reply Telegram refuses for a passing reason is sent again, a few times at most, but only when
it certainly did not arrive: after a 429 (once `retry_after` has passed), a 5xx answer (Telegram
answered with an error, so nothing was sent) or a connection that never opened. A timeout, or a
connection that broke once the request was written, may have delivered it: never resent (a
person would rather ask again than read everything twice). Replies are paced per chat
(`ChatPacer`), so the bot's own bursts never provoke a 429.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.incoming import IncomingBot
from bot.telegram_http import NOT_SENT_CAUSES
from bot.views.screen import Button, Screen

log = logging.getLogger(__name__)

REPLY_ATTEMPTS = 3
MAX_RETRY_AFTER = 30.0  # seconds; a longer wait is not worth keeping the person waiting
_BACKOFF = 0.5  # seconds before the second attempt, doubled before the third
T = TypeVar("T")
# 400 descriptions that mean the chat is gone for good, or was never opened (treated like 403).
UNREACHABLE = ("chat not found", "peer_id_invalid", "user not found", "bot was blocked")


def unreachable(error: BadRequest) -> bool:
    """True when Telegram says the chat cannot be reached: blocked, gone, or never opened."""
    text = error.message.lower()
    return any(marker in text for marker in UNREACHABLE)


def certainly_not_sent(error: TelegramError) -> bool:
    """True for a failure that proves the message was not delivered, so resending is safe."""
    if isinstance(error, BadRequest):
        return False
    if isinstance(error, (NetworkError, TimedOut)) and isinstance(error.__cause__, NOT_SENT_CAUSES):
        return True
    # No cause: Telegram answered with an HTTP error status (5xx); a timeout may have arrived.
    answered = isinstance(error, NetworkError) and not isinstance(error, TimedOut)
    return answered and error.__cause__ is None


async def _with_retries(chat_id: int, update: Update, call: Callable[[], Awaitable[T]]) -> T:
    """Pace the chat, make the call, and retry what certainly did not arrive (capped)."""
    try:
        bot = update.get_bot()
    except RuntimeError:  # an update built without a bot (only in tests)
        bot = None
    pacer = bot.reply_pacer if isinstance(bot, IncomingBot) else None
    for attempt in range(1, REPLY_ATTEMPTS + 1):
        if pacer is not None:
            await pacer.wait(chat_id)
        try:
            return await call()
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            if attempt == REPLY_ATTEMPTS or seconds > MAX_RETRY_AFTER:
                raise
            log.warning("reply: Telegram asked to wait %.0f s (attempt %d)", seconds, attempt)
            await asyncio.sleep(seconds)
        except TelegramError as exc:
            if attempt == REPLY_ATTEMPTS or not certainly_not_sent(exc):
                raise
            log.warning("reply not sent (%s); trying again (attempt %d)", exc.message, attempt)
            await asyncio.sleep(_BACKOFF * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # the loop returns or raises


async def reply(update: Update, screen: Screen) -> Message | None:
    """Send the screen to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await _with_retries(
        chat.id,
        update,
        lambda: chat.send_message(
            screen.text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(screen),
            disable_web_page_preview=True,
        ),
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
    message = query.message
    try:
        await _with_retries(
            message.chat.id,
            update,
            lambda: message.edit_text(
                screen.text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(screen),
                disable_web_page_preview=True,
            ),
        )
    except BadRequest as exc:
        # Pressing the same button twice edits to identical content: nothing to do.
        if "not modified" not in exc.message:
            await reply(update, screen)


def keyboard(screen: Screen) -> InlineKeyboardMarkup | None:
    """The screen's buttons as an inline keyboard (None when it has none)."""
    if not screen.buttons:
        return None
    return InlineKeyboardMarkup([[_button(b) for b in row] for row in screen.buttons])


def _button(button: Button) -> InlineKeyboardButton:
    if button.url is not None:
        return InlineKeyboardButton(button.text, url=button.url)
    if button.switch_inline_query is not None:
        return InlineKeyboardButton(button.text, switch_inline_query=button.switch_inline_query)
    return InlineKeyboardButton(button.text, callback_data=button.data)


async def describe_bot(bot: Bot, description: str, short_description: str) -> None:
    """Set the bot's description and short description where they differ from what Telegram has
    (asked first: changing them on every restart is needless and rate limited). A refusal is
    logged, never fatal: the bot works without them."""
    try:
        if (await bot.get_my_description()).description != description:
            await bot.set_my_description(description)
        if (await bot.get_my_short_description()).short_description != short_description:
            await bot.set_my_short_description(short_description)
    except TelegramError as exc:
        log.warning("could not set the bot's description (%s)", exc.message)
