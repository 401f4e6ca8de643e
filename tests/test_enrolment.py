"""The enrolment service on real databases: consent, schedule, lessons now, pause, stop, restart."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.content.schema import Content
from bot.core.clock import FakeClock
from bot.core.crypto import Keyring
from bot.core.pattern import rota, weekly
from bot.core.schedule import EVERY_DAY, WEEKDAYS, days_mask
from bot.core.states import DeliveryKind, SubscriptionState
from bot.db.engine import create_sessions
from bot.db.models import Learner, LessonProgress, Subscription
from bot.services.enrolment import EnrolmentService, ScheduleError, WrongState
from bot.services.learners import LearnerService
from bot.services.learning import LearningService
from bot.services.outbox.service import DeliveryService
from bot.services.outbox.types import Outcome, Result
from tests.support.factories import make_content

USER = 1001
# The clock fixture: Monday 30 November 2026, 07:00 in London (GMT).
MONDAY_7 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@pytest.fixture
def content() -> Content:
    return make_content(3)


@pytest.fixture
def service(engine: AsyncEngine, clock: FakeClock, content: Content) -> EnrolmentService:
    return EnrolmentService(create_sessions(engine), clock, content, Keyring(b"k" * 32))


@pytest.fixture
def delivery(engine: AsyncEngine, clock: FakeClock, content: Content) -> DeliveryService:
    return DeliveryService(create_sessions(engine), clock, content, Settings(_env_file=None))


async def rows(engine: AsyncEngine, model: Any) -> list[Any]:
    async with create_sessions(engine)() as session:
        return list((await session.scalars(select(model))).all())


async def deliver_due(delivery: DeliveryService) -> list[str | None]:
    """Run the engine once: claim, then send everything ready; the lesson ids sent."""
    await delivery.claim_due()
    items = await delivery.lease_batch(100)
    await delivery.record_outcomes([Outcome(item, Result.SENT, message_id=1) for item in items])
    return [item.lesson_id for item in items]


# --- consent -------------------------------------------------------------------------------------


async def test_nothing_is_stored_before_consent(
    service: EnrolmentService, engine: AsyncEngine
) -> None:
    assert await service.status(USER) is None
    assert await rows(engine, Learner) == []


async def test_consent_stores_learner_key_and_a_subscription_in_setup(
    service: EnrolmentService, engine: AsyncEngine
) -> None:
    enrolment = await service.consent(USER, chat_id=USER)
    assert enrolment.state == SubscriptionState.SETUP
    assert enrolment.schedule.delivery_time == time(8, 0)
    assert enrolment.schedule.timezone == "Europe/London"
    assert enrolment.schedule.days == WEEKDAYS
    assert enrolment.schedule.reflection_time is None
    # Previewed, not stored: nothing is delivered until the learner confirms.
    assert enrolment.next_lesson_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    [learner] = await rows(engine, Learner)
    assert learner.consented_at == MONDAY_7 and learner.wrapped_data_key
    [sub] = await rows(engine, Subscription)
    assert sub.next_due_at is None


async def test_consent_twice_is_one_learner_and_one_subscription(
    service: EnrolmentService, engine: AsyncEngine
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.consent(USER, chat_id=USER)
    assert len(await rows(engine, Learner)) == 1
    assert len(await rows(engine, Subscription)) == 1


# --- starting ------------------------------------------------------------------------------------


async def test_start_with_the_first_lesson_now_counts_as_today(
    service: EnrolmentService, engine: AsyncEngine
) -> None:
    await service.consent(USER, chat_id=USER)
    result = await service.start(USER, lesson_now=True)
    assert result.lesson_id == "l01"
    assert result.enrolment.state == SubscriptionState.ACTIVE
    assert result.enrolment.lessons_had == 1
    # Monday's 08:00 slot is not used as well: the next lesson is Tuesday's.
    assert result.enrolment.next_lesson_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    [progress] = await rows(engine, LessonProgress)
    assert (progress.lesson_id, progress.course_run, progress.delivered_at) == ("l01", 1, MONDAY_7)


async def test_start_at_the_chosen_time_waits_for_the_slot(service: EnrolmentService) -> None:
    await service.consent(USER, chat_id=USER)
    result = await service.start(USER, lesson_now=False)
    assert result.lesson_id is None
    assert result.enrolment.next_lesson_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


async def test_start_twice_never_gives_a_second_lesson(service: EnrolmentService) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=True)
    with pytest.raises(WrongState) as caught:
        await service.start(USER, lesson_now=True)
    assert caught.value.state == SubscriptionState.ACTIVE


async def test_not_enrolled_is_refused(service: EnrolmentService) -> None:
    for call in (
        service.next_lesson_now(USER),
        service.latest_lesson(USER),
        service.resume(USER),
        service.stop(USER),
        service.restart(USER),
    ):
        with pytest.raises(WrongState) as caught:
            await call
        assert caught.value.state is None


# --- lessons now and the engine ------------------------------------------------------------------


async def test_next_lesson_now_is_not_repeated_by_the_engine(
    service: EnrolmentService, delivery: DeliveryService, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert await deliver_due(delivery) == ["l01"]
    clock.advance(timedelta(hours=2))
    result = await service.next_lesson_now(USER)
    assert result.lesson_id == "l02"
    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert await deliver_due(delivery) == ["l03"]


async def test_next_before_todays_slot_takes_its_place(
    service: EnrolmentService, delivery: DeliveryService, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    result = await service.next_lesson_now(USER)  # 07:00, before Monday's 08:00 slot
    assert result.lesson_id == "l01"
    assert result.enrolment.next_lesson_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    clock.set(datetime(2026, 11, 30, 8, 30, tzinfo=UTC))
    assert await deliver_due(delivery) == []
    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert await deliver_due(delivery) == ["l02"]


async def test_the_end_of_the_course_finishes_the_subscription(
    service: EnrolmentService,
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=True)
    assert (await service.next_lesson_now(USER)).lesson_id == "l02"
    assert (await service.next_lesson_now(USER)).lesson_id == "l03"
    result = await service.next_lesson_now(USER)
    assert result.lesson_id is None
    assert result.enrolment.state == SubscriptionState.FINISHED
    assert result.enrolment.next_lesson_at is None
    again = await service.next_lesson_now(USER)
    assert again.lesson_id is None and again.enrolment.state == SubscriptionState.FINISHED


async def test_latest_lesson_serves_an_uncertain_delivery(
    service: EnrolmentService, delivery: DeliveryService, clock: FakeClock, engine: AsyncEngine
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    nothing_yet = await service.latest_lesson(USER)
    assert nothing_yet.lesson_id is None
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    await delivery.claim_due()
    items = await delivery.lease_batch(10)
    await delivery.record_outcomes([Outcome(items[0], Result.UNCERTAIN, error="read timeout")])
    assert await rows(engine, LessonProgress) == []
    result = await service.latest_lesson(USER)
    assert result.lesson_id == "l01"
    [progress] = await rows(engine, LessonProgress)
    assert progress.lesson_id == "l01"
    assert (await service.latest_lesson(USER)).lesson_id == "l01"
    assert len(await rows(engine, LessonProgress)) == 1


# --- settings ------------------------------------------------------------------------------------


async def test_changing_time_after_todays_lesson_never_gives_a_second(
    service: EnrolmentService, delivery: DeliveryService, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert await deliver_due(delivery) == ["l01"]
    enrolment = await service.set_time(USER, time(19, 5))
    assert enrolment.next_lesson_at == datetime(2026, 12, 1, 19, 5, tzinfo=UTC)
    # A timezone far to the west, where it is still Monday morning: still not today again.
    enrolment = await service.set_timezone(USER, "America/New_York")
    assert enrolment.next_lesson_at == datetime(2026, 12, 2, 0, 5, tzinfo=UTC)  # Tue 19:05 NY


async def test_changing_time_before_the_slot_moves_todays_lesson(
    service: EnrolmentService,
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    enrolment = await service.set_time(USER, time(7, 30))
    assert enrolment.next_lesson_at == datetime(2026, 11, 30, 7, 30, tzinfo=UTC)


async def test_days_and_bad_values(service: EnrolmentService) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    enrolment = await service.set_days(USER, days_mask([5, 6]))  # weekends only
    assert enrolment.next_lesson_at == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    with pytest.raises(ScheduleError):
        await service.set_days(USER, 0)
    for forged in ("Europe/Londn", "localtime", "Factory"):
        with pytest.raises(ScheduleError):
            await service.set_timezone(USER, forged)
    with pytest.raises(ScheduleError):
        await service.set_reflection_time(USER, time(7, 0))  # before the 08:00 lesson
    enrolment = await service.set_reflection_time(USER, time(17, 30))
    assert enrolment.schedule.reflection_time == time(17, 30)
    # Moving the lesson past the reflection time brings the prompt back with the lesson.
    enrolment = await service.set_time(USER, time(18, 0))
    assert enrolment.schedule.reflection_time is None
    enrolment = await service.set_reminders(USER, False)
    assert enrolment.schedule.reminders is False
    enrolment = await service.set_days(USER, EVERY_DAY)
    assert enrolment.next_lesson_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


async def test_settings_in_setup_store_nothing_to_deliver(
    service: EnrolmentService, engine: AsyncEngine
) -> None:
    await service.consent(USER, chat_id=USER)
    enrolment = await service.set_time(USER, time(6, 0))
    assert enrolment.state == SubscriptionState.SETUP
    assert enrolment.next_lesson_at == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    [sub] = await rows(engine, Subscription)
    assert sub.next_due_at is None


async def test_a_schedule_change_clears_only_its_own_pending_answer(
    service: EnrolmentService, engine: AsyncEngine, clock: FakeClock
) -> None:
    learners = LearnerService(create_sessions(engine), clock)
    await service.consent(USER, chat_id=USER)
    await learners.set_pending_action(USER, "sched:time")
    await service.set_time(USER, time(9, 0))
    assert await learners.pending_action(USER) is None
    await learners.set_pending_action(USER, "reflect:l01")
    await service.set_time(USER, time(9, 30))
    assert await learners.pending_action(USER) == "reflect:l01"


# --- pause, resume, stop, restart ----------------------------------------------------------------


async def test_pause_until_a_date_then_lessons_come_back_by_themselves(
    service: EnrolmentService, delivery: DeliveryService, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=True)
    enrolment = await service.pause(USER, date(2026, 12, 3))  # back on Thursday
    assert enrolment.state == SubscriptionState.PAUSED
    assert enrolment.paused_until == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert enrolment.next_lesson_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert await service.end_due_pauses() == 0
    assert await deliver_due(delivery) == []
    clock.set(datetime(2026, 12, 3, 0, 1, tzinfo=UTC))
    assert await service.end_due_pauses() == 1
    status = await service.status(USER)
    assert status is not None and status.state == SubscriptionState.ACTIVE
    assert status.next_lesson_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    assert await deliver_due(delivery) == ["l02"]


async def test_a_pause_ending_at_midnight_keeps_a_midnight_lesson(
    service: EnrolmentService, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.set_time(USER, time(0, 0))
    await service.start(USER, lesson_now=False)
    await service.pause(USER, date(2026, 12, 3))
    clock.set(datetime(2026, 12, 3, 0, 0, 30, tzinfo=UTC))
    await service.end_due_pauses()
    status = await service.status(USER)
    assert status is not None
    assert status.next_lesson_at == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


async def test_resume_after_a_long_pause_is_the_next_slot_not_a_backlog(
    service: EnrolmentService, delivery: DeliveryService, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=True)
    await service.pause(USER, date(2027, 1, 4))
    clock.set(datetime(2026, 12, 14, 12, 0, tzinfo=UTC))
    enrolment = await service.resume(USER)
    assert enrolment.state == SubscriptionState.ACTIVE and enrolment.paused_until is None
    assert enrolment.next_lesson_at == datetime(2026, 12, 15, 8, 0, tzinfo=UTC)
    clock.set(datetime(2026, 12, 15, 8, 0, tzinfo=UTC))
    assert await deliver_due(delivery) == ["l02"]
    with pytest.raises(WrongState):
        await service.resume(USER)  # already on


async def test_stop_keeps_everything_and_resume_brings_lessons_back(
    service: EnrolmentService, engine: AsyncEngine, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=True)
    enrolment = await service.stop(USER)
    assert enrolment.state == SubscriptionState.STOPPED and enrolment.next_lesson_at is None
    assert len(await rows(engine, LessonProgress)) == 1
    with pytest.raises(WrongState):
        await service.pause(USER, date(2026, 12, 10))
    clock.advance(timedelta(days=2))
    enrolment = await service.resume(USER)
    assert enrolment.state == SubscriptionState.ACTIVE and enrolment.last_lesson_id == "l01"


async def test_restart_is_a_new_run_from_lesson_one_with_history_kept(
    service: EnrolmentService, engine: AsyncEngine, clock: FakeClock
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=True)
    await service.next_lesson_now(USER)
    enrolment = await service.restart(USER)
    assert enrolment.course_run == 2 and enrolment.last_lesson_id is None
    assert enrolment.lessons_had == 0 and enrolment.state == SubscriptionState.ACTIVE
    # Two lessons already today: the new run starts at the next slot, not today.
    assert enrolment.next_lesson_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    result = await service.next_lesson_now(USER)
    assert result.lesson_id == "l01" and result.enrolment.course_run == 2
    async with create_sessions(engine)() as session:
        runs = (
            await session.execute(
                select(LessonProgress.course_run, func.count()).group_by(LessonProgress.course_run)
            )
        ).all()
    assert sorted(runs) == [(1, 2), (2, 1)]


async def test_restart_in_setup_is_refused(service: EnrolmentService) -> None:
    await service.consent(USER, chat_id=USER)
    with pytest.raises(WrongState) as caught:
        await service.restart(USER)
    assert caught.value.state == SubscriptionState.SETUP


# --- shift patterns (issue 15) -------------------------------------------------------------------


async def test_a_rota_sets_the_next_lesson_and_the_days_follow_the_cycle(
    clock: FakeClock, engine: AsyncEngine
) -> None:
    content, sessions, keyring = make_content(8), create_sessions(engine), Keyring(b"k" * 32)
    service = EnrolmentService(sessions, clock, content, keyring)
    delivery = DeliveryService(sessions, clock, content, Settings(_env_file=None))
    learning = LearningService(sessions, clock, content, keyring)
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    # 2 days, 2 nights, 4 off from Tuesday 1 December; 07:30 on days, 19:00 on nights.
    night_worker = rota("DDNNOOOO", date(2026, 12, 1), day_time=time(7, 30), night_time=time(19, 0))
    enrolment = await service.set_pattern(USER, night_worker)
    assert enrolment.schedule.pattern == night_worker
    assert enrolment.next_lesson_at == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    sent = []
    for _ in range(12 * 24):  # twelve days, hour by hour
        clock.advance(timedelta(hours=1))
        await delivery.claim_due()
        items = await delivery.lease_batch(100)
        await delivery.record_outcomes([Outcome(i, Result.SENT, message_id=1) for i in items])
        for item in items:
            if item.kind == DeliveryKind.LESSON and item.lesson_id is not None:
                sent.append(f"{clock.now():%a %d %H}")
                await learning.open_lesson(USER, item.lesson_id)  # opened: no auto-pause
    assert sent == [
        *("Tue 01 08", "Wed 02 08", "Thu 03 19", "Fri 04 19"),
        *("Wed 09 08", "Thu 10 08", "Fri 11 19"),
    ]


async def test_quiet_hours_are_kept_across_patterns_and_may_not_hide_a_lesson(
    service: EnrolmentService,
) -> None:
    await service.consent(USER, chat_id=USER)
    await service.start(USER, lesson_now=False)
    with pytest.raises(ScheduleError, match="08:00"):
        await service.set_quiet_hours(USER, time(22, 0), time(9, 0))
    quiet = await service.set_quiet_hours(USER, time(22, 0), time(6, 0))
    assert quiet.schedule.pattern.quiet_from == time(22, 0)
    asked = await service.set_pattern(USER, weekly(WEEKDAYS, time(8, 0)))
    assert asked.schedule.pattern.quiet_until == time(6, 0)
    # This week: Friday only.
    answered = await service.answer_week(USER, date(2026, 11, 30), days_mask([4]))
    assert answered.next_lesson_at == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    back = await service.set_quiet_hours(USER, None, None)
    assert back.schedule.pattern.quiet_from is None
