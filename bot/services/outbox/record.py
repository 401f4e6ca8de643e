"""Recording what happened to leased rows: one small step per `Result`, in batches.

Every step is a bulk update guarded by the row still being `sending` (a sent one may also
have been reaped to `uncertain` meanwhile), so an outcome never overwrites a row someone else
has moved on. Outcomes whose learner was erased mid-send are dropped first (`_still_there`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.pattern import stored
from bot.core.states import DeliveryStatus
from bot.services.outbox.sql import (
    DELIVERIES,
    PROGRESS,
    SUBSCRIPTIONS,
    chunks,
    enqueue,
    give_back,
    insert_ignore,
    uncount_unopened,
)
from bot.services.outbox.types import (
    CANCELLED,
    FAILED,
    INACTIVE,
    LESSON,
    MAX_ERROR_CHARS,
    PENDING,
    REMINDER,
    SENDING,
    SENT,
    STOPPED,
    UNCERTAIN,
    CourseOrder,
    NewDelivery,
    OutboxItem,
    Outcome,
    Result,
    reminder_time,
)

log = logging.getLogger(__name__)

Lessons = list[tuple[int, str]]  # (subscription id, lesson id) pairs to give back
_Step = Callable[[AsyncSession, datetime, list[Outcome]], Awaitable[Lessons]]


class Record:
    """Records a batch of send outcomes, inside a transaction the caller opened."""

    def __init__(self, course: CourseOrder, remind_after: timedelta) -> None:
        self._course = course
        self._remind_after = remind_after

    async def run(self, session: AsyncSession, now: datetime, outcomes: Sequence[Outcome]) -> None:
        """Record every outcome whose row is still there; give back lessons never delivered."""
        by_result: dict[Result, list[Outcome]] = defaultdict(list)
        for outcome in await _still_there(session, outcomes):
            by_result[outcome.result].append(outcome)
        steps: tuple[tuple[Result, _Step], ...] = (
            (Result.SENT, self._sent),
            (Result.UNCERTAIN, _uncertain),
            (Result.FAILED, _failed),
            (Result.RETRY, _retry),
            (Result.RELEASE, _release),
            (Result.DEACTIVATE, _deactivate),
        )
        lessons: Lessons = []
        for result, step in steps:
            if group := by_result.get(result):
                lessons += await step(session, now, group)
        if lessons:
            await give_back(session, self._course, lessons)

    async def _sent(self, session: AsyncSession, now: datetime, sent: list[Outcome]) -> Lessons:
        """Telegram took them: sent, the lesson counts as delivered, its reminder is queued."""
        await _set_status(
            session,
            sent,
            SENT,
            also_from=UNCERTAIN,  # a late outcome for a row the reaper already gave up on
            per_row=lambda o: {"b_message": o.message_id},
            telegram_message_id=bindparam("b_message"),
            sent_at=now,
        )
        progress = [
            {
                "learner_id": o.item.learner_id,
                "lesson_id": o.item.lesson_id,
                "course_run": o.item.course_run,
                "delivered_at": now,
            }
            for o in sent
            if o.item.kind == LESSON and o.item.lesson_id is not None
        ]
        if progress:
            await session.execute(insert_ignore(session, PROGRESS), progress)
        offered = [
            {"b_sub": o.item.subscription_id, "b_lesson": o.item.offer}
            for o in sent
            if o.item.offer is not None
        ]
        if offered:
            d = DELIVERIES
            await session.execute(
                update(d)
                .where(
                    d.c.subscription_id == bindparam("b_sub"),
                    d.c.lesson_id == bindparam("b_lesson"),
                    d.c.status == UNCERTAIN,
                    d.c.offered_at.is_(None),
                )
                .values(offered_at=now),
                offered,
            )
        await self._queue_reminders(
            session, now, [o.item for o in sent if o.item.kind == LESSON and o.item.lesson_id]
        )
        return []

    async def _queue_reminders(
        self, session: AsyncSession, now: datetime, lessons: Sequence[OutboxItem]
    ) -> None:
        """One gentle reminder per lesson just sent, for learners who want them, never in their
        quiet hours: one that would fall in them waits for their end, unless that is at or
        after the next lesson (then none, and that lesson does not count towards auto-pause:
        nobody could remind the learner of it)."""
        if not lessons or self._remind_after <= timedelta(0):
            return
        s = SUBSCRIPTIONS
        remind_at = now + self._remind_after
        wanted: dict[int, datetime | None] = {}
        # Thousands of learners share a schedule: one quiet-hours sum per schedule.
        times: dict[tuple[Any, ...], datetime | None] = {}
        for chunk in chunks(sorted({item.subscription_id for item in lessons})):
            rows = await session.execute(
                select(
                    s.c.id, s.c.timezone, s.c.pattern, s.c.days, s.c.delivery_time, s.c.next_due_at
                ).where(s.c.id.in_(chunk), s.c.reminders.is_(True))
            )
            for row in rows:
                key = (row.pattern, row.days, row.delivery_time, row.timezone, row.next_due_at)
                if key not in times:
                    try:
                        pattern = stored(row.pattern, row.days, row.delivery_time)
                        times[key] = reminder_time(
                            remind_at, pattern, row.timezone, row.next_due_at
                        )
                    except ValueError:
                        times[key] = None  # an unknown zone: stay quiet rather than risk a ping
                wanted[row.id] = times[key]
        reminders = [
            NewDelivery(
                item.subscription_id,
                item.chat_id,
                REMINDER,
                item.local_date,
                at,
                item.lesson_id,
            )
            for item in lessons
            if (at := wanted.get(item.subscription_id)) is not None
        ]
        await enqueue(session, reminders, now)
        await uncount_unopened(session, [sid for sid, at in wanted.items() if at is None])


async def _uncertain(session: AsyncSession, now: datetime, group: list[Outcome]) -> Lessons:
    """It may have arrived: never sent again automatically (/today offers it)."""
    await _set_status(session, group, UNCERTAIN)
    return []


async def _failed(session: AsyncSession, now: datetime, group: list[Outcome]) -> Lessons:
    """Given up; a lesson whose failure says nothing about it comes with the next slot."""
    await _set_status(session, group, FAILED)
    return [
        (o.item.subscription_id, o.item.lesson_id)
        for o in group
        if o.give_back and o.item.kind == LESSON and o.item.lesson_id
    ]


async def _retry(session: AsyncSession, now: datetime, group: list[Outcome]) -> Lessons:
    """Certainly not sent: pending again at `retry_at`, the attempt counted."""
    await _set_status(
        session,
        group,
        PENDING,
        per_row=lambda o: {"b_due": o.retry_at or now},
        due_at=bindparam("b_due"),
    )
    return []


async def _release(session: AsyncSession, now: datetime, group: list[Outcome]) -> Lessons:
    """Never attempted: pending again at once, the attempt not counted."""
    d = DELIVERIES
    await session.execute(
        update(d)
        .where(d.c.id.in_([o.item.delivery_id for o in group]), d.c.status == SENDING)
        .values(status=PENDING, attempts=d.c.attempts - 1, lease_until=None)
    )
    return []


async def _deactivate(session: AsyncSession, now: datetime, gone: list[Outcome]) -> Lessons:
    """The chat refuses us: failed, the learner's other pending rows cancelled, inactive."""
    await _set_status(session, gone, FAILED)
    subscription_ids = sorted({o.item.subscription_id for o in gone})
    lessons = [
        (o.item.subscription_id, o.item.lesson_id)
        for o in gone
        if o.item.kind == LESSON and o.item.lesson_id
    ]
    lessons += await _cancel_pending(session, subscription_ids)
    s = SUBSCRIPTIONS
    await session.execute(
        update(s)
        .where(s.c.id.in_(subscription_ids), s.c.state != STOPPED)
        .values(state=INACTIVE, next_due_at=None, updated_at=now)
    )
    return lessons


async def _set_status(
    session: AsyncSession,
    outcomes: Sequence[Outcome],
    status: DeliveryStatus,
    *,
    also_from: DeliveryStatus | None = None,
    per_row: Callable[[Outcome], dict[str, Any]] | None = None,
    **values: Any,
) -> None:
    """Move these `sending` rows (or `also_from` ones) to `status` with their error, lease off.

    `values` are further columns, `per_row` the parameters they bind for each outcome.
    """
    d = DELIVERIES
    was = d.c.status == SENDING
    if also_from is not None:
        was = or_(was, d.c.status == also_from)
    await session.execute(
        update(d)
        .where(d.c.id == bindparam("b_id"), was)
        .values(
            status=status,
            error_code=bindparam("b_code"),
            last_error=bindparam("b_error"),
            lease_until=None,
            **values,
        ),
        [
            {
                "b_id": o.item.delivery_id,
                "b_code": o.error_code,
                "b_error": _clip(o.error),
                **(per_row(o) if per_row else {}),
            }
            for o in outcomes
        ],
    )


async def _cancel_pending(session: AsyncSession, subscription_ids: Sequence[int]) -> Lessons:
    """Cancel every pending row of these subscriptions; return the lessons they held."""
    d = DELIVERIES
    held: Lessons = []
    for chunk in chunks(subscription_ids):
        rows = (
            await session.execute(
                select(d.c.subscription_id, d.c.kind, d.c.lesson_id).where(
                    d.c.subscription_id.in_(chunk), d.c.status == PENDING
                )
            )
        ).all()
        held += [
            (row.subscription_id, row.lesson_id)
            for row in rows
            if row.kind == LESSON and row.lesson_id
        ]
        await session.execute(
            update(d)
            .where(d.c.subscription_id.in_(chunk), d.c.status == PENDING)
            .values(status=CANCELLED, last_error="Telegram refused delivery to this chat")
        )
    return held


async def _still_there(session: AsyncSession, outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The outcomes whose rows still exist as leased, locked until this transaction ends.

    A learner who used /forget while their message was on the wire has no rows left (they
    go with the learner), so their outcomes are dropped one by one instead of failing the
    whole batch on a foreign key. A row is recognised by more than its id, because SQLite
    re-uses the highest id once it is deleted: a newer row of someone else may carry it.
    On PostgreSQL the lock (taken before anything else is written) makes /forget wait for
    this transaction, or this one wait for /forget, which deletes the rows first.
    """
    d, s = DELIVERIES, SUBSCRIPTIONS
    found: set[tuple[Any, ...]] = set()
    for chunk in chunks(sorted({o.item.delivery_id for o in outcomes})):
        rows = await session.execute(
            select(
                d.c.id,
                d.c.subscription_id,
                s.c.learner_id,
                d.c.chat_id,
                d.c.kind,
                d.c.local_date,
            )
            .join(s, s.c.id == d.c.subscription_id)
            .where(d.c.id.in_(chunk))
            .with_for_update(of=d)
        )
        found.update(tuple(row) for row in rows)
    alive = [o for o in outcomes if _identity(o.item) in found]
    if len(alive) < len(outcomes):
        log.info(
            "%d delivery outcome(s) not recorded: their learner was erased while sending",
            len(outcomes) - len(alive),
        )
    return alive


def _identity(item: OutboxItem) -> tuple[Any, ...]:
    """What must still match for a row to be the one this item was leased from."""
    return (
        item.delivery_id,
        item.subscription_id,
        item.learner_id,
        item.chat_id,
        item.kind,
        item.local_date,
    )


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]
