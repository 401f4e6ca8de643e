"""Update hygiene: redelivered updates are recognised (by id, in the database) and ignored.

Telegram redelivers an update when a webhook call failed or the bot crashed before confirming
it; handling it twice could record an answer twice or send a lesson twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.models import ProcessedUpdate

log = logging.getLogger(__name__)

# What an unreachable database raises: SQLAlchemy's errors, OSError (connection refused, timeouts)
# and asyncpg's own errors, which SQLAlchemy does not wrap while it opens a connection (e.g.
# CannotConnectNowError while PostgreSQL restarts).
DATABASE_UNAVAILABLE = (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class UpdateLog:
    """Remembers which update ids were handled."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def first_time(self, update_id: int) -> bool:
        """Record the update id; False when it was already handled.

        Fails open: if the database is unreachable the update is handled (support must work).
        """
        try:
            async with self._sessions.begin() as session:
                dialect = session.bind.dialect.name
                insert = pg_insert if dialect == "postgresql" else sqlite_insert
                result = await session.execute(
                    insert(ProcessedUpdate)
                    .values(update_id=update_id, seen_at=self._clock.now())
                    .on_conflict_do_nothing(index_elements=["update_id"])
                )
                return bool(result.rowcount)  # type: ignore[attr-defined]
        except DATABASE_UNAVAILABLE as exc:
            log.warning("update log unavailable (%s); handling update anyway", type(exc).__name__)
            return True

    async def prune(self, older_than: timedelta) -> int:
        """Forget update ids older than the given age (Telegram keeps updates for 24 hours)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.seen_at < self._clock.now() - older_than
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
