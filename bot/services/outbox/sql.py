"""The outbox's tables and shared queries, and `enqueue`, the one writer of outbox rows.

Repository helpers: each takes the caller's session and never commits. `enqueue` and
`next_due_for` are also used by the services that nudge, create, resume or change a
subscription; the rest are shared by claim, lease and record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.pattern import Pattern, next_lesson, stored
from bot.core.schedule import local_date, zone
from bot.db.models import Delivery, Learner, LessonProgress, Subscription
from bot.services.outbox.types import (
    DATE_TAKEN,
    IN_CHUNK,
    LESSON,
    PENDING,
    CourseOrder,
    NewDelivery,
)

DELIVERIES = cast(Table, Delivery.__table__)
SUBSCRIPTIONS = cast(Table, Subscription.__table__)
LEARNERS = cast(Table, Learner.__table__)
PROGRESS = cast(Table, LessonProgress.__table__)


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    """`values` in slices short enough for one IN (...) list or one statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_ignore(session: AsyncSession, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for either dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


async def enqueue(session: AsyncSession, rows: Sequence[NewDelivery], now: datetime) -> int:
    """Queue outbox rows inside the caller's transaction; returns how many were new.

    The one writer of outbox rows (the claim, reminders and nudges all come through here): a
    row whose (subscription, local date, kind) is already queued is left as it is, so asking
    twice sends once.
    """
    if not rows:
        return 0
    values = [
        {
            "subscription_id": row.subscription_id,
            "chat_id": row.chat_id,
            "kind": row.kind,
            "local_date": row.local_date,
            "lesson_id": row.lesson_id,
            "due_at": row.due_at,
            "status": PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for row in rows
    ]
    # One executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues") from
    # one compiled statement; RETURNING yields only the rows that were new.
    insert = insert_ignore(session, DELIVERIES).returning(DELIVERIES.c.id)
    return len((await session.execute(insert, values)).all())


async def uncount_unopened(session: AsyncSession, subscription_ids: Sequence[int]) -> None:
    """Take back the claim's count of one unopened lesson for each of these subscriptions:
    its reminder could not come (the learner's quiet hours), so it does not count towards the
    auto-pause (issue 15)."""
    s = SUBSCRIPTIONS
    for chunk in chunks(sorted(set(subscription_ids))):
        await session.execute(
            update(s)
            .where(s.c.id.in_(chunk), s.c.unopened_streak > 0)
            .values(unopened_streak=s.c.unopened_streak - 1)
        )


async def give_back(
    session: AsyncSession, course: CourseOrder, lessons: list[tuple[int, str]]
) -> None:
    """Move each learner's place back so these undelivered lessons come with the next slot.

    `lessons` holds (subscription id, lesson id) pairs. Only when their place is still the
    newest of these lessons (nothing later was claimed).
    """
    by_subscription: dict[int, list[int]] = defaultdict(list)
    for subscription_id, lesson_id in lessons:
        if lesson_id in course.position:
            by_subscription[subscription_id].append(course.position[lesson_id])
    if not by_subscription:
        return
    s = SUBSCRIPTIONS
    params = [
        {
            "b_id": subscription_id,
            "b_newest": course.ids[max(positions)],
            "b_place": course.ids[min(positions) - 1] if min(positions) > 0 else None,
        }
        for subscription_id, positions in by_subscription.items()
    ]
    await session.execute(
        update(s)
        .where(s.c.id == bindparam("b_id"), s.c.last_lesson_id == bindparam("b_newest"))
        .values(last_lesson_id=bindparam("b_place")),
        params,
    )


async def next_due_for(
    session: AsyncSession, subscription: Subscription, now: datetime
) -> datetime | None:
    """The next delivery instant for a subscription's current settings (repository helper).

    For the services that create, resume or change a subscription: it never lands on a local
    date (in the new timezone) that already had a delivery, even right after a timezone change.
    Never commits; returns None when the schedule is invalid.
    """
    try:
        tz = zone(subscription.timezone)
        pattern = pattern_of(subscription)
    except ValueError:
        return None
    last_date: date | None = None
    if subscription.id is not None:
        d = DELIVERIES
        row = (
            await session.execute(
                select(d.c.local_date, d.c.due_at)
                .where(
                    d.c.subscription_id == subscription.id,
                    d.c.kind == LESSON,
                    d.c.status.in_(tuple(DATE_TAKEN)),
                )
                .order_by(d.c.local_date.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            # The recorded date, or that delivery's date in the new timezone, whichever is later.
            last_date = max(row.local_date, local_date(row.due_at, tz))
    return next_lesson(now, pattern, tz, last_local_date=last_date)


def pattern_of(subscription: Subscription) -> Pattern:
    """A subscription's shift pattern (ValueError when its stored schedule is not valid)."""
    return stored(subscription.pattern, subscription.days, subscription.delivery_time)
