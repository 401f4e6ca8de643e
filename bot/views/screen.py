"""What every view returns: a Screen (HTML text and rows of Buttons), and the Telegram text rules.

Views never import telegram; `bot.render` turns a Screen into Telegram calls.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


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


@dataclass(frozen=True, slots=True)
class InlineCard:
    """A card offered in inline mode: result id, title and description, and the text sent."""

    id: str
    title: str
    description: str
    text: str
