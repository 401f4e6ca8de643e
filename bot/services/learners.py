"""Learner identity and conversation state: who someone is, and what their next text means.

A service: each public method is one transaction; it returns plain dataclasses, never ORM rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.db.engine import DATABASE_UNAVAILABLE, reading
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


async def learner_by_telegram_id(
    session: AsyncSession, telegram_user_id: int, *, lock: bool = False
) -> Learner | None:
    """Repository query: the learner row for a Telegram user, if any; `lock` holds it for the
    rest of the transaction, so another process's transaction for the same person waits and then
    reads what this one wrote (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises every writer)."""
    stmt = select(Learner).where(Learner.telegram_user_id == telegram_user_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    learner: Learner | None = await session.scalar(stmt)
    return learner


async def learner_row(
    session: AsyncSession, telegram_user_id: int, chat_id: int, now: datetime
) -> Learner:
    """Repository query: the learner row for a Telegram user, made bare if there is none, and
    locked for the rest of the transaction.

    Insert-or-nothing, then a locking read: two first presses handled at once by two processes
    (a double press on "I agree" or "Join") meet at the unique Telegram id instead of one failing
    on it, and the second waits for the first's transaction, then sees what it made.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(Learner)
        .values(telegram_user_id=telegram_user_id, chat_id=chat_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["telegram_user_id"])
    )
    return (
        await session.scalars(
            select(Learner)
            .where(Learner.telegram_user_id == telegram_user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()


class LearnerService:
    """Reads and updates a learner's identity and pending conversation step."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def find(self, telegram_user_id: int) -> LearnerInfo | None:
        """The learner for this Telegram user, or None if they never consented."""
        async with reading(self._sessions) as session:
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
            async with reading(self._sessions) as session:
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
