"""Pure views: domain objects in, (HTML text, buttons) out. Shared by handlers and the scheduler.

Views never import telegram; handlers turn a Screen's buttons into an InlineKeyboardMarkup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.commands import Command

MAX_MESSAGE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Button:
    """One inline button: a text label and exactly one of callback data, URL or inline query."""

    text: str
    data: str | None = None
    url: str | None = None
    switch_inline_query: str | None = None


@dataclass(frozen=True, slots=True)
class Screen:
    """A message to send: HTML text and rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)


def escape(text: str) -> str:
    """Escape user-supplied text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def help_screen(commands: Mapping[str, Sequence[Command]]) -> Screen:
    """One screen explaining every command, grouped by section."""
    lines = ["<b>How this bot works</b>", ""]
    for section, items in commands.items():
        lines.append(f"<b>{escape(section)}</b>")
        lines.extend(f"/{c.name} - {escape(c.description)}" for c in items)
        lines.append("")
    lines.append("You can also type a few words, such as <i>stage 2</i>, to look something up.")
    return Screen("\n".join(lines).strip())


def apology_screen() -> Screen:
    """What a person sees when something went wrong on our side."""
    return Screen(
        "Sorry, something went wrong on our side and that did not work. "
        "Nothing you sent is lost; please try again in a moment. /support is always available."
    )


def unknown_command_screen() -> Screen:
    """Reply to a command the bot does not know."""
    return Screen("I don't know that command. /help lists everything I can do.")


def unsupported_message_screen() -> Screen:
    """Reply to a sticker, photo, voice note or other message the bot cannot read."""
    return Screen(
        "I can only read text messages. Type a few words to look something up, or see /help."
    )
