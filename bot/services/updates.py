"""Update hygiene: a redelivered update is recognised (by id, in the database) and ignored.

Telegram redelivers an update when the bot stopped (or crashed) before confirming it; handling it
twice could record an answer twice or save a reflection twice. So the id is recorded *with the
effect*: the first transaction that changes anything while an update is handled also inserts its
id, atomically, and an update that changed nothing is recorded once it has been handled. Hence:

- handling failed before changing anything: nothing recorded, a redelivery is handled afresh;
- it crashed after its change was committed: the id went with the change, so a redelivery is
  recognised and the change is not made twice;
- two copies handled at the same moment (two processes): the second one's insert of the id
  conflicts, so its transaction is rolled back (`AlreadyHandled`) and it changes nothing.

Most updates cost the database nothing here. Telegram numbers updates in increasing order, so an
update above the highest id recorded when this process first looked (`_floor`) cannot have been
handled by an earlier process, and one this process has begun is remembered in memory: only an
update at or below the floor (a redelivery after a restart) is looked up. The ids of updates that
changed nothing are written in one insert at most once a second (`flush`; also at shutdown): a
crash loses at most that second's, and such an update, redelivered, is answered again but changes
nothing.

The guard calls `begin` when an update arrives and `finish` after the handlers succeeded; the
error handler calls `abandon`, so a redelivery of an update that failed is handled afresh.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from bot.core.clock import Clock, Interval
from bot.db.engine import DATABASE_UNAVAILABLE
from bot.db.models import ProcessedUpdate

log = logging.getLogger(__name__)

__all__ = ["DATABASE_UNAVAILABLE", "AlreadyHandled", "UpdateLog"]


class AlreadyHandled(Exception):
    """Another copy of this update recorded its id first; this copy's change is rolled back."""


@dataclass(slots=True)
class _Handling:
    update_id: int
    recorded: bool = False


_REMEMBERED = 100_000  # ids begun in this process, kept in memory (about 10 MB at most)

# The update the current task is handling (each update runs in its own asyncio context).
_handling: ContextVar[_Handling | None] = ContextVar("update_being_handled", default=None)


class UpdateLog:
    """Remembers which update ids were handled, recording each with its effect."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        flush_every: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._floor: int | None = None  # ids above it were recorded by no earlier process
        self._begun: dict[int, None] = {}  # ids begun in this process (insertion-ordered)
        self._unwritten: list[tuple[int, datetime]] = []  # handled, changed nothing, not written
        self._flushing = Interval(flush_every)
        # Every session the services open gets the hooks (a subclass of this factory's own).
        base: type[Session] = sessions.kw.get("sync_session_class") or Session
        recording = type("RecordingSession", (base,), {})
        event.listen(recording, "do_orm_execute", _note_write)
        event.listen(recording, "before_flush", _note_flush)
        event.listen(recording, "before_commit", self._record_with_effect)
        event.listen(recording, "after_commit", _mark_recorded)
        event.listen(recording, "after_rollback", _forget_writes)
        sessions.configure(sync_session_class=recording)

    async def begin(self, update_id: int) -> bool:
        """Start handling an update; False when it was already handled (a redelivery).

        Fails open: if the database is unreachable the update is handled (support must work).
        """
        _handling.set(None)
        if update_id in self._begun:
            return False
        self._begun[update_id] = None  # before any await: a second copy now waits for nothing
        if len(self._begun) > _REMEMBERED:
            del self._begun[next(iter(self._begun))]
        try:
            if self._floor is None:
                self._floor = await self.latest()
            if update_id <= self._floor and await self._recorded(update_id):
                return False
        except DATABASE_UNAVAILABLE as exc:
            log.warning("update log unavailable (%s); handling update anyway", type(exc).__name__)
        _handling.set(_Handling(update_id))
        return True

    async def finish(self) -> None:
        """The update was handled: its id is written (soon) if nothing it changed recorded it."""
        handling = _handling.get()
        _handling.set(None)
        if handling is None or handling.recorded:
            return
        self._unwritten.append((handling.update_id, self._clock.now()))
        if self._flushing.due():
            await self.flush()

    async def flush(self) -> None:
        """Write the ids of the handled updates that changed nothing, in one insert."""
        unwritten, self._unwritten = self._unwritten, []
        self._flushing.restart()
        if not unwritten:
            return
        try:
            async with self._sessions.begin() as session:
                await session.execute(_insert(session, unwritten))
        except DATABASE_UNAVAILABLE as exc:
            log.warning("%d update ids not recorded (%s)", len(unwritten), type(exc).__name__)

    async def lost_race(self, error: BaseException | None) -> bool:
        """True when handling failed on a unique constraint because another copy of this update
        (in another process, at the same moment) made the same change first and recorded the
        update with it: this copy changed nothing, and nothing is wrong."""
        handling = _handling.get()
        if not isinstance(error, IntegrityError) or handling is None or handling.recorded:
            return False
        try:
            return await self._recorded(handling.update_id)
        except DATABASE_UNAVAILABLE:
            return False

    def abandon(self) -> None:
        """Handling failed: forget the update (whatever it committed has recorded its id)."""
        handling = _handling.get()
        _handling.set(None)
        if handling is not None and not handling.recorded:
            self._begun.pop(handling.update_id, None)

    async def _recorded(self, update_id: int) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id == update_id)
            )
        return found is not None

    async def latest(self) -> int:
        """The highest update id recorded (0 when none): a fake server numbers after it."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.max(ProcessedUpdate.update_id))) or 0)

    async def prune(self, older_than: timedelta) -> int:
        """Forget update ids older than the given age (Telegram keeps updates for 24 hours)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.seen_at < self._clock.now() - older_than
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _record_with_effect(self, session: Session) -> None:
        """before_commit: a transaction that changed something also records the update id."""
        handling = _handling.get()
        if handling is None or handling.recorded:
            return
        changed = session.info.get("wrote") or session.new or session.dirty or session.deleted
        if not changed:
            return
        result = session.execute(_insert(session, [(handling.update_id, self._clock.now())]))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise AlreadyHandled(handling.update_id)
        session.info["recorded"] = handling


def _insert(session: Session | AsyncSession, ids: list[tuple[int, datetime]]) -> Any:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return (
        insert(ProcessedUpdate)
        .values([{"update_id": update_id, "seen_at": seen_at} for update_id, seen_at in ids])
        .on_conflict_do_nothing(index_elements=["update_id"])
    )


def _note_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


def _note_flush(session: Session, _context: object, _instances: object) -> None:
    # An autoflush (a query after `session.add`) empties `session.new` before the commit: the
    # change must still record the update with it.
    if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
        session.info["wrote"] = True


def _forget_writes(session: Session) -> None:
    session.info.pop("recorded", None)
    session.info.pop("wrote", None)


def _mark_recorded(session: Session) -> None:
    handling: _Handling | None = session.info.pop("recorded", None)
    session.info.pop("wrote", None)
    if handling is not None:
        handling.recorded = True
