"""One renderer for every outbox kind: a leased item -> the message the sender sends.

Built by both composition roots (`bot.app` and `scheduler.worker`), so whichever process leases
a row can send it; a kind without a screen here would be failed by every process alike, and
`tests/test_render.py` renders each kind. Screens come from the views, markup from `bot.render`:
nothing here reaches into the handlers. This module never imports sqlalchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from telegram import InlineKeyboardMarkup

from bot.content.schema import Content
from bot.core.states import ConfidencePhase, DeliveryKind
from bot.render import keyboard
from bot.services.outbox.types import OutboxItem
from bot.views.cohorts import nudge_screen
from bot.views.confidence import invitation_screen
from bot.views.learning import with_uncertain_offer
from bot.views.lesson import (
    auto_paused_screen,
    lesson_reflect_screen,
    lesson_screen,
    reminder_screen,
)
from bot.views.screen import Screen
from bot.views.weekly import week_prompt_screen


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready for the Bot API: HTML text and an optional inline keyboard."""

    text: str
    reply_markup: InlineKeyboardMarkup | None

    @classmethod
    def of(cls, screen: Screen) -> Rendered:
        """A view's screen as a message."""
        return cls(screen.text, keyboard(screen))


Renderer = Callable[[OutboxItem], Rendered | None]


class OutboxRenderer:
    """Renders every outbox kind; each lesson's screens once (they are static), and once more
    for each lesson it carries an offer of (`OutboxItem.offer`)."""

    def __init__(self, content: Content) -> None:
        self._content = content
        # Kinds whose message does not depend on a lesson.
        self._fixed: dict[str, Rendered] = {
            DeliveryKind.PAUSE_NOTE: Rendered.of(auto_paused_screen()),
            DeliveryKind.NUDGE: Rendered.of(nudge_screen()),
            DeliveryKind.CONFIDENCE: Rendered.of(invitation_screen(ConfidencePhase.FOLLOW_UP)),
        }
        self._cache: dict[tuple[str, str, str | None], Rendered | None] = {}

    def __call__(self, item: OutboxItem) -> Rendered | None:
        """The message for an item; None for an unknown kind or a lesson no longer in the course."""
        if item.kind == DeliveryKind.WEEK_PROMPT:
            return _week_prompt(item)
        fixed = self._fixed.get(item.kind)
        if fixed is not None or item.lesson_id is None:
            return fixed
        key = (item.kind, item.lesson_id, item.offer)
        if key not in self._cache:
            self._cache[key] = self._render(item.kind, item.lesson_id, item.offer)
        return self._cache[key]

    def _render(self, kind: str, lesson_id: str, offer: str | None) -> Rendered | None:
        lesson = self._content.lesson(lesson_id)
        if lesson is None:
            return None
        offered = self._content.lesson(offer) if offer is not None else None
        if kind == DeliveryKind.LESSON:
            screen = lesson_screen(
                lesson,
                course_position=self._content.lesson_index(lesson_id) + 1,
                course_length=len(self._content.lessons),
            )
        elif kind == DeliveryKind.REFLECTION:
            screen = lesson_reflect_screen(lesson)
        elif kind == DeliveryKind.REMINDER:
            screen = reminder_screen(lesson)
        else:
            return None
        if offered is not None and kind == DeliveryKind.LESSON:
            screen = with_uncertain_offer(screen, offered)
        return Rendered.of(screen)


def _week_prompt(item: OutboxItem) -> Rendered | None:
    """Sunday's question about the coming week: the row's date is that Sunday and its
    `lesson_id` the days shown (a mask as text, see `DeliveryKind.WEEK_PROMPT`)."""
    shown = item.lesson_id or ""
    if not shown.isdigit() or not 0 <= int(shown) <= 0b1111111:
        return None
    return Rendered.of(week_prompt_screen(item.local_date + timedelta(days=1), int(shown)))
