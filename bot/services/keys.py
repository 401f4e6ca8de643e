"""Master-key operations: verify the key at start-up (fail closed) and rotate it.

Rotation re-wraps every learner's data key under the new master key; reflections themselves are
untouched (they are encrypted under the data keys). Afterwards the old key can be removed.
"""

from __future__ import annotations

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.crypto import KEY_ID_BYTES, DecryptionError, Keyring, MasterKeyError, key_version
from bot.db.models import Learner

BATCH = 500
# The leading bytes of a wrapped data key that name its master key: format version and key id.
VERSION_BYTES = 1 + KEY_ID_BYTES


class KeyService:
    """Checks and rotates the master key protecting learners' data keys."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: Keyring) -> None:
        self._sessions = sessions
        self._keyring = keyring

    async def verify(self) -> None:
        """Unwrap one data key of every master-key version in use; MasterKeyError if one fails.

        After an interrupted rotation some data keys are under the new master key and the rest
        under the previous one, so checking one arbitrary row is not enough: each version
        present must be one this keyring holds, or the bot would start and then fail for some
        learners. The error names the version (a fingerprint), never a key.
        """
        version = func.substr(
            Learner.wrapped_data_key, literal_column("1"), literal_column(str(VERSION_BYTES))
        )
        async with self._sessions.begin() as session:
            groups = (
                await session.execute(
                    select(func.min(Learner.id), func.count())
                    .where(Learner.wrapped_data_key.is_not(None))
                    .group_by(version)
                )
            ).all()
            samples = dict(
                (
                    await session.execute(
                        select(Learner.id, Learner.wrapped_data_key).where(
                            Learner.id.in_([first for first, _ in groups])
                        )
                    )
                )
                .tuples()
                .all()
            )
        for first, count in groups:
            wrapped = samples.get(first)
            if wrapped is None:  # erased between the two queries
                continue
            if not self._keyring.knows(wrapped):
                raise MasterKeyError(
                    "the encryption key does not match master key"
                    f" {key_version(wrapped)}, which protects {count} learner(s)' data keys:"
                    " neither ENCRYPTION_KEY nor ENCRYPTION_PREVIOUS_KEY is that key (an"
                    " unfinished rotation? set ENCRYPTION_PREVIOUS_KEY to that key and run"
                    " `python -m bot keys rotate`)"
                )
            try:
                self._keyring.unwrap(wrapped, first)
            except DecryptionError as exc:
                raise MasterKeyError(
                    f"a data key wrapped by master key {key_version(wrapped)} does not open"
                    " with it (the stored keys may be damaged)"
                ) from exc

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
