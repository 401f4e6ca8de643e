"""Enrolment: consent, a learner's schedule, and the life of their subscription.

A service: each public method is one transaction and returns plain dataclasses, never ORM rows.
It owns the consent moment (the learner row and their data key), the schedule columns of
`subscriptions` (time, timezone, days, reflection time, reminders) and the lifecycle states:

    (consent) -> setup -> active <-> paused
                            |  \\-> finished (the course ran out) -> /restart -> active
                            +--> stopped -> /resume -> active
    inactive (Telegram refused delivery; set by the delivery engine) -> /start or /resume -> active

`setup` means the learner consented but has not confirmed a schedule yet: nothing is delivered
until they do. Lessons given interactively (the first lesson, /next) count as that local date's
lesson, so the engine never adds a second one that day, and the engine picks the lesson after
`last_lesson_id`, so nothing is repeated. `next_due_at` is always recomputed from now: a learner
coming back gets their next slot, never a backlog.

This module never imports telegram.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.crypto import Keyring
from bot.core.pattern import (
    Pattern,
    PatternKind,
    next_lesson,
    prompt_at,
    to_column,
    waking,
    week_answer,
    with_quiet_hours,
)
from bot.core.schedule import (
    EVERY_DAY,
    WEEKDAYS,
    check_days,
    local_date,
    local_instant,
    zone,
)
from bot.core.states import DeliveryKind, SubscriptionState
from bot.core.timeparse import is_usable_timezone
from bot.db.engine import reading
from bot.db.models import Learner, LessonProgress, Subscription
from bot.results.enrolment import Enrolment, LessonResult, Schedule
from bot.services.learners import learner_row
from bot.services.outbox.sql import enqueue, next_due_for, pattern_of
from bot.services.outbox.types import NewDelivery

DEFAULT_TIME = time(8, 0)
DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_DAYS = WEEKDAYS

# The free-text flow of the schedule screens (see bot.handlers.text); its pending action is
# "sched:<field>" and every schedule change clears it.
SCHEDULE_FLOW = "sched"

# Every state past set-up: the learner has confirmed a schedule at some point.
_ENROLLED = frozenset(SubscriptionState) - {SubscriptionState.SETUP}

# How late the clock job may notice a pause's end and still give that day's slot.
PAUSE_SLACK = timedelta(hours=1)
_JUST_BEFORE = timedelta(seconds=1)
SUNDAY = 6  # the day a weekly learner is asked about the coming week


class WrongState(Exception):
    """The learner's subscription is not in a state that allows this (None: not enrolled)."""

    def __init__(self, state: str | None) -> None:
        super().__init__(state or "not enrolled")
        self.state = state


class ScheduleError(ValueError):
    """A schedule value that cannot be used (unknown timezone, no days, reflection too early)."""


class EnrolmentService:
    """Consent, schedule settings and the subscription lifecycle."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        keyring: Keyring,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._content = content
        self._keyring = keyring

    # --- reading ---------------------------------------------------------------------------------

    async def status(self, telegram_user_id: int) -> Enrolment | None:
        """The learner's enrolment; None when they have not consented (nothing is stored)."""
        async with reading(self._sessions) as session:
            found = await self._find(session, telegram_user_id, lock=False)
            if found is None:
                return None
            return await self._enrolment(session, *found)

    # --- consent and the first lesson ------------------------------------------------------------

    async def consent(self, telegram_user_id: int, chat_id: int) -> Enrolment:
        """Record consent: the learner row, their data key, and a subscription in setup.

        Idempotent: pressing "I agree" twice (or on an old welcome) changes nothing further.
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner = await learner_row(session, telegram_user_id, chat_id, now)
            learner.chat_id = chat_id
            learner.last_active_at = now
            if learner.consented_at is None:
                learner.consented_at = now
            if learner.wrapped_data_key is None:
                learner.wrapped_data_key = self._keyring.new_wrapped_key(learner.id)
            sub = await session.scalar(
                select(Subscription).where(Subscription.learner_id == learner.id)
            )
            if sub is None:
                sub = Subscription(
                    learner_id=learner.id,
                    state=SubscriptionState.SETUP,
                    delivery_time=DEFAULT_TIME,
                    timezone=DEFAULT_TIMEZONE,
                    days=DEFAULT_DAYS,
                    reflection_time=None,
                    reminders=True,
                    next_due_at=None,
                    paused_until=None,
                    last_lesson_id=None,
                    course_run=1,
                    unopened_streak=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(sub)
                await session.flush()
            return await self._enrolment(session, learner, sub)

    async def start(self, telegram_user_id: int, *, lesson_now: bool) -> LessonResult:
        """Confirm the schedule: lessons begin, with the first one now or at the next slot.

        WrongState unless the learner is in setup (e.g. "Start" pressed again on an old screen).
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner, sub = await self._require(session, telegram_user_id, {SubscriptionState.SETUP})
            sub.state = SubscriptionState.ACTIVE
            await _clear_flow(session, learner)
            lesson_id = None
            if lesson_now:
                lesson_id = await self._deliver_next(session, learner, sub, now)
            if sub.state == SubscriptionState.ACTIVE:
                sub.next_due_at = await self._next_due(session, learner, sub, now)
            sub.updated_at = now
            return LessonResult(await self._enrolment(session, learner, sub), lesson_id)

    async def next_lesson_now(self, telegram_user_id: int) -> LessonResult:
        """Deliver the next lesson now (/next): advance the place, record it, return its id.

        The lesson counts as today's: the schedule moves past today's local date so the engine
        does not add another. At the end of the course the subscription is finished and no
        lesson id is returned. Allowed while active, paused or finished; WrongState otherwise.
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner, sub = await self._require(
                session,
                telegram_user_id,
                {SubscriptionState.ACTIVE, SubscriptionState.PAUSED, SubscriptionState.FINISHED},
            )
            lesson_id = None
            if sub.state != SubscriptionState.FINISHED:
                lesson_id = await self._deliver_next(session, learner, sub, now)
            if sub.state == SubscriptionState.ACTIVE:
                sub.next_due_at = await self._next_due(session, learner, sub, now)
            learner.last_active_at = now
            return LessonResult(await self._enrolment(session, learner, sub), lesson_id)

    async def latest_lesson(self, telegram_user_id: int) -> LessonResult:
        """The learner's latest lesson again (/today), also after an uncertain delivery.

        `last_lesson_id` is the lesson the engine last claimed for them, so a send that may not
        have arrived is served here; its progress row is recorded if the engine could not.
        lesson_id is None when no lesson has come yet. WrongState when not enrolled or in setup.
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner, sub = await self._require(
                session,
                telegram_user_id,
                _ENROLLED,
            )
            lesson_id = sub.last_lesson_id
            if lesson_id is not None and self._content.lesson(lesson_id) is not None:
                await _record_delivery(session, learner.id, lesson_id, sub.course_run, now)
            else:
                lesson_id = None
            learner.last_active_at = now
            return LessonResult(await self._enrolment(session, learner, sub), lesson_id)

    # --- schedule settings -----------------------------------------------------------------------

    async def set_time(self, telegram_user_id: int, at: time) -> Enrolment:
        """Change the lesson time; a reflection time no longer after it moves to the lesson.
        ScheduleError if it falls in the learner's own quiet hours."""
        at = at.replace(second=0, microsecond=0, tzinfo=None)
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            kept = pattern_of(sub)
            if kept.kind != PatternKind.ROTA:  # a rota's own times are its lesson times
                self._quiet(replace(kept, lesson_time=at), kept.quiet_from, kept.quiet_until)
            sub.delivery_time = at
            if sub.reflection_time is not None and sub.reflection_time <= at:
                sub.reflection_time = None
            return await self._changed(session, learner, sub)

    async def set_timezone(self, telegram_user_id: int, name: str) -> Enrolment:
        """Change the timezone (an IANA name); ScheduleError for an unknown one."""
        if not is_usable_timezone(name):
            raise ScheduleError(f"{name!r} is not a timezone")
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            if sub.paused_until is not None:
                # A pause ends on a local date: keep that date in the new timezone.
                back_on = local_date(sub.paused_until, sub.timezone)
                sub.paused_until = local_instant(back_on, time(0, 0), name)
            sub.timezone = name
            return await self._changed(session, learner, sub)

    async def set_days(self, telegram_user_id: int, days: int) -> Enrolment:
        """Change the delivery days (bitmask, bit 0 = Monday); ScheduleError when it has none."""
        try:
            check_days(days)
        except ValueError as exc:
            raise ScheduleError(str(exc)) from exc
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            sub.days = days
            return await self._changed(session, learner, sub)

    async def set_pattern(self, telegram_user_id: int, pattern: Pattern) -> Enrolment:
        """Choose a shift pattern: fixed days, a rota, or ask each week (ScheduleError if it is
        not valid). The learner's own quiet hours are kept unless the pattern carries its own."""
        try:
            pattern = pattern.checked()
        except ValueError as exc:
            raise ScheduleError(str(exc)) from exc
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            kept = pattern_of(sub)
            if pattern.quiet_from is None and kept.quiet_from is not None:
                pattern = self._quiet(pattern, kept.quiet_from, kept.quiet_until)
            self._store(sub, pattern)
            return await self._changed(session, learner, sub)

    async def set_quiet_hours(
        self, telegram_user_id: int, start: time | None, end: time | None
    ) -> Enrolment:
        """Quiet hours of the learner's own (local, may cross midnight), or back to the default
        (None, None: the 9 hours before each lesson). ScheduleError if a lesson falls in them."""
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            self._store(sub, self._quiet(pattern_of(sub), start, end))
            return await self._changed(session, learner, sub)

    async def answer_week(self, telegram_user_id: int, week_of: date, days: int) -> Enrolment:
        """A weekly learner's days for the week starting Monday `week_of` (0: none that week)."""
        if week_of.weekday() != 0 or not 0 <= days <= EVERY_DAY:
            raise ScheduleError("a week starts on a Monday, and its days are Monday to Sunday")
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            pattern = pattern_of(sub)
            if pattern.kind != PatternKind.WEEKLY:
                raise WrongState(sub.state)
            # The answer also becomes the days that stand until the next answer ("last week's
            # choice"); a week with no lessons leaves those as they were.
            standing = days or pattern.days
            self._store(sub, replace(pattern, days=standing, week_of=week_of, week_days=days))
            return await self._changed(session, learner, sub)

    @staticmethod
    def _quiet(pattern: Pattern, start: time | None, end: time | None) -> Pattern:
        try:
            return with_quiet_hours(pattern, start, end)
        except ValueError as exc:
            raise ScheduleError(str(exc)) from exc

    @staticmethod
    def _store(sub: Subscription, pattern: Pattern) -> None:
        """Write a pattern to the row: fixed days and weekly keep their days and time in the
        `days` and `delivery_time` columns, as every subscription always has."""
        if pattern.kind != PatternKind.ROTA and pattern.lesson_time is not None:
            sub.days, sub.delivery_time = pattern.days, pattern.lesson_time
        sub.pattern = to_column(pattern)

    async def set_reflection_time(self, telegram_user_id: int, at: time | None) -> Enrolment:
        """Prompt with the lesson (None) or later that day; ScheduleError if not later."""
        at = at.replace(second=0, microsecond=0, tzinfo=None) if at is not None else None
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            if at is not None and at <= sub.delivery_time:
                raise ScheduleError("the reflection time must be later than the lesson time")
            sub.reflection_time = at
            return await self._changed(session, learner, sub)

    async def set_reminders(self, telegram_user_id: int, on: bool) -> Enrolment:
        """Turn the gentle reminder for an unopened lesson on or off."""
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            sub.reminders = on
            return await self._changed(session, learner, sub)

    async def close_settings(self, telegram_user_id: int) -> Enrolment | None:
        """Leave the settings screens: forget any half-typed schedule answer."""
        async with self._sessions.begin() as session:
            found = await self._find(session, telegram_user_id, lock=True)
            if found is None:
                return None
            await _clear_flow(session, found[0])
            return await self._enrolment(session, *found)

    # --- pause, resume, stop, restart ------------------------------------------------------------

    async def pause(self, telegram_user_id: int, back_on: date) -> Enrolment:
        """Pause daily lessons until the local date `back_on` (they resume that day's slot).

        Allowed while active or paused (a new date replaces the old); WrongState otherwise.
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner, sub = await self._require(
                session, telegram_user_id, {SubscriptionState.ACTIVE, SubscriptionState.PAUSED}
            )
            sub.state = SubscriptionState.PAUSED
            sub.paused_until = local_instant(back_on, time(0, 0), sub.timezone)
            sub.next_due_at = None
            sub.updated_at = now
            learner.last_active_at = now
            return await self._enrolment(session, learner, sub)

    async def resume(self, telegram_user_id: int) -> Enrolment:
        """Lessons on again from the next slot after now, never a backlog.

        From paused, stopped or inactive; WrongState otherwise (already active, setup, finished).
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner, sub = await self._require(
                session,
                telegram_user_id,
                {SubscriptionState.PAUSED, SubscriptionState.STOPPED, SubscriptionState.INACTIVE},
            )
            await self._activate(session, learner, sub, now)
            learner.last_active_at = now
            return await self._enrolment(session, learner, sub)

    async def stop(self, telegram_user_id: int) -> Enrolment:
        """Stop daily lessons; everything stored is kept (WrongState when not enrolled)."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner, sub = await self._require_enrolled(session, telegram_user_id)
            if sub.state not in (SubscriptionState.STOPPED, SubscriptionState.FINISHED):
                sub.state = SubscriptionState.STOPPED
            sub.next_due_at = None
            sub.paused_until = None
            sub.updated_at = now
            learner.last_active_at = now
            await _clear_flow(session, learner)
            return await self._enrolment(session, learner, sub)

    async def restart(self, telegram_user_id: int) -> Enrolment:
        """The course again from lesson 1 in a new run; the previous runs' history is kept.

        Lessons are switched on (from the next slot; never a second lesson today). WrongState
        when not enrolled or still in setup.
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner, sub = await self._require(
                session,
                telegram_user_id,
                _ENROLLED,
            )
            sub.course_run += 1
            sub.last_lesson_id = None
            await self._activate(session, learner, sub, now)
            learner.last_active_at = now
            return await self._enrolment(session, learner, sub)

    async def end_due_pauses(self) -> int:
        """Switch lessons back on for every pause whose date has come (a clock job)."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            rows = (
                await session.execute(
                    select(Learner, Subscription)
                    .join(Subscription, Subscription.learner_id == Learner.id)
                    .where(
                        Subscription.state == SubscriptionState.PAUSED,
                        Subscription.paused_until.is_not(None),
                        Subscription.paused_until <= now,
                    )
                    .with_for_update(of=Subscription, skip_locked=True)
                )
            ).all()
            for learner, sub in rows:
                await self._activate(session, learner, sub, now)
            return len(rows)

    async def queue_week_prompts(self) -> int:
        """Queue Sunday's "which days next week?" message for every active weekly learner (a
        clock job): at their Sunday lesson time moved out of their quiet hours, through the
        outbox (`enqueue` keeps it to one a Sunday however often this runs)."""
        now = self._clock.now()
        rows: list[NewDelivery] = []
        async with self._sessions.begin() as session:
            found = await session.execute(
                select(Subscription, Learner.chat_id)
                .join(Learner, Learner.id == Subscription.learner_id)
                .where(
                    Subscription.state == SubscriptionState.ACTIVE,
                    Subscription.pattern.contains(f'"kind": "{PatternKind.WEEKLY}"'),
                )
            )
            for sub, chat_id in found.all():
                try:
                    pattern, tz = pattern_of(sub), zone(sub.timezone)
                except ValueError:
                    continue
                today = local_date(now, tz)
                if pattern.kind != PatternKind.WEEKLY or today.weekday() != SUNDAY:
                    continue
                due = prompt_at(pattern, today, tz)
                if due < now:  # became weekly after Sunday's time: ask now, if awake
                    due = waking(now, pattern, tz)
                monday = today + timedelta(days=1)
                shown = str(week_answer(pattern, monday))
                rows.append(
                    NewDelivery(sub.id, chat_id, DeliveryKind.WEEK_PROMPT, today, due, shown)
                )
            return await enqueue(session, rows, now)

    # --- internals -------------------------------------------------------------------------------

    async def _find(
        self, session: AsyncSession, telegram_user_id: int, *, lock: bool
    ) -> tuple[Learner, Subscription] | None:
        stmt = (
            select(Learner, Subscription)
            .join(Subscription, Subscription.learner_id == Learner.id)
            .where(Learner.telegram_user_id == telegram_user_id, Learner.consented_at.is_not(None))
        )
        if lock:
            # Serialises with the delivery engine's claim (PostgreSQL; SQLite's BEGIN IMMEDIATE
            # already serialises writers), so a lesson is never picked twice.
            stmt = stmt.with_for_update(of=Subscription)
        row = (await session.execute(stmt)).first()
        return (row[0], row[1]) if row is not None else None

    async def _require(
        self, session: AsyncSession, telegram_user_id: int, states: AbstractSet[str]
    ) -> tuple[Learner, Subscription]:
        found = await self._find(session, telegram_user_id, lock=True)
        if found is None:
            raise WrongState(None)
        if found[1].state not in states:
            raise WrongState(found[1].state)
        return found

    async def _require_enrolled(
        self, session: AsyncSession, telegram_user_id: int
    ) -> tuple[Learner, Subscription]:
        return await self._require(
            session,
            telegram_user_id,
            frozenset(SubscriptionState),
        )

    async def _changed(
        self, session: AsyncSession, learner: Learner, sub: Subscription
    ) -> Enrolment:
        """After a schedule change: forget the typed-answer flow, reschedule, report."""
        now = self._clock.now()
        await _clear_flow(session, learner)
        learner.last_active_at = now
        sub.updated_at = now
        if sub.state == SubscriptionState.ACTIVE:
            sub.next_due_at = await self._next_due(session, learner, sub, now)
        return await self._enrolment(session, learner, sub)

    async def _activate(
        self, session: AsyncSession, learner: Learner, sub: Subscription, now: datetime
    ) -> None:
        after = now
        if sub.state == SubscriptionState.PAUSED and sub.paused_until is not None:
            # A pause ending now gives back that day's slot even at 00:00 (strictly after).
            after = min(now, max(sub.paused_until - _JUST_BEFORE, now - PAUSE_SLACK))
        sub.state = SubscriptionState.ACTIVE
        sub.paused_until = None
        sub.unopened_streak = 0
        sub.updated_at = now
        sub.next_due_at = await self._next_due(session, learner, sub, after)

    async def _next_due(
        self, session: AsyncSession, learner: Learner, sub: Subscription, now: datetime
    ) -> datetime | None:
        """The next slot after now, on a local date that had no lesson (outbox or interactive)."""
        by_outbox = await next_due_for(session, sub, now)
        if by_outbox is None:
            return None
        last_given = await session.scalar(
            select(func.max(LessonProgress.delivered_at)).where(
                LessonProgress.learner_id == learner.id
            )
        )
        if last_given is None:
            return by_outbox
        by_progress = next_lesson(
            now,
            pattern_of(sub),
            sub.timezone,
            last_local_date=local_date(last_given, sub.timezone),
        )
        return max(by_outbox, by_progress)

    async def _deliver_next(
        self, session: AsyncSession, learner: Learner, sub: Subscription, now: datetime
    ) -> str | None:
        """Advance the learner's place by one lesson and record it; None (finished) at the end."""
        lesson_id = self._content.next_lesson_id(sub.last_lesson_id)
        if lesson_id is None:
            sub.state = SubscriptionState.FINISHED
            sub.next_due_at = None
            sub.paused_until = None
            sub.updated_at = now
            return None
        sub.last_lesson_id = lesson_id
        sub.unopened_streak = 0
        sub.updated_at = now
        await _record_delivery(session, learner.id, lesson_id, sub.course_run, now)
        return lesson_id

    async def _enrolment(
        self, session: AsyncSession, learner: Learner, sub: Subscription
    ) -> Enrolment:
        counts = (
            await session.execute(
                select(func.count(), func.count(LessonProgress.done_at)).where(
                    LessonProgress.learner_id == learner.id,
                    LessonProgress.course_run == sub.course_run,
                )
            )
        ).one()
        had, done = counts[0], counts[1]
        return Enrolment(
            learner_id=learner.id,
            state=sub.state,
            schedule=Schedule(
                delivery_time=sub.delivery_time,
                timezone=sub.timezone,
                days=sub.days,
                reflection_time=sub.reflection_time,
                reminders=sub.reminders,
                pattern=pattern_of(sub),
            ),
            next_lesson_at=await self._next_lesson_at(session, learner, sub),
            paused_until=sub.paused_until,
            last_lesson_id=sub.last_lesson_id,
            course_run=sub.course_run,
            lessons_had=int(had or 0),
            lessons_done=int(done or 0),
        )

    async def _next_lesson_at(
        self, session: AsyncSession, learner: Learner, sub: Subscription
    ) -> datetime | None:
        now = self._clock.now()
        if sub.state == SubscriptionState.ACTIVE:
            return sub.next_due_at
        if sub.state == SubscriptionState.SETUP:
            return await self._next_due(session, learner, sub, now)
        if sub.state == SubscriptionState.PAUSED and sub.paused_until is not None:
            after = max(now, sub.paused_until - _JUST_BEFORE)
            return await self._next_due(session, learner, sub, after)
        return None


async def _clear_flow(session: AsyncSession, learner: Learner) -> None:
    """Forget a pending schedule answer (never another feature's pending action)."""
    if learner.pending_action is not None and learner.pending_action.startswith(
        SCHEDULE_FLOW + ":"
    ):
        learner.pending_action = None


async def _record_delivery(
    session: AsyncSession, learner_id: int, lesson_id: str, course_run: int, now: datetime
) -> None:
    """A progress row saying this lesson reached the learner in this run (kept if it exists)."""
    exists = await session.scalar(
        select(LessonProgress.id).where(
            LessonProgress.learner_id == learner_id,
            LessonProgress.lesson_id == lesson_id,
            LessonProgress.course_run == course_run,
        )
    )
    if exists is None:
        session.add(
            LessonProgress(
                learner_id=learner_id,
                lesson_id=lesson_id,
                course_run=course_run,
                delivered_at=now,
            )
        )
        await session.flush()


__all__ = [
    "EnrolmentService",
    "ScheduleError",
    "WrongState",
]
