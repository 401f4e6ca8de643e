"""Master-key operations: verify the key at start-up (fail closed) and rotate it.

Rotation re-wraps every learner's data key under the new master key; reflections themselves are
untouched (they are encrypted under the data keys). Afterwards the old key can be removed.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto import Keyring
from bot.models import Learner

BATCH = 500


class KeyService:
    """Checks and rotates the master key protecting learners' data keys."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: Keyring) -> None:
        self._sessions = sessions
        self._keyring = keyring

    async def verify(self) -> None:
        """Unwrap one stored data key; raises MasterKeyError when the key does not match."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(Learner.id, Learner.wrapped_data_key)
                    .where(Learner.wrapped_data_key.is_not(None))
                    .limit(1)
                )
            ).first()
        if row is not None and row.wrapped_data_key is not None:
            self._keyring.unwrap(row.wrapped_data_key, row.id)

    async def rotate(self) -> int:
        """Re-wrap every data key not yet under the current master key; returns how many."""
        rotated = 0
        last_id = 0
        while True:
            async with self._sessions.begin() as session:
                rows = (
                    await session.execute(
                        select(Learner.id, Learner.wrapped_data_key)
                        .where(Learner.id > last_id, Learner.wrapped_data_key.is_not(None))
                        .order_by(Learner.id)
                        .limit(BATCH)
                    )
                ).all()
                if not rows:
                    return rotated
                for learner_id, wrapped in rows:
                    last_id = learner_id
                    if wrapped is not None and self._keyring.needs_rewrap(wrapped):
                        await session.execute(
                            update(Learner)
                            .where(Learner.id == learner_id)
                            .values(wrapped_data_key=self._keyring.rewrap(wrapped, learner_id))
                        )
                        rotated += 1
