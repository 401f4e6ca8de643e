"""Pure views: domain objects in, (HTML text, buttons) out. Shared by handlers and the scheduler.

Views never import telegram; handlers turn a Screen's buttons into an InlineKeyboardMarkup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
