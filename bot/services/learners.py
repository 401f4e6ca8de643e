"""Learner identity and conversation state: who someone is, and what their next text means.

A service: each public method is one transaction; it returns plain dataclasses, never ORM rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.db.engine import DATABASE_UNAVAILABLE
from bot.db.models import Learner, Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LearnerInfo:
    """What handlers may know about a learner."""

    id: int
    telegram_user_id: int
    chat_id: int
    consented: bool
    pending_action: str | None
    subscription_state: str | None


async def learner_by_telegram_id(session: AsyncSession, telegram_user_id: int) -> Learner | None:
    """Repository query: the learner row for a Telegram user, if any."""
    learner: Learner | None = await session.scalar(
        select(Learner).where(Learner.telegram_user_id == telegram_user_id)
    )
    return learner


class LearnerService:
    """Reads and updates a learner's identity and pending conversation step."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def find(self, telegram_user_id: int) -> LearnerInfo | None:
        """The learner for this Telegram user, or None if they never consented."""
        async with self._sessions.begin() as session:
            row = await session.execute(
                select(Learner, Subscription.state)
                .outerjoin(Subscription, Subscription.learner_id == Learner.id)
                .where(Learner.telegram_user_id == telegram_user_id)
            )
            found = row.first()
            if found is None:
                return None
            learner, state = found
            return LearnerInfo(
                id=learner.id,
                telegram_user_id=learner.telegram_user_id,
                chat_id=learner.chat_id,
                consented=learner.consented_at is not None,
                pending_action=learner.pending_action,
                subscription_state=state,
            )

    async def pending_action(self, telegram_user_id: int) -> str | None:
        """What the learner's next free text means (None: it is a search).

        None too while the database is unreachable, so searching keeps working (it needs only
        the content); a step that needs the database could not be saved anyway.
        """
        try:
            async with self._sessions.begin() as session:
                return await session.scalar(
                    select(Learner.pending_action).where(
                        Learner.telegram_user_id == telegram_user_id
                    )
                )
        except DATABASE_UNAVAILABLE as exc:
            log.warning(
                "pending step unavailable (%s); treating text as a search", type(exc).__name__
            )
            return None

    async def set_pending_action(self, telegram_user_id: int, action: str | None) -> None:
        """Set or clear (None) the meaning of the learner's next free text."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Learner)
                .where(Learner.telegram_user_id == telegram_user_id)
                .values(pending_action=action, last_active_at=self._clock.now())
            )
