"""The delivery outbox: who is due, what they get, and what happened to every send.

`DeliveryService` owns the `deliveries` table (the outbox) and the scheduling columns of
`subscriptions` (`next_due_at`, `last_lesson_id`, the move to `finished` and `inactive`). Every
public method is one transaction and works in batches: the sender's CPU budget per lesson is a
fraction of what the Telegram client itself costs, so no method does per-row round trips.

The life of an outbox row::

    claim_due ──> pending ──lease_batch──> sending ──record_outcomes──> sent
                    ^  |                      |                         uncertain
                    |  |                      |                         failed
                    |  +--> cancelled         +--> (worker died) ──reap──> uncertain
                    +---- retry / release ----+
                    pending too old ──> skipped

Exactly once, and what that means with Telegram (which has no idempotency key):

* **Nothing doubled by the tick.** `claim_due` locks the due subscriptions (PostgreSQL: `FOR
  UPDATE SKIP LOCKED`; SQLite: the whole transaction is `BEGIN IMMEDIATE`, so claimers queue),
  inserts one row per (subscription, local date, kind) with `ON CONFLICT DO NOTHING` on that
  unique key, and moves `next_due_at` past now in the same transaction. A second tick, a second
  worker or a restart finds nothing due, and could not insert a second row if it did.
* **`sending` is the only state in which a send may have happened.** `lease_batch` (or
  `exchange`, which also records the previous batch's outcomes) flips rows to `sending`, with a
  lease deadline, in one short transaction just before the sender makes the HTTP calls; the
  sender leases only what its workers will start within a fraction of a second. A `pending` row
  has therefore never been handed to Telegram by anyone.
* **Nothing sent twice.** Only `pending` rows are leased. A row whose worker died while it was
  `sending` (killed after the lease, during or after the HTTP call, before `record_outcomes`) is
  turned into `uncertain` by `reap_expired_leases` once its lease expires; it is never sent
  again automatically, and `/today` serves the lesson (`uncertain_for`).
* **Nothing lost.** A worker killed after `claim_due` but before leasing leaves `pending` rows
  that any worker sends later. Rows the sender leased but knows it did not send (a 429 pause,
  shutdown) are released back to `pending` with their attempt uncounted. Outcomes that prove
  nothing was sent (connect errors, 5xx) go back to `pending` with a backoff. A lesson that is
  cancelled (paused/stopped/deactivated learner) or skipped is given back: the learner's place
  moves back so the lesson comes with their next slot, without a backlog.

The one window that cannot be closed is between committing `sending` and the request reaching
Telegram: a worker killed exactly there leaves an `uncertain` row for a message that was never
sent. The lease is taken just before the calls to keep that window to a fraction of a second,
and `/today` still serves the lesson, so the learner loses nothing.

Catch-up: after downtime each due subscriber gets at most one lesson, the newest missed slot, and
only when it is at most `delivery_grace_hours` old; older slots are skipped to the next one. A
still-pending row from an earlier date is superseded by the new one (its lesson is re-used), so
a learner never receives a backlog.

This module never imports telegram.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.schedule import (
    check_days,
    local_date,
    local_instant,
    next_delivery,
    previous_delivery,
    zone,
)
from bot.core.states import DeliveryKind, DeliveryStatus, SubscriptionState
from bot.db.models import Delivery, Learner, LessonProgress, Subscription

log = logging.getLogger(__name__)

DELIVERIES = cast(Table, Delivery.__table__)
SUBSCRIPTIONS = cast(Table, Subscription.__table__)
LEARNERS = cast(Table, Learner.__table__)
PROGRESS = cast(Table, LessonProgress.__table__)

# The module-level names are the vocabulary of bot.core.states, kept short for the queries.
LESSON = DeliveryKind.LESSON
REFLECTION = DeliveryKind.REFLECTION
REMINDER = DeliveryKind.REMINDER
PAUSE_NOTE = DeliveryKind.PAUSE_NOTE
NUDGE = DeliveryKind.NUDGE

PENDING = DeliveryStatus.PENDING
SENDING = DeliveryStatus.SENDING
SENT = DeliveryStatus.SENT
UNCERTAIN = DeliveryStatus.UNCERTAIN
FAILED = DeliveryStatus.FAILED
CANCELLED = DeliveryStatus.CANCELLED
SKIPPED = DeliveryStatus.SKIPPED

ACTIVE = SubscriptionState.ACTIVE
PAUSED = SubscriptionState.PAUSED
FINISHED = SubscriptionState.FINISHED
INACTIVE = SubscriptionState.INACTIVE
STOPPED = SubscriptionState.STOPPED
# States whose queued rows are still sent (a finished learner's last lesson was claimed before
# the course ended).
SENDABLE_STATES = frozenset({ACTIVE, FINISHED})
# Rows that stand for "this local date had its delivery" (a date is never delivered twice).
_DATE_TAKEN = frozenset({SENT, SENDING, UNCERTAIN, FAILED, PENDING})
# Terminal states of a lesson row, after which that day's reflection row is decided.
_LESSON_DONE = (SENT, UNCERTAIN, FAILED, CANCELLED, SKIPPED)

# Lessons left unopened in a row before the bot pauses itself (kindly, with how to resume).
UNOPENED_PAUSE_AFTER = 3
# Reminders are never sent in the learner's local quiet hours, 21:00-07:00.
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(7, 0)

MAX_ERROR_CHARS = 200
CLAIM_BATCH = 5000  # subscriptions per claim transaction (keeps SQLite's write lock short)
IN_CHUNK = 5000  # ids per IN (...) list (SQLite and asyncpg both allow 32k parameters)


class Result(StrEnum):
    """What the sender learnt about one leased row."""

    SENT = "sent"  # Telegram accepted it: message id known
    UNCERTAIN = "uncertain"  # it may or may not have arrived (read timeout): never resent
    RETRY = "retry"  # certainly not sent (connect error, 5xx): pending again at retry_at
    RELEASE = "release"  # never attempted (429 pause, shutdown): pending, attempt not counted
    FAILED = "failed"  # gave up (a 400 after the plain-text fallback, attempts exhausted)
    DEACTIVATE = "deactivate"  # 403 / chat not found: the learner is unreachable


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One leased row, as the sender needs it (a plain value, never an ORM row)."""

    delivery_id: int
    subscription_id: int
    learner_id: int
    chat_id: int
    kind: str
    local_date: date
    lesson_id: str | None
    course_run: int
    attempts: int  # including the attempt this lease is for
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of sending one item, recorded in batches by `record_outcomes`."""

    item: OutboxItem
    result: Result
    message_id: int | None = None
    error_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    # For FAILED: True when the failure says nothing about the lesson (e.g. the network stayed
    # down through every attempt), so the learner gets it with their next slot instead.
    give_back: bool = False


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An outbox row another service asks for (e.g. a lead's nudge), written by `enqueue`."""

    subscription_id: int
    chat_id: int
    kind: DeliveryKind
    local_date: date
    due_at: datetime
    lesson_id: str | None = None


@dataclass(frozen=True, slots=True)
class UncertainDelivery:
    """A send that may not have arrived: /today offers it again."""

    delivery_id: int
    kind: str
    lesson_id: str | None
    local_date: date
    due_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Rows by status (for the sandbox, health checks and the benchmark)."""

    by_status: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)


@dataclass(slots=True)
class _Due:
    """A claimed subscription."""

    id: int
    learner_id: int
    chat_id: int
    delivery_time: time
    timezone: str
    days: int
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

    inserts: list[dict[str, Any]] = field(default_factory=list)
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
        self._due: dict[tuple[str, time, int, datetime], tuple[datetime, date]] = {}
        self._next: dict[tuple[str, time, int, date | None], datetime] = {}

    def due(self, sub: _Due, tz: ZoneInfo) -> tuple[datetime, date]:
        """The slot to deliver now and its local date: the newest missed slot counts."""
        key = (sub.timezone, sub.delivery_time, sub.days, sub.next_due_at)
        found = self._due.get(key)
        if found is None:
            due = sub.next_due_at
            latest = previous_delivery(self.now, sub.delivery_time, tz, sub.days)
            if latest is not None and latest > due:
                due = latest
            found = self._due[key] = (due, local_date(due, tz))
        return found

    def next(self, sub: _Due, tz: ZoneInfo, last_local_date: date | None) -> datetime:
        """The first slot after now on a local date later than last_local_date."""
        key = (sub.timezone, sub.delivery_time, sub.days, last_local_date)
        found = self._next.get(key)
        if found is None:
            found = self._next[key] = next_delivery(
                self.now, sub.delivery_time, tz, sub.days, last_local_date=last_local_date
            )
        return found


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]


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


def in_quiet_hours(instant: datetime, tz: str) -> bool:
    """True between 21:00 and 07:00 in the learner's local time (no reminders then)."""
    try:
        local = instant.astimezone(zone(tz)).time()
    except ValueError:
        return True  # an unknown zone: stay quiet rather than risk a night-time ping
    return local >= QUIET_FROM or local < QUIET_UNTIL


class DeliveryService:
    """The outbox: claims due subscriptions, leases rows to senders, records what happened."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._content = content
        self._grace = timedelta(hours=settings.delivery_grace_hours)
        self._remind_after = timedelta(hours=settings.reminder_after_hours)
        self._course = [lesson.id for lesson in content.lessons]
        self._position = {lesson_id: index for index, lesson_id in enumerate(self._course)}

    # --- the tick --------------------------------------------------------------------------------

    async def claim_due(self, limit: int = CLAIM_BATCH) -> int:
        """Claim up to `limit` due subscriptions into the outbox; returns how many were claimed."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await self._skip_stale(session, now)
            due = await self._lock_due(session, now, limit)
            if not due:
                return 0
            existing = await self._existing_rows(session, due, now)
            plan, slots = _Plan(), _Slots(now)
            for sub in due:
                self._plan_one(sub, existing.get(sub.id, []), slots, plan)
            await self._write_plan(session, plan, now)
            return len(due)

    async def _lock_due(self, session: AsyncSession, now: datetime, limit: int) -> list[_Due]:
        s, learner = SUBSCRIPTIONS, LEARNERS
        stmt = (
            select(
                s.c.id,
                s.c.learner_id,
                learner.c.chat_id,
                s.c.delivery_time,
                s.c.timezone,
                s.c.days,
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

    async def _existing_rows(
        self, session: AsyncSession, due: list[_Due], now: datetime
    ) -> dict[int, list[_Row]]:
        """Rows that matter for the claimed subscriptions: recent ones, and any still pending."""
        d = DELIVERIES
        floor = min(sub.next_due_at for sub in due) - timedelta(days=2)
        floor_date = floor.date()
        columns = (d.c.id, d.c.subscription_id, d.c.local_date, d.c.kind, d.c.status, d.c.lesson_id)
        rows: dict[int, list[_Row]] = defaultdict(list)
        seen: set[int] = set()
        ids = [sub.id for sub in due]
        for chunk in _chunks(ids):
            recent = select(*columns).where(
                d.c.subscription_id.in_(chunk), d.c.local_date >= floor_date
            )
            pending = select(*columns).where(
                d.c.status == PENDING, d.c.subscription_id.in_(chunk), d.c.local_date < floor_date
            )
            for stmt in (recent, pending):
                for row in (await session.execute(stmt)).all():
                    if row[0] not in seen:
                        seen.add(row[0])
                        rows[row[1]].append(_Row(*row))
        return rows

    def _plan_one(self, sub: _Due, rows: list[_Row], slots: _Slots, plan: _Plan) -> None:
        """Decide one claimed subscription: at most one lesson (and its reflection) per date."""
        try:
            tz = zone(sub.timezone)
            check_days(sub.days)
        except ValueError:
            log.warning("subscription %s has an invalid schedule; not scheduling it", sub.id)
            plan.subscriptions[(None, sub.last_lesson_id, ACTIVE, False)].append(sub.id)
            return
        due, day = slots.due(sub, tz)
        lessons = [row for row in rows if row.kind == LESSON]
        taken = [
            row.local_date
            for row in lessons
            if row.status in _DATE_TAKEN and (row.status != PENDING or row.local_date >= day)
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
                self._add_row(plan, sub, rows, day, PAUSE_NOTE, None, due, slots.now)
                plan.subscriptions[(None, place, PAUSED, False)].append(sub.id)
                return
            else:
                self._add_row(plan, sub, rows, day, LESSON, lesson_id, due, slots.now)
                if sub.reflection_time is not None:
                    prompt_at = max(local_instant(day, sub.reflection_time, tz), due)
                    self._add_row(plan, sub, rows, day, REFLECTION, lesson_id, prompt_at, slots.now)
                place = lesson_id
                marked = day
        queued = marked is not None and marked != last_taken
        plan.subscriptions[(slots.next(sub, tz, marked), place, ACTIVE, queued)].append(sub.id)

    def _supersede(
        self, sub: _Due, rows: list[_Row], day: date, superseded: set[int]
    ) -> str | None:
        """Skip this learner's older still-pending rows; return their place in the course."""
        place = sub.last_lesson_id
        # A place no longer in the course counts as its end (as in Content.next_lesson_id).
        index = -1 if place is None else self._position.get(place, len(self._course))
        for row in rows:
            if row.status != PENDING or row.local_date >= day:
                continue
            superseded.add(row.id)
            if row.kind == LESSON and row.lesson_id in self._position:
                # Re-use the lesson the learner never got, if their place had moved past it.
                position = self._position[row.lesson_id]
                if position <= index:
                    index = position - 1
        if index >= len(self._course):
            return place
        return self._course[index] if index >= 0 else None

    def _add_row(
        self,
        plan: _Plan,
        sub: _Due,
        rows: list[_Row],
        day: date,
        kind: str,
        lesson_id: str | None,
        due_at: datetime,
        now: datetime,
    ) -> None:
        values: dict[str, Any] = {
            "chat_id": sub.chat_id,
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
        for row in rows:
            if row.local_date == day and row.kind == kind:
                if row.status in (CANCELLED, SKIPPED):
                    plan.revives.append(
                        {"b_id": row.id, **{f"b_{name}": value for name, value in values.items()}}
                    )
                return  # the date already has this delivery
        plan.inserts.append(
            {
                "subscription_id": sub.id,
                "kind": kind,
                "local_date": day,
                "created_at": now,
                **values,
            }
        )

    async def _write_plan(self, session: AsyncSession, plan: _Plan, now: datetime) -> None:
        d, s = DELIVERIES, SUBSCRIPTIONS
        for chunk in _chunks(plan.supersede):
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
        if plan.inserts:
            await session.execute(self._insert_ignore(session, d), plan.inserts)
        for (next_due, place, state, queued), ids in plan.subscriptions.items():
            # A queued lesson counts as unopened until a button on it is pressed (which resets
            # the count); three in a row pause the subscription at the next slot.
            streak = {"unopened_streak": s.c.unopened_streak + 1} if queued else {}
            for chunk in _chunks(ids):
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

    @staticmethod
    def _insert_ignore(session: AsyncSession, table: Table) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING for either dialect."""
        if session.get_bind().dialect.name == "postgresql":
            return pg_insert(table).on_conflict_do_nothing()
        return sqlite_insert(table).on_conflict_do_nothing()

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
        for chunk in _chunks([row[0] for row in stale]):
            await session.execute(
                update(d)
                .where(d.c.id.in_(chunk))
                .values(status=SKIPPED, last_error="older than the catch-up window")
            )
        await self._give_back(
            session, [(row[1], row[3]) for row in stale if row[2] == LESSON and row[3]]
        )

    async def _give_back(self, session: AsyncSession, lessons: list[tuple[int, str]]) -> None:
        """Move each learner's place back so these undelivered lessons come with the next slot.

        Only when their place is still the newest of these lessons (nothing later was claimed).
        """
        by_subscription: dict[int, list[int]] = defaultdict(list)
        for subscription_id, lesson_id in lessons:
            if lesson_id in self._position:
                by_subscription[subscription_id].append(self._position[lesson_id])
        if not by_subscription:
            return
        s = SUBSCRIPTIONS
        params = [
            {
                "b_id": subscription_id,
                "b_newest": self._course[max(positions)],
                "b_place": self._course[min(positions) - 1] if min(positions) > 0 else None,
            }
            for subscription_id, positions in by_subscription.items()
        ]
        await session.execute(
            update(s)
            .where(s.c.id == bindparam("b_id"), s.c.last_lesson_id == bindparam("b_newest"))
            .values(last_lesson_id=bindparam("b_place")),
            params,
        )

    # --- the sender ------------------------------------------------------------------------------

    async def lease_batch(self, limit: int, lease_seconds: float = 60.0) -> list[OutboxItem]:
        """Lease up to `limit` ready rows for sending right now (they become `sending`).

        The subscription's state is checked here, immediately before the send: rows of a paused,
        stopped or deactivated learner are cancelled (and the lesson given back), never sent.
        A reflection row waits for that day's lesson row and is cancelled if the lesson was not
        delivered.
        """
        if limit <= 0:
            return []
        async with self._sessions.begin() as session:
            return await self._lease(session, self._clock.now(), limit, lease_seconds)

    async def exchange(
        self, outcomes: Sequence[Outcome], limit: int, lease_seconds: float = 60.0
    ) -> list[OutboxItem]:
        """`record_outcomes` then `lease_batch`, in one transaction (the sender's steady state)."""
        if not outcomes and limit <= 0:
            return []
        async with self._sessions.begin() as session:
            now = self._clock.now()
            if outcomes:
                await self._record(session, now, outcomes)
            if limit <= 0:
                return []
            return await self._lease(session, now, limit, lease_seconds)

    async def _lease(
        self, session: AsyncSession, now: datetime, limit: int, lease_seconds: float
    ) -> list[OutboxItem]:
        d, s, p = DELIVERIES, SUBSCRIPTIONS, PROGRESS
        lesson_row = DELIVERIES.alias("lesson_row")
        stmt = (
            select(
                d.c.id,
                d.c.subscription_id,
                s.c.learner_id,
                d.c.chat_id,
                d.c.kind,
                d.c.local_date,
                d.c.lesson_id,
                s.c.course_run,
                d.c.attempts,
                d.c.due_at,
                s.c.state,
                lesson_row.c.status,
                s.c.timezone,
                func.coalesce(p.c.opened_at, p.c.done_at, p.c.skipped_at),
            )
            .join(s, s.c.id == d.c.subscription_id)
            .outerjoin(
                lesson_row,
                and_(
                    d.c.kind == REFLECTION,
                    lesson_row.c.subscription_id == d.c.subscription_id,
                    lesson_row.c.local_date == d.c.local_date,
                    lesson_row.c.kind == LESSON,
                ),
            )
            .outerjoin(
                p,
                and_(
                    d.c.kind == REMINDER,
                    p.c.learner_id == s.c.learner_id,
                    p.c.lesson_id == d.c.lesson_id,
                    p.c.course_run == s.c.course_run,
                ),
            )
            .where(
                d.c.status == PENDING,
                d.c.due_at <= now,
                d.c.due_at >= now - self._grace,
                or_(
                    d.c.kind != REFLECTION,
                    lesson_row.c.status.is_(None),
                    lesson_row.c.status.in_(_LESSON_DONE),
                ),
            )
            .order_by(d.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=d)
        )
        rows = (await session.execute(stmt)).all()
        if not rows:
            return []
        items: list[OutboxItem] = []
        cancelled: list[int] = []
        not_needed: list[int] = []
        give_back: list[tuple[int, str]] = []
        for row in rows:
            state, lesson_status, tz, opened = row[10], row[11], row[12], row[13]
            if row[4] == PAUSE_NOTE and state == PAUSED:
                pass  # the note saying lessons have paused is the one thing a paused learner gets
            elif row[4] == REMINDER and (
                opened is not None or state != ACTIVE or in_quiet_hours(now, tz)
            ):
                not_needed.append(row[0])  # opened meanwhile, paused, or now too late in the day
                continue
            elif state not in SENDABLE_STATES or (
                row[4] == REFLECTION and lesson_status not in (None, SENT, UNCERTAIN)
            ):
                cancelled.append(row[0])
                if row[4] == LESSON and row[6]:
                    give_back.append((row[1], row[6]))
                continue
            items.append(
                OutboxItem(
                    delivery_id=row[0],
                    subscription_id=row[1],
                    learner_id=row[2],
                    chat_id=row[3],
                    kind=row[4],
                    local_date=row[5],
                    lesson_id=row[6],
                    course_run=row[7],
                    attempts=row[8] + 1,
                    due_at=row[9],
                )
            )
        if cancelled:
            await session.execute(
                update(d)
                .where(d.c.id.in_(cancelled))
                .values(status=CANCELLED, last_error="learner not receiving lessons")
            )
            await self._give_back(session, give_back)
        if not_needed:
            await session.execute(
                update(d)
                .where(d.c.id.in_(not_needed))
                .values(status=SKIPPED, last_error="reminder not needed")
            )
        if items:
            await session.execute(
                update(d)
                .where(d.c.id.in_([item.delivery_id for item in items]))
                .values(
                    status=SENDING,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=d.c.attempts + 1,
                )
            )
        return items

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Record a batch of send outcomes in one transaction."""
        if not outcomes:
            return
        async with self._sessions.begin() as session:
            await self._record(session, self._clock.now(), outcomes)

    async def _record(
        self, session: AsyncSession, now: datetime, outcomes: Sequence[Outcome]
    ) -> None:
        d, s = DELIVERIES, SUBSCRIPTIONS
        by_result: dict[Result, list[Outcome]] = defaultdict(list)
        for outcome in await self._still_there(session, outcomes):
            by_result[outcome.result].append(outcome)
        sending = d.c.status == SENDING
        if sent := by_result.get(Result.SENT):
            await session.execute(
                update(d)
                .where(
                    d.c.id == bindparam("b_id"),
                    or_(d.c.status == SENDING, d.c.status == UNCERTAIN),
                )
                .values(
                    status=SENT,
                    telegram_message_id=bindparam("b_message"),
                    error_code=bindparam("b_code"),
                    last_error=bindparam("b_error"),
                    sent_at=now,
                    lease_until=None,
                ),
                [
                    {
                        "b_id": o.item.delivery_id,
                        "b_message": o.message_id,
                        "b_code": o.error_code,
                        "b_error": _clip(o.error),
                    }
                    for o in sent
                ],
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
                await session.execute(self._insert_ignore(session, PROGRESS), progress)
            await self._queue_reminders(
                session, now, [o.item for o in sent if o.item.kind == LESSON and o.item.lesson_id]
            )
        for result, status in (
            (Result.UNCERTAIN, UNCERTAIN),
            (Result.FAILED, FAILED),
            (Result.DEACTIVATE, FAILED),
        ):
            if group := by_result.get(result):
                await session.execute(
                    update(d)
                    .where(d.c.id == bindparam("b_id"), sending)
                    .values(
                        status=status,
                        error_code=bindparam("b_code"),
                        last_error=bindparam("b_error"),
                        lease_until=None,
                    ),
                    [
                        {
                            "b_id": o.item.delivery_id,
                            "b_code": o.error_code,
                            "b_error": _clip(o.error),
                        }
                        for o in group
                    ],
                )
        if retry := by_result.get(Result.RETRY):
            await session.execute(
                update(d)
                .where(d.c.id == bindparam("b_id"), sending)
                .values(
                    status=PENDING,
                    due_at=bindparam("b_due"),
                    error_code=bindparam("b_code"),
                    last_error=bindparam("b_error"),
                    lease_until=None,
                ),
                [
                    {
                        "b_id": o.item.delivery_id,
                        "b_due": o.retry_at or now,
                        "b_code": o.error_code,
                        "b_error": _clip(o.error),
                    }
                    for o in retry
                ],
            )
        if release := by_result.get(Result.RELEASE):
            await session.execute(
                update(d)
                .where(d.c.id.in_([o.item.delivery_id for o in release]), sending)
                .values(status=PENDING, attempts=d.c.attempts - 1, lease_until=None)
            )
        give_back = [
            (o.item.subscription_id, o.item.lesson_id)
            for o in by_result.get(Result.FAILED, [])
            if o.give_back and o.item.kind == LESSON and o.item.lesson_id
        ]
        if gone := by_result.get(Result.DEACTIVATE):
            subscription_ids = sorted({o.item.subscription_id for o in gone})
            give_back += [
                (o.item.subscription_id, o.item.lesson_id)
                for o in gone
                if o.item.kind == LESSON and o.item.lesson_id
            ]
            give_back += await self._cancel_pending(session, subscription_ids)
            await session.execute(
                update(s)
                .where(s.c.id.in_(subscription_ids), s.c.state != STOPPED)
                .values(state=INACTIVE, next_due_at=None, updated_at=now)
            )
        if give_back:
            await self._give_back(session, give_back)

    async def _still_there(
        self, session: AsyncSession, outcomes: Sequence[Outcome]
    ) -> list[Outcome]:
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
        for chunk in _chunks(sorted({o.item.delivery_id for o in outcomes})):
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

    async def _queue_reminders(
        self, session: AsyncSession, now: datetime, lessons: Sequence[OutboxItem]
    ) -> None:
        """One gentle reminder per lesson just sent, for learners who want them, if its time
        falls outside their quiet hours (otherwise none: no night-time pings)."""
        if not lessons or self._remind_after <= timedelta(0):
            return
        s = SUBSCRIPTIONS
        remind_at = now + self._remind_after
        wanted: dict[int, str] = {}
        for chunk in _chunks(sorted({item.subscription_id for item in lessons})):
            rows = await session.execute(
                select(s.c.id, s.c.timezone).where(s.c.id.in_(chunk), s.c.reminders.is_(True))
            )
            wanted.update((row[0], row[1]) for row in rows)
        reminders = [
            {
                "subscription_id": item.subscription_id,
                "chat_id": item.chat_id,
                "kind": REMINDER,
                "local_date": item.local_date,
                "lesson_id": item.lesson_id,
                "due_at": remind_at,
                "status": PENDING,
                "attempts": 0,
                "created_at": now,
            }
            for item in lessons
            if item.subscription_id in wanted
            and not in_quiet_hours(remind_at, wanted[item.subscription_id])
        ]
        if reminders:
            await session.execute(self._insert_ignore(session, DELIVERIES), reminders)

    async def _cancel_pending(
        self, session: AsyncSession, subscription_ids: Sequence[int]
    ) -> list[tuple[int, str]]:
        """Cancel every pending row of these subscriptions; return the lessons they held."""
        d = DELIVERIES
        held: list[tuple[int, str]] = []
        for chunk in _chunks(subscription_ids):
            rows = (
                await session.execute(
                    select(d.c.subscription_id, d.c.kind, d.c.lesson_id).where(
                        d.c.subscription_id.in_(chunk), d.c.status == PENDING
                    )
                )
            ).all()
            held += [(row[0], row[2]) for row in rows if row[1] == LESSON and row[2]]
            await session.execute(
                update(d)
                .where(d.c.subscription_id.in_(chunk), d.c.status == PENDING)
                .values(status=CANCELLED, last_error="Telegram refused delivery to this chat")
            )
        return held

    async def reap_expired_leases(self) -> int:
        """Rows left `sending` past their lease (their worker died) become `uncertain`."""
        now = self._clock.now()
        d = DELIVERIES
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(d)
                .where(d.c.status == SENDING, d.c.lease_until < now)
                .values(
                    status=UNCERTAIN,
                    lease_until=None,
                    last_error="lease expired while sending: the message may have arrived",
                )
            )
            reaped = int(getattr(result, "rowcount", 0) or 0)
        if reaped:
            log.warning("%d deliveries were in flight when their worker stopped", reaped)
        return reaped

    async def next_ready_at(self) -> datetime | None:
        """When the earliest pending row falls due (None when nothing is pending)."""
        d = DELIVERIES
        async with self._sessions.begin() as session:
            value = (
                await session.execute(select(func.min(d.c.due_at)).where(d.c.status == PENDING))
            ).scalar()
        return cast(datetime | None, value)

    # --- for the learner's journey and operators -------------------------------------------------

    async def uncertain_for(self, learner_id: int, *, days: int = 7) -> list[UncertainDelivery]:
        """This learner's recent sends that may not have arrived, newest first (for /today)."""
        d, s = DELIVERIES, SUBSCRIPTIONS
        since = self._clock.now() - timedelta(days=days)
        async with self._sessions.begin() as session:
            rows = (
                await session.execute(
                    select(d.c.id, d.c.kind, d.c.lesson_id, d.c.local_date, d.c.due_at)
                    .join(s, s.c.id == d.c.subscription_id)
                    .where(
                        s.c.learner_id == learner_id, d.c.status == UNCERTAIN, d.c.due_at >= since
                    )
                    .order_by(d.c.due_at.desc())
                )
            ).all()
        return [UncertainDelivery(*row) for row in rows]

    async def counts(self) -> DeliveryCounts:
        """How many outbox rows are in each status."""
        d = DELIVERIES
        async with self._sessions.begin() as session:
            rows = (
                await session.execute(select(d.c.status, func.count()).group_by(d.c.status))
            ).all()
        return DeliveryCounts({status: int(count) for status, count in rows})


async def enqueue(session: AsyncSession, rows: Sequence[NewDelivery], now: datetime) -> int:
    """Queue outbox rows inside the caller's transaction; returns how many were new.

    The one writer of outbox rows outside this module (repository helper, never commits): a row
    whose (subscription, local date, kind) is already queued is left as it is, so asking twice
    sends once.
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
    added = 0
    for chunk in _chunks(values, IN_CHUNK // 10):  # ten parameters a row
        insert = DeliveryService._insert_ignore(session, DELIVERIES).values(list(chunk))
        added += len((await session.execute(insert.returning(DELIVERIES.c.id))).all())
    return added


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
        check_days(subscription.days)
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
                    d.c.status.in_(tuple(_DATE_TAKEN)),
                )
                .order_by(d.c.local_date.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            # The recorded date, or that delivery's date in the new timezone, whichever is later.
            last_date = max(row[0], local_date(row[1], tz))
    return next_delivery(
        now, subscription.delivery_time, tz, subscription.days, last_local_date=last_date
    )
