"""Who is due: one claim transaction turns due subscriptions into pending outbox rows.

`Claim.run` locks the due subscriptions (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the
whole transaction is `BEGIN IMMEDIATE`, so claimers queue), plans at most one lesson (and its
reflection) per learner and local date, queues the rows through `enqueue` and moves
`next_due_at` past now, all in the caller's transaction. Catch-up after downtime: the newest
missed slot only, within the grace window; older still-pending rows are superseded and their
lesson re-used, so a learner never receives a backlog.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.schema import Content
from bot.core.pattern import Pattern, next_lesson, previous_lesson, stored
from bot.core.schedule import local_date, local_instant, zone
from bot.core.states import DeliveryKind
from bot.services.outbox.sql import (
    DELIVERIES,
    LEARNERS,
    SUBSCRIPTIONS,
    chunks,
    enqueue,
    give_back,
)
from bot.services.outbox.types import (
    ACTIVE,
    CANCELLED,
    DATE_TAKEN,
    FINISHED,
    LESSON,
    PAUSE_NOTE,
    PAUSED,
    PENDING,
    REFLECTION,
    SENDING,
    SKIPPED,
    UNOPENED_PAUSE_AFTER,
    CourseOrder,
    NewDelivery,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Due:
    """A claimed subscription."""

    id: int
    learner_id: int
    chat_id: int
    delivery_time: time
    timezone: str
    days: int
    pattern: str | None
    reflection_time: time | None
    next_due_at: datetime
    last_lesson_id: str | None
    course_run: int
    unopened_streak: int


@dataclass(frozen=True, slots=True)
class _Row:
    """An existing outbox row of a claimed subscription."""

    id: int
    subscription_id: int
    local_date: date
    kind: str
    status: str
    lesson_id: str | None


@dataclass(slots=True)
class _Plan:
    """What one claim transaction writes."""

    inserts: list[NewDelivery] = field(default_factory=list)
    revives: list[dict[str, Any]] = field(default_factory=list)
    supersede: list[int] = field(default_factory=list)
    # (next_due_at, last_lesson_id, state, a lesson was queued) -> subscription ids
    subscriptions: dict[tuple[datetime | None, str | None, str, bool], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )


class _Slots:
    """Schedule arithmetic for one claim, memoised: thousands of learners share a schedule."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._due: dict[tuple[str, Pattern, datetime], tuple[datetime, date]] = {}
        self._next: dict[tuple[str, Pattern, date | None], datetime] = {}

    def due(self, sub: _Due, tz: ZoneInfo, pattern: Pattern) -> tuple[datetime, date]:
        """The slot to deliver now and its local date: the newest missed slot counts."""
        key = (sub.timezone, pattern, sub.next_due_at)
        found = self._due.get(key)
        if found is None:
            due = sub.next_due_at
            latest = previous_lesson(self.now, pattern, tz)
            if latest is not None and latest > due:
                due = latest
            found = self._due[key] = (due, local_date(due, tz))
        return found

    def next(
        self, sub: _Due, tz: ZoneInfo, pattern: Pattern, last_local_date: date | None
    ) -> datetime:
        """The first slot after now on a local date later than last_local_date."""
        key = (sub.timezone, pattern, last_local_date)
        found = self._next.get(key)
        if found is None:
            found = self._next[key] = next_lesson(
                self.now, pattern, tz, last_local_date=last_local_date
            )
        return found


class Claim:
    """Claims due subscriptions into the outbox, inside a transaction the caller opened."""

    def __init__(self, content: Content, course: CourseOrder, grace: timedelta) -> None:
        self._content = content
        self._course = course
        self._grace = grace

    async def run(self, session: AsyncSession, now: datetime, limit: int) -> int:
        """Claim up to `limit` due subscriptions; returns how many were claimed."""
        await self._skip_stale(session, now)
        due = await _lock_due(session, now, limit)
        if not due:
            return 0
        existing = await _existing_rows(session, due)
        plan, slots = _Plan(), _Slots(now)
        for sub in due:
            self._plan_one(sub, existing.get(sub.id, []), slots, plan)
        await _write_plan(session, plan, now)
        return len(due)

    async def _skip_stale(self, session: AsyncSession, now: datetime) -> None:
        """Pending rows older than the grace window are skipped; their lessons are given back."""
        d = DELIVERIES
        stale = (
            await session.execute(
                select(d.c.id, d.c.subscription_id, d.c.kind, d.c.lesson_id).where(
                    d.c.status == PENDING, d.c.due_at < now - self._grace
                )
            )
        ).all()
        if not stale:
            return
        for chunk in chunks([row.id for row in stale]):
            await session.execute(
                update(d)
                .where(d.c.id.in_(chunk))
                .values(status=SKIPPED, last_error="older than the catch-up window")
            )
        await give_back(
            session,
            self._course,
            [
                (row.subscription_id, row.lesson_id)
                for row in stale
                if row.kind == LESSON and row.lesson_id
            ],
        )

    def _plan_one(self, sub: _Due, rows: list[_Row], slots: _Slots, plan: _Plan) -> None:
        """Decide one claimed subscription: at most one lesson (and its reflection) per date."""
        try:
            tz = zone(sub.timezone)
            pattern = stored(sub.pattern, sub.days, sub.delivery_time)
        except ValueError:
            log.warning("subscription %s has an invalid schedule; not scheduling it", sub.id)
            plan.subscriptions[(None, sub.last_lesson_id, ACTIVE, False)].append(sub.id)
            return
        due, day = slots.due(sub, tz, pattern)
        lessons = [row for row in rows if row.kind == LESSON]
        taken = [
            row.local_date
            for row in lessons
            if row.status in DATE_TAKEN and (row.status != PENDING or row.local_date >= day)
        ]
        last_taken = max(taken) if taken else None
        send = due >= slots.now - self._grace and (last_taken is None or day > last_taken)

        place = sub.last_lesson_id
        marked = last_taken
        if send:
            superseded: set[int] = set()
            place = self._supersede(sub, rows, day, superseded)
            plan.supersede.extend(superseded)
            lesson_id = self._content.next_lesson_id(place)
            if lesson_id is None:
                in_flight = any(
                    row.status in (PENDING, SENDING) and row.id not in superseded for row in lessons
                )
                if not in_flight:
                    plan.subscriptions[(None, place, FINISHED, False)].append(sub.id)
                    return
            elif sub.unopened_streak >= UNOPENED_PAUSE_AFTER:
                # Three lessons in a row left unopened: pause instead of adding a fourth, with a
                # kind note saying how to resume. The lesson is not used up.
                _add_row(plan, sub, rows, day, PAUSE_NOTE, None, due)
                plan.subscriptions[(None, place, PAUSED, False)].append(sub.id)
                return
            else:
                _add_row(plan, sub, rows, day, LESSON, lesson_id, due)
                if sub.reflection_time is not None:
                    prompt_at = max(local_instant(day, sub.reflection_time, tz), due)
                    _add_row(plan, sub, rows, day, REFLECTION, lesson_id, prompt_at)
                place = lesson_id
                marked = day
        queued = marked is not None and marked != last_taken
        plan.subscriptions[(slots.next(sub, tz, pattern, marked), place, ACTIVE, queued)].append(
            sub.id
        )

    def _supersede(
        self, sub: _Due, rows: list[_Row], day: date, superseded: set[int]
    ) -> str | None:
        """Skip this learner's older still-pending rows; return their place in the course."""
        course, position = self._course.ids, self._course.position
        place = sub.last_lesson_id
        # A place no longer in the course counts as its end (as in Content.next_lesson_id).
        index = -1 if place is None else position.get(place, len(course))
        for row in rows:
            if row.status != PENDING or row.local_date >= day:
                continue
            superseded.add(row.id)
            if row.kind == LESSON and row.lesson_id in position:
                # Re-use the lesson the learner never got, if their place had moved past it.
                at = position[row.lesson_id]
                if at <= index:
                    index = at - 1
        if index >= len(course):
            return place
        return course[index] if index >= 0 else None


async def _lock_due(session: AsyncSession, now: datetime, limit: int) -> list[_Due]:
    s, learner = SUBSCRIPTIONS, LEARNERS
    stmt = (
        select(
            s.c.id,
            s.c.learner_id,
            learner.c.chat_id,
            s.c.delivery_time,
            s.c.timezone,
            s.c.days,
            s.c.pattern,
            s.c.reflection_time,
            s.c.next_due_at,
            s.c.last_lesson_id,
            s.c.course_run,
            s.c.unopened_streak,
        )
        .join(learner, learner.c.id == s.c.learner_id)
        .where(s.c.state == ACTIVE, s.c.next_due_at <= now)
        .order_by(s.c.next_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=s)
    )
    return [_Due(*row) for row in (await session.execute(stmt)).all()]


async def _existing_rows(session: AsyncSession, due: list[_Due]) -> dict[int, list[_Row]]:
    """Rows that matter for the claimed subscriptions: recent ones, and any still pending."""
    d = DELIVERIES
    floor = min(sub.next_due_at for sub in due) - timedelta(days=2)
    floor_date = floor.date()
    columns = (d.c.id, d.c.subscription_id, d.c.local_date, d.c.kind, d.c.status, d.c.lesson_id)
    rows: dict[int, list[_Row]] = defaultdict(list)
    seen: set[int] = set()
    ids = [sub.id for sub in due]
    for chunk in chunks(ids):
        recent = select(*columns).where(
            d.c.subscription_id.in_(chunk), d.c.local_date >= floor_date
        )
        pending = select(*columns).where(
            d.c.status == PENDING, d.c.subscription_id.in_(chunk), d.c.local_date < floor_date
        )
        for stmt in (recent, pending):
            for row in (await session.execute(stmt)).all():
                if row.id not in seen:
                    seen.add(row.id)
                    rows[row.subscription_id].append(_Row(*row))
    return rows


def _add_row(
    plan: _Plan,
    sub: _Due,
    rows: list[_Row],
    day: date,
    kind: DeliveryKind,
    lesson_id: str | None,
    due_at: datetime,
) -> None:
    """Queue this date's row of this kind, or revive it if it was cancelled or skipped."""
    for row in rows:
        if row.local_date == day and row.kind == kind:
            if row.status in (CANCELLED, SKIPPED):
                plan.revives.append(_revival(row.id, sub.chat_id, lesson_id, due_at))
            return  # the date already has this delivery
    plan.inserts.append(NewDelivery(sub.id, sub.chat_id, kind, day, due_at, lesson_id))


def _revival(
    delivery_id: int, chat_id: int, lesson_id: str | None, due_at: datetime
) -> dict[str, Any]:
    """The parameters that turn a cancelled or skipped row back into a fresh pending one."""
    values: dict[str, Any] = {
        "chat_id": chat_id,
        "lesson_id": lesson_id,
        "due_at": due_at,
        "status": PENDING,
        "attempts": 0,
        "error_code": None,
        "last_error": None,
        "lease_until": None,
        "telegram_message_id": None,
        "sent_at": None,
    }
    return {"b_id": delivery_id, **{f"b_{name}": value for name, value in values.items()}}


async def _write_plan(session: AsyncSession, plan: _Plan, now: datetime) -> None:
    d, s = DELIVERIES, SUBSCRIPTIONS
    for chunk in chunks(plan.supersede):
        await session.execute(
            update(d)
            .where(d.c.id.in_(chunk), d.c.status == PENDING)
            .values(status=SKIPPED, last_error="superseded by a newer slot")
        )
    if plan.revives:
        await session.execute(
            update(d)
            .where(d.c.id == bindparam("b_id"))
            .values({name[2:]: bindparam(name) for name in plan.revives[0] if name != "b_id"}),
            plan.revives,
        )
    await enqueue(session, plan.inserts, now)
    for (next_due, place, state, queued), ids in plan.subscriptions.items():
        # A queued lesson counts as unopened until a button on it is pressed (which resets
        # the count); three in a row pause the subscription at the next slot.
        streak = {"unopened_streak": s.c.unopened_streak + 1} if queued else {}
        for chunk in chunks(ids):
            await session.execute(
                update(s)
                .where(s.c.id.in_(chunk))
                .values(
                    next_due_at=next_due,
                    last_lesson_id=place,
                    state=state,
                    updated_at=now,
                    **streak,
                )
            )
