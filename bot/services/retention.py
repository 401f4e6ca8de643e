"""Retention: what is kept too long is erased by a daily job, and only counts are logged.

* Reflections older than REFLECTION_RETENTION_DAYS (default 365) are deleted. The learner's
  progress and settings stay; only the private text goes.
* A learner inactive for longer than INACTIVE_LEARNER_RETENTION_DAYS (default 730) is erased
  entirely, by the same code as /forget (`PrivacyService.forget`: the data key is destroyed,
  then every row about them is deleted). Inactive means the person has not used the bot: their
  last interaction (`learners.last_active_at`, else when they consented, else when the row was
  made) is older than the period. Lessons the bot sent them do not count; three unopened
  lessons pause the subscription anyway. Someone who holds a team-lead role is not erased this
  way: the role is an admin's grant and leading a cohort is not recorded as learner activity,
  so an admin removes the role first (then the rule applies as to anyone).
* Update ids older than two days are forgotten (`UpdateLog.prune`; Telegram redelivers an update
  for at most 24 hours).

On SQLite each run ends by emptying the WAL (`bot.db.engine.scrub_wal`; deleted rows are zeroed by
`secure_delete`), so nothing purged keeps a copy in the database file or its WAL.

A period of 0 days switches that rule off. Each erasure is its own transaction, so a large first
run never holds long locks, and each learner is checked again inside the transaction that erases
them (row locked on PostgreSQL), so someone who comes back at that moment is kept.

A service: never imports telegram; the JobQueue job lives in `bot.handlers.retention`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import Clock
from bot.db.engine import scrub_wal
from bot.db.models import Lead, Learner, Reflection
from bot.services.privacy import PrivacyService
from bot.services.updates import UpdateLog

log = logging.getLogger(__name__)

UPDATE_IDS_KEPT = timedelta(days=2)
BATCH = 500


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one run erased (counts only)."""

    reflections: int
    learners: int
    kept_as_leads: int
    update_ids: int


def last_seen() -> ColumnElement[datetime]:
    """When the learner last used the bot: last activity, else consent, else first contact."""
    return func.coalesce(Learner.last_active_at, Learner.consented_at, Learner.created_at)


def _is_lead() -> ColumnElement[bool]:
    return exists().where(Lead.telegram_user_id == Learner.telegram_user_id)


class RetentionService:
    """Purges old reflections, erases long-inactive learners, prunes old update ids."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        privacy: PrivacyService,
        updates: UpdateLog,
        settings: Settings,
        *,
        batch: int = BATCH,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._privacy = privacy
        self._updates = updates
        self._reflection_days = settings.reflection_retention_days
        self._inactive_days = settings.inactive_learner_retention_days
        self._batch = batch

    async def run(self) -> RetentionReport:
        """Apply every rule once; logs the counts."""
        reflections = await self.purge_reflections()
        learners, leads = await self.erase_inactive_learners()
        update_ids = await self._updates.prune(UPDATE_IDS_KEPT)
        await scrub_wal(self._sessions)
        report = RetentionReport(reflections, learners, leads, update_ids)
        log.info(
            "retention: %d reflection(s) and %d inactive learner(s) erased, %d kept as team"
            " leads, %d old update id(s) pruned",
            report.reflections,
            report.learners,
            report.kept_as_leads,
            report.update_ids,
        )
        return report

    async def purge_reflections(self) -> int:
        """Delete reflections older than the retention period; returns how many."""
        if not self._reflection_days:
            return 0
        cutoff = self._clock.now() - timedelta(days=self._reflection_days)
        total = 0
        while True:
            async with self._sessions.begin() as session:
                ids = list(
                    await session.scalars(
                        select(Reflection.id)
                        .where(Reflection.created_at < cutoff)
                        .order_by(Reflection.id)
                        .limit(self._batch)
                    )
                )
                if ids:
                    await session.execute(delete(Reflection).where(Reflection.id.in_(ids)))
            total += len(ids)
            if len(ids) < self._batch:
                if total:
                    await scrub_wal(self._sessions)
                return total

    async def erase_inactive_learners(self) -> tuple[int, int]:
        """Erase every learner inactive for longer than the period, as /forget would.

        Returns (learners erased, inactive learners kept because they are team leads).
        """
        if not self._inactive_days:
            return 0, 0
        cutoff = self._clock.now() - timedelta(days=self._inactive_days)
        async with self._sessions.begin() as session:
            inactive_leads = select(func.count()).where(last_seen() < cutoff, _is_lead())
            kept = int(await session.scalar(inactive_leads.select_from(Learner)) or 0)
        erased, after = 0, 0
        while True:
            async with self._sessions.begin() as session:
                people = list(
                    await session.execute(
                        select(Learner.id, Learner.telegram_user_id)
                        .where(last_seen() < cutoff, ~_is_lead(), Learner.id > after)
                        .order_by(Learner.id)
                        .limit(self._batch)
                    )
                )
            for learner_id, telegram_user_id in people:
                after = learner_id
                check = partial(_still_inactive, telegram_user_id=telegram_user_id, cutoff=cutoff)
                report = await self._privacy.forget(
                    telegram_user_id, only_if=check, log_each=False, scrub=False
                )
                erased += report is not None
            if erased:
                await scrub_wal(self._sessions)
            if len(people) < self._batch:
                return erased, kept


async def _still_inactive(session: AsyncSession, telegram_user_id: int, cutoff: datetime) -> bool:
    """Checked inside the erasing transaction, with the learner's row locked on PostgreSQL."""
    row = await session.execute(
        select(last_seen(), _is_lead())
        .where(Learner.telegram_user_id == telegram_user_id)
        .with_for_update(of=Learner)
    )
    found = row.first()
    return found is not None and found[0] < cutoff and not found[1]
