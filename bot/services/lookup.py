"""Workday lookups as a service: search over the content, and which cards are used most.

The search index is built once, when the service is built. Card views are counted per card and
nothing else (no person, no chat, no time), so "most used" in inline mode reveals nothing about
anyone. Counting is best effort: a lookup must work in the middle of a shift even when the
database does not, so a failed count is logged and dropped, and "most used" falls back to the
menus' own order.

This module never imports telegram.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.schema import MENUS, Card, Content, Lesson
from bot.content.search import CARD, Hit, SearchIndex, build_index
from bot.core.clock import Interval
from bot.db.engine import DATABASE_UNAVAILABLE
from bot.db.models import CardView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """What a search found: the best card (shown in full) and other matches (as buttons)."""

    best: Card | None
    others: list[Card | Lesson]


class Lookup:
    """Search and card-usage counts for the lookup commands, buttons and inline mode."""

    def __init__(
        self,
        content: Content,
        sessions: async_sessionmaker[AsyncSession],
        index: SearchIndex | None = None,
    ) -> None:
        self.content = content
        self.index = index if index is not None else build_index(content)
        self._sessions = sessions
        self._views: Counter[str] = Counter()  # counted, not yet written
        self._flushing = Interval(1.0)

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """Cards and lessons matching the query, best first (empty when nothing matches)."""
        return self.index.search(query, limit)

    def find(self, query: str, others: int) -> Found:
        """The best matching card and up to `others` more cards or lessons, best first."""
        items: list[Card | Lesson] = []
        for hit in self.index.search(query, limit=others + 2):
            item = self.content.card(hit.id) if hit.kind == CARD else self.content.lesson(hit.id)
            if item is not None:
                items.append(item)
        best = next((item for item in items if isinstance(item, Card)), None)
        return Found(best, [item for item in items if item is not best][:others])

    def search_cards(self, query: str, limit: int) -> list[Card]:
        """Only the cards matching the query, best first."""
        cards: list[Card] = []
        for hit in self.index.search(query, limit=len(self.index)):
            card = self.content.card(hit.id) if hit.kind == CARD else None
            if card is not None:
                cards.append(card)
            if len(cards) == limit:
                break
        return cards

    async def record_view(self, card_id: str) -> None:
        """Count one showing of a card: written with the others at most once a second and at
        shutdown (best effort: a database failure is logged, not raised)."""
        if self.content.card(card_id) is None:
            return
        self._views[card_id] += 1
        if self._flushing.due():
            await self.flush()

    async def flush(self) -> None:
        """Write the views counted since the last write: one upsert statement for them all."""
        views, self._views = self._views, Counter()
        self._flushing.restart()
        if not views:
            return
        try:
            async with self._sessions.begin() as session:
                await _increment(session, views)
        except DATABASE_UNAVAILABLE as exc:
            log.warning("could not count %d card views: %s", views.total(), type(exc).__name__)

    async def most_used(self, limit: int) -> list[Card]:
        """The most viewed cards, then the menus' overview cards and the rest to fill `limit`."""
        await self.flush()
        counted: list[str] = []
        try:
            async with self._sessions() as session:
                counted = await _most_viewed(session, limit)
        except DATABASE_UNAVAILABLE as exc:
            log.warning("could not read card views: %s", type(exc).__name__)
        ordered = [*counted, *self.default_order()]
        cards = [card for card in map(self.content.card, dict.fromkeys(ordered)) if card]
        return cards[:limit]

    def default_order(self) -> list[str]:
        """Every card id, menu by menu in the menus' own order (overview card first)."""
        ids = [card.id for menu in MENUS for card in self.content.cards_in_menu(menu)]
        return list(dict.fromkeys([*ids, *(card.id for card in self.content.cards)]))


# --- Repository: card_views (takes a session, never commits) --------------------------------------


async def _increment(session: AsyncSession, views: Counter[str]) -> None:
    """Add to each card's count, creating its row on first use: one atomic upsert, executed
    for every card in one round trip (in one order, so two processes cannot deadlock)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, CardView.__table__)
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.card_id], set_={"views": table.c.views + statement.excluded.views}
    )
    rows = [{"card_id": card_id, "views": count} for card_id, count in sorted(views.items())]
    await session.execute(statement, rows)


async def _most_viewed(session: AsyncSession, limit: int) -> list[str]:
    """Card ids by view count, most viewed first (ties by id, so the order is stable)."""
    rows = await session.scalars(
        select(CardView.card_id)
        .where(CardView.views > 0)
        .order_by(CardView.views.desc(), CardView.card_id)
        .limit(limit)
    )
    return list(rows)
