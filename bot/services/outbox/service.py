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

Where each part lives: `types` (the vocabulary and the plain values, no sqlalchemy), `sql` (the
tables, shared queries, `enqueue` and `next_due_for`), `claim` (who is due), `record` (what
happened to each send) and this module (the service: claim, lease, record, reap, counts). None
of them imports telegram.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Row, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.pattern import stored, waking
from bot.services.outbox.claim import Claim
from bot.services.outbox.record import Record
from bot.services.outbox.sql import (
    DELIVERIES,
    PROGRESS,
    SUBSCRIPTIONS,
    chunks,
    give_back,
    uncount_unopened,
)
from bot.services.outbox.types import (
    ACTIVE,
    CANCELLED,
    CLAIM_BATCH,
    LESSON,
    LESSON_DONE,
    PAUSE_NOTE,
    PAUSED,
    PENDING,
    REFLECTION,
    REMINDER,
    SENDABLE_STATES,
    SENDING,
    SENT,
    SKIPPED,
    UNCERTAIN,
    Backlog,
    CourseOrder,
    DeliveryCounts,
    OutboxItem,
    Outcome,
    Result,
    UncertainDelivery,
)

log = logging.getLogger(__name__)

# A lesson whose arrival is uncertain is offered again for this long after it was due.
OFFER_DAYS = timedelta(days=7)
# How stale a process's list of chats with such a lesson may be (another process's sends).
OFFER_REFRESH = timedelta(seconds=30)


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
        self._grace = timedelta(hours=settings.delivery_grace_hours)
        self._course = CourseOrder.of(lesson.id for lesson in content.lessons)
        self._claim = Claim(content, self._course, self._grace)
        self._record = Record(self._course, timedelta(hours=settings.reminder_after_hours))
        self._may_offer = _MayOffer()

    # --- the tick --------------------------------------------------------------------------------

    async def claim_due(self, limit: int = CLAIM_BATCH) -> int:
        """Claim up to `limit` due subscriptions into the outbox; returns how many were claimed."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            return await self._claim.run(session, now, limit)

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
                await self._recorded(session, now, outcomes)
            if limit <= 0:
                return []
            return await self._lease(session, now, limit, lease_seconds)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Record a batch of send outcomes in one transaction."""
        if not outcomes:
            return
        async with self._sessions.begin() as session:
            await self._recorded(session, self._clock.now(), outcomes)

    async def _recorded(
        self, session: AsyncSession, now: datetime, outcomes: Sequence[Outcome]
    ) -> None:
        await self._record.run(session, now, outcomes)
        if any(outcome.result == Result.UNCERTAIN for outcome in outcomes):
            self._may_offer.stale()  # offer it at this learner's next reply, not in 30 s

    async def _lease(
        self, session: AsyncSession, now: datetime, limit: int, lease_seconds: float
    ) -> list[OutboxItem]:
        rows = (await session.execute(_ready(now, now - self._grace, limit))).all()
        if not rows:
            return []
        lease = _Lease(now)
        for row in rows:
            lease.sort(row)
        d = DELIVERIES
        if lease.cancelled:
            await session.execute(
                update(d)
                .where(d.c.id.in_(lease.cancelled))
                .values(status=CANCELLED, last_error="learner not receiving lessons")
            )
            await give_back(session, self._course, lease.give_back)
        if lease.not_needed:
            await session.execute(
                update(d)
                .where(d.c.id.in_(lease.not_needed))
                .values(status=SKIPPED, last_error="reminder not needed")
            )
        # A reminder the learner's quiet hours kept back until their next lesson: that lesson
        # does not count towards the auto-pause after all.
        await uncount_unopened(session, lease.unremindable)
        if lease.released:
            # In the learner's quiet hours: pending again, due when they end.
            await session.execute(
                update(d)
                .where(d.c.id == bindparam("b_id"), d.c.status == PENDING)
                .values(due_at=bindparam("b_due")),
                [{"b_id": row_id, "b_due": due} for row_id, due in lease.released],
            )
        if lease.items:
            await session.execute(
                update(d)
                .where(d.c.id.in_([item.delivery_id for item in lease.items]))
                .values(
                    status=SENDING,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=d.c.attempts + 1,
                )
            )
        return await self._with_offers(session, now, lease.items)

    async def _with_offers(
        self, session: AsyncSession, now: datetime, items: list[OutboxItem]
    ) -> list[OutboxItem]:
        """The leased items, each lesson carrying the newest lesson of its learner to offer
        again (see `take_uncertain_offer`); it is marked offered once the lesson is sent."""
        chats = await self._may_offer.chats(now, partial(_offerable_chats, session))
        subscriptions = sorted(
            {
                item.subscription_id
                for item in items
                if item.kind == LESSON and item.chat_id in chats
            }
        )
        offers: dict[int, str] = {}
        for chunk in chunks(subscriptions):
            rows = await session.execute(
                _offerable(now, DELIVERIES.c.subscription_id, DELIVERIES.c.lesson_id)
                .where(DELIVERIES.c.subscription_id.in_(chunk))
                .order_by(DELIVERIES.c.due_at)
            )
            offers.update((row.subscription_id, row.lesson_id) for row in rows)  # newest last
        return [
            replace(item, offer=offers[item.subscription_id])
            if offers.get(item.subscription_id) not in (None, item.lesson_id)
            else item
            for item in items
        ]

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
            self._may_offer.stale()
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

    async def take_uncertain_offer(self, chat_id: int) -> str | None:
        """The lesson to offer again in this private chat: the newest recent lesson sent here
        whose arrival is uncertain, not yet offered and not opened, done or skipped since (it
        arrived, then). Each such row is marked offered, so each is offered once; None when
        there is nothing to offer.

        Called after every private update, so a chat with nothing to offer costs no query: the
        service keeps the chats that may have one (`_MayOffer`), read from the database at most
        every `OFFER_REFRESH` (another process may have recorded the send) and at once after
        this process recorded one."""
        now = self._clock.now()
        if chat_id not in await self._may_offer.chats(now, self._offerable_chats):
            return None
        async with self._sessions.begin() as session:
            rows = (
                await session.execute(
                    _offerable(now, DELIVERIES.c.id, DELIVERIES.c.lesson_id)
                    .where(DELIVERIES.c.chat_id == chat_id)
                    .order_by(DELIVERIES.c.due_at)
                )
            ).all()
            if rows:
                await session.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id.in_([row.id for row in rows]))
                    .values(offered_at=now)
                )
        self._may_offer.discard(chat_id)
        return str(rows[-1].lesson_id) if rows else None

    async def _offerable_chats(self, now: datetime) -> set[int]:
        async with self._sessions.begin() as session:
            return await _offerable_chats(session, now)

    async def counts(self) -> DeliveryCounts:
        """How many outbox rows are in each status."""
        d = DELIVERIES
        async with self._sessions.begin() as session:
            rows = (
                await session.execute(select(d.c.status, func.count()).group_by(d.c.status))
            ).all()
        return DeliveryCounts({status: int(count) for status, count in rows})

    async def backlog(self) -> Backlog:
        """Pending rows due now and the oldest one's wait (for /healthz and /metrics)."""
        d = DELIVERIES
        now = self._clock.now()
        async with self._sessions.begin() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(d.c.due_at)).where(
                        d.c.status == PENDING, d.c.due_at <= now
                    )
                )
            ).one()
        waited = (now - oldest).total_seconds() if oldest is not None else 0.0
        return Backlog(pending=int(count), oldest_seconds=max(0.0, waited))


class _MayOffer:
    """The chats that may have a lesson to offer again, as last read from the database.

    Such lessons are rare, so most updates are answered from this set alone. It is read again
    once `OFFER_REFRESH` has passed (another process may have recorded an uncertain send) and
    at once after this process recorded one; a chat is dropped once its offers are taken.
    """

    def __init__(self) -> None:
        self._chats: set[int] = set()
        self._read_at: datetime | None = None

    async def chats(
        self, now: datetime, read: Callable[[datetime], Awaitable[set[int]]]
    ) -> set[int]:
        """The chats, read again first when stale (by `read`, in the caller's transaction)."""
        if self._read_at is None or not timedelta(0) <= now - self._read_at < OFFER_REFRESH:
            self._chats, self._read_at = await read(now), now
        return self._chats

    def stale(self) -> None:
        """Read them again at the next question."""
        self._read_at = None

    def discard(self, chat_id: int) -> None:
        """This chat's offers were taken (or there were none)."""
        self._chats.discard(chat_id)


async def _offerable_chats(session: AsyncSession, now: datetime) -> set[int]:
    """The chats with a lesson to offer again."""
    return set(await session.scalars(_offerable(now, DELIVERIES.c.chat_id).distinct()))


def _offerable(now: datetime, *columns: Any) -> Select[Any]:
    """`columns` of the lesson rows to offer again: sent within `OFFER_DAYS`, their arrival
    uncertain, not offered yet, and not opened, done or skipped since (then it arrived)."""
    d, s, p = DELIVERIES, SUBSCRIPTIONS, PROGRESS
    return (
        select(*columns)
        .select_from(d)
        .join(s, s.c.id == d.c.subscription_id)
        .outerjoin(
            p,
            and_(
                p.c.learner_id == s.c.learner_id,
                p.c.lesson_id == d.c.lesson_id,
                p.c.course_run == s.c.course_run,
            ),
        )
        .where(
            d.c.status == UNCERTAIN,
            d.c.due_at >= now - OFFER_DAYS,
            d.c.kind == LESSON,
            d.c.lesson_id.is_not(None),
            d.c.offered_at.is_(None),
            p.c.opened_at.is_(None),
            p.c.done_at.is_(None),
            p.c.skipped_at.is_(None),
        )
    )


def _ready(now: datetime, oldest: datetime, limit: int) -> Select[Any]:
    """Pending rows due between `oldest` and now, locked, with what decides their fate.

    Each row carries its subscription's state and what decides its quiet hours (timezone,
    pattern, days, lesson time) and next lesson, the status of that day's lesson row (for a
    reflection) and when the lesson was opened, done or skipped (for a reminder).
    """
    d, s, p = DELIVERIES, SUBSCRIPTIONS, PROGRESS
    lesson_row = DELIVERIES.alias("lesson_row")
    return (
        select(
            d.c.id.label("delivery_id"),
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
            lesson_row.c.status.label("lesson_status"),
            s.c.timezone,
            s.c.pattern,
            s.c.days,
            s.c.delivery_time,
            s.c.next_due_at,
            func.coalesce(p.c.opened_at, p.c.done_at, p.c.skipped_at).label("opened_at"),
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
            d.c.due_at >= oldest,
            or_(
                d.c.kind != REFLECTION,
                lesson_row.c.status.is_(None),
                lesson_row.c.status.in_(LESSON_DONE),
            ),
        )
        .order_by(d.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=d)
    )


@dataclass(slots=True)
class _Lease:
    """One lease, sorted: what is sent now, cancelled, no longer needed, or held back until
    the learner's quiet hours end."""

    now: datetime
    items: list[OutboxItem] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    not_needed: list[int] = field(default_factory=list)
    give_back: list[tuple[int, str]] = field(default_factory=list)
    released: list[tuple[int, datetime]] = field(default_factory=list)
    unremindable: list[int] = field(default_factory=list)  # subscription ids
    # (pattern, days, lesson time, timezone) -> when that learner is next awake (None: invalid)
    _awake: dict[tuple[Any, ...], datetime | None] = field(default_factory=dict)

    def sort(self, row: Row[Any]) -> None:
        """Decide one ready row, checked immediately before the send."""
        if row.kind == PAUSE_NOTE and row.state == PAUSED:
            pass  # the note saying lessons have paused is the one thing a paused learner gets
        elif row.kind == REMINDER and (row.opened_at is not None or row.state != ACTIVE):
            self.not_needed.append(row.delivery_id)  # opened meanwhile, or paused
            return
        elif row.state not in SENDABLE_STATES or (
            row.kind == REFLECTION and row.lesson_status not in (None, SENT, UNCERTAIN)
        ):
            self.cancelled.append(row.delivery_id)
            if row.kind == LESSON and row.lesson_id:
                self.give_back.append((row.subscription_id, row.lesson_id))
            return
        if row.kind != LESSON and self._held_back(row):
            return  # lessons are never in quiet hours (the pattern puts them at waking times)
        self.items.append(
            OutboxItem(
                delivery_id=row.delivery_id,
                subscription_id=row.subscription_id,
                learner_id=row.learner_id,
                chat_id=row.chat_id,
                kind=row.kind,
                local_date=row.local_date,
                lesson_id=row.lesson_id,
                course_run=row.course_run,
                attempts=row.attempts + 1,
                due_at=row.due_at,
            )
        )

    def _held_back(self, row: Row[Any]) -> bool:
        """True when the row must not go now, being in the learner's quiet hours: released to
        their end (a reminder that would then meet the next lesson is no longer needed)."""
        awake = self._awake_at(row)
        if awake is None:
            if row.kind != REMINDER:
                return False  # an invalid schedule: say what was asked for rather than lose it
            self.not_needed.append(row.delivery_id)  # stay quiet rather than risk a night ping
            self.unremindable.append(row.subscription_id)
            return True
        if awake <= self.now:
            return False
        if row.kind == REMINDER and row.next_due_at is not None and awake >= row.next_due_at:
            self.not_needed.append(row.delivery_id)
            self.unremindable.append(row.subscription_id)
        else:
            self.released.append((row.delivery_id, awake))
        return True

    def _awake_at(self, row: Row[Any]) -> datetime | None:
        """Now, or when this row's learner's quiet hours end (None: their schedule is invalid)."""
        key = (row.pattern, row.days, row.delivery_time, row.timezone)
        if key not in self._awake:
            try:
                pattern = stored(row.pattern, row.days, row.delivery_time)
                self._awake[key] = waking(self.now, pattern, row.timezone)
            except ValueError:
                self._awake[key] = None
        return self._awake[key]
