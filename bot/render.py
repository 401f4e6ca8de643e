"""Screen -> Telegram markup, for every process that sends screens (the bot and the scheduler).

Handlers send screens through `bot.handlers.render`; the delivery-only worker has no handlers,
so what both need lives here, below them.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.views import Button, Screen


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
