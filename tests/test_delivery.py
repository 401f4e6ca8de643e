"""The outbox service against real databases: claims, catch-up, leases, outcomes, reaper."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content.schema import Content
from bot.core.clock import FakeClock
from bot.core.crypto import Keyring, new_master_key_text, parse_master_key
from bot.core.pattern import fixed_days, to_column, with_quiet_hours
from bot.core.schedule import EVERY_DAY, WEEKDAYS
from bot.core.states import DeliveryKind
from bot.db.engine import create_engine, create_sessions
from bot.db.models import Subscription
from bot.services.outbox.service import DeliveryService
from bot.services.outbox.sql import DELIVERIES, PROGRESS, SUBSCRIPTIONS, enqueue, next_due_for
from bot.services.outbox.types import NewDelivery, OutboxItem, Outcome, Result
from bot.services.privacy import PrivacyService
from tests.support.factories import (
    CHAT_BASE,
    deliveries,
    make_content,
    seed_subscribers,
    subscription,
)
from tests.support.harness import settings

MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 08:00 in London (GMT)


@pytest.fixture
def content() -> Content:
    return make_content(3)


@pytest.fixture
def service(engine: AsyncEngine, clock: FakeClock, content: Content) -> DeliveryService:
    return DeliveryService(create_sessions(engine), clock, content, settings())


async def set_subscription(engine: AsyncEngine, subscription_id: int, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id).values(**values)
        )


async def send_all(service: DeliveryService, result: Result = Result.SENT) -> list[OutboxItem]:
    items = await service.lease_batch(1000)
    await service.record_outcomes(
        [Outcome(item, result, message_id=100 + item.delivery_id) for item in items]
    )
    return items


# --- claims --------------------------------------------------------------------------------------


async def test_claim_writes_one_row_per_due_subscriber_and_advances(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    due = await seed_subscribers(engine, 3, next_due_at=MONDAY_8)
    later = await seed_subscribers(
        engine, 1, next_due_at=MONDAY_8 + timedelta(hours=1), chat_base=50_000
    )
    clock.set(MONDAY_8)
    assert await service.claim_due() == 3
    assert await service.claim_due() == 0  # a second tick finds nothing
    rows = await deliveries(engine)
    assert [(r["subscription_id"], r["kind"], r["lesson_id"], r["status"]) for r in rows] == [
        (sub, "lesson", "l01", "pending") for sub in due
    ]
    assert all(
        r["local_date"].isoformat() == "2026-11-30" and r["due_at"] == MONDAY_8 for r in rows
    )
    for sub in due:
        row = await subscription(engine, sub)
        assert row["next_due_at"] == MONDAY_8 + timedelta(days=1)
        assert row["last_lesson_id"] == "l01"
    assert (await subscription(engine, later[0]))["last_lesson_id"] is None


async def test_lessons_follow_the_course_then_the_subscription_finishes(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    [sub] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    sent: list[str | None] = []
    for day in range(5):
        clock.set(MONDAY_8 + timedelta(days=day))
        await service.claim_due()
        sent += [item.lesson_id for item in await send_all(service)]
    assert sent == ["l01", "l02", "l03"]
    row = await subscription(engine, sub)
    assert row["state"] == "finished" and row["next_due_at"] is None
    async with engine.connect() as conn:
        progress = (await conn.execute(select(PROGRESS.c.lesson_id))).scalars().all()
    assert sorted(progress) == ["l01", "l02", "l03"]


async def test_weekdays_only(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    friday = MONDAY_8 + timedelta(days=4)
    [sub] = await seed_subscribers(engine, 1, next_due_at=friday, days=WEEKDAYS)
    clock.set(friday)
    await service.claim_due()
    assert (await subscription(engine, sub))["next_due_at"] == friday + timedelta(days=3)


async def test_reflection_row_follows_its_lesson(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    await seed_subscribers(engine, 2, next_due_at=MONDAY_8, reflection_time=time(17, 30))
    clock.set(MONDAY_8)
    await service.claim_due()
    rows = await deliveries(engine)
    reflections = [r for r in rows if r["kind"] == "reflection"]
    assert [r["due_at"] for r in reflections] == [MONDAY_8.replace(hour=17, minute=30)] * 2
    lessons = await service.lease_batch(10)
    assert {item.kind for item in lessons} == {"lesson"}
    # One lesson is sent, the other refused for good: its reflection is cancelled.
    await service.record_outcomes(
        [
            Outcome(lessons[0], Result.SENT, message_id=1),
            Outcome(lessons[1], Result.FAILED, error_code=400, error="bad"),
        ]
    )
    clock.set(MONDAY_8.replace(hour=17, minute=30))
    items = await service.lease_batch(10)
    assert [(i.kind, i.subscription_id) for i in items] == [
        ("reflection", lessons[0].subscription_id)
    ]
    statuses = {(r["subscription_id"], r["kind"]): r["status"] for r in await deliveries(engine)}
    assert statuses[(lessons[1].subscription_id, "reflection")] == "cancelled"


async def test_reflection_waits_while_its_lesson_is_pending(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    await seed_subscribers(engine, 1, next_due_at=MONDAY_8, reflection_time=time(8, 0))
    clock.set(MONDAY_8)
    await service.claim_due()
    [lesson] = await service.lease_batch(10)
    assert await service.lease_batch(10) == []  # the reflection waits for the lesson
    await service.record_outcomes([Outcome(lesson, Result.SENT, message_id=1)])
    [reflection] = await service.lease_batch(10)
    assert reflection.kind == "reflection"


# --- catch-up ------------------------------------------------------------------------------------


async def test_catch_up_gives_one_lesson_for_the_newest_missed_slot(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    [sub] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    clock.set(MONDAY_8 + timedelta(days=3, hours=2))  # down from Monday to Thursday 10:00
    await service.claim_due()
    rows = await deliveries(engine)
    assert [(r["local_date"].isoformat(), r["lesson_id"]) for r in rows] == [("2026-12-03", "l01")]
    assert rows[0]["due_at"] == MONDAY_8 + timedelta(days=3)
    assert (await subscription(engine, sub))["next_due_at"] == MONDAY_8 + timedelta(days=4)
    assert len(await service.lease_batch(10)) == 1


async def test_catch_up_outside_the_grace_window_skips_to_the_next_slot(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    [sub] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    clock.set(MONDAY_8 + timedelta(hours=13))  # 21:00: the 08:00 slot is 13 hours old
    await service.claim_due()
    assert await deliveries(engine) == []
    row = await subscription(engine, sub)
    assert row["next_due_at"] == MONDAY_8 + timedelta(days=1) and row["last_lesson_id"] is None


async def test_grace_window_is_configurable(
    engine: AsyncEngine, clock: FakeClock, content: Content
) -> None:
    service = DeliveryService(
        create_sessions(engine), clock, content, settings(delivery_grace_hours=1)
    )
    await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    clock.set(MONDAY_8 + timedelta(hours=2))
    await service.claim_due()
    assert await deliveries(engine) == []


async def test_stale_pending_row_is_skipped_and_its_lesson_given_back(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    friday = MONDAY_8 + timedelta(days=4)
    [sub] = await seed_subscribers(engine, 1, next_due_at=friday, days=WEEKDAYS)
    clock.set(friday)
    await service.claim_due()  # Friday's row is claimed, then the bot is down all weekend
    clock.set(friday + timedelta(days=3))  # Monday 08:00
    await service.claim_due()
    rows = await deliveries(engine)
    assert [(r["local_date"].isoformat(), r["lesson_id"], r["status"]) for r in rows] == [
        ("2026-12-04", "l01", "skipped"),
        ("2026-12-07", "l01", "pending"),  # the lesson they never got, not l02
    ]
    assert (await subscription(engine, sub))["last_lesson_id"] == "l01"


async def test_pending_row_from_yesterday_is_superseded_not_doubled(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    monday_23 = MONDAY_8.replace(hour=23)
    [sub] = await seed_subscribers(engine, 1, next_due_at=monday_23, delivery_time=time(23))
    clock.set(monday_23)
    await service.claim_due()  # Monday 23:00 row, never sent (sender down)
    # The learner moves to 06:00; at 06:05 Monday's row is still within the grace window.
    tuesday_6 = MONDAY_8.replace(hour=6) + timedelta(days=1)
    await set_subscription(engine, sub, delivery_time=time(6), next_due_at=tuesday_6)
    clock.set(tuesday_6 + timedelta(minutes=5))
    await service.claim_due()
    rows = await deliveries(engine)
    assert [(r["local_date"].isoformat(), r["lesson_id"], r["status"]) for r in rows] == [
        ("2026-11-30", "l01", "skipped"),
        ("2026-12-01", "l01", "pending"),  # the same lesson, once
    ]
    assert len(await service.lease_batch(10)) == 1
    assert (await subscription(engine, sub))["last_lesson_id"] == "l01"


async def test_a_day_down_sends_the_lesson_once_not_a_backlog(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    monday_20 = MONDAY_8.replace(hour=20)
    [sub] = await seed_subscribers(engine, 1, next_due_at=monday_20, delivery_time=time(20))
    clock.set(monday_20)
    await service.claim_due()  # claimed, then the sender is down for a day
    clock.set(monday_20 + timedelta(days=1, minutes=5))
    await service.claim_due()
    rows = await deliveries(engine)
    assert [(r["local_date"].isoformat(), r["lesson_id"], r["status"]) for r in rows] == [
        ("2026-11-30", "l01", "skipped"),
        ("2026-12-01", "l01", "pending"),
    ]
    assert (await subscription(engine, sub))["last_lesson_id"] == "l01"


# --- leases --------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["paused", "stopped", "inactive"])
async def test_lease_cancels_rows_of_learners_not_receiving(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock, state: str
) -> None:
    [sub] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    await set_subscription(engine, sub, state=state)
    assert await service.lease_batch(10) == []
    [row] = await deliveries(engine)
    assert row["status"] == "cancelled"
    # The lesson is given back: when they come back they get l01, not l02.
    assert (await subscription(engine, sub))["last_lesson_id"] is None


async def test_lease_marks_sending_and_counts_the_attempt(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    await seed_subscribers(engine, 3, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    first = await service.lease_batch(2, lease_seconds=30)
    second = await service.lease_batch(2, lease_seconds=30)
    assert len(first) == 2 and len(second) == 1
    assert {i.delivery_id for i in first}.isdisjoint(i.delivery_id for i in second)
    rows = await deliveries(engine)
    assert all(r["status"] == "sending" and r["attempts"] == 1 for r in rows)
    assert all(r["lease_until"] == MONDAY_8 + timedelta(seconds=30) for r in rows)
    assert await service.lease_batch(10) == []


async def test_not_due_yet_is_not_leased(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    await seed_subscribers(engine, 1, next_due_at=MONDAY_8, reflection_time=time(18))
    clock.set(MONDAY_8)
    await service.claim_due()
    await send_all(service)
    clock.set(MONDAY_8.replace(hour=17, minute=59))
    assert await service.lease_batch(10) == []


async def test_rows_leased_in_quiet_hours_wait_for_their_end(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    # Lessons every day at 08:00 London; the next one on Tuesday. One learner keeps the default
    # quiet hours (23:00-08:00, the 9 hours before the lesson), the other chose 23:00-07:00.
    tuesday_8 = MONDAY_8 + timedelta(days=1)
    [default] = await seed_subscribers(engine, 1, next_due_at=tuesday_8)
    [own] = await seed_subscribers(engine, 1, next_due_at=tuesday_8, chat_base=50_000)
    own_quiet = with_quiet_hours(fixed_days(EVERY_DAY, time(8, 0)), time(23, 0), time(7, 0))
    await set_subscription(engine, own, pattern=to_column(own_quiet), unopened_streak=1)
    await set_subscription(engine, default, unopened_streak=1)  # Monday's lesson, unopened
    clock.set(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))  # 03:00 on Tuesday: asleep
    monday = MONDAY_8.date()
    rows = [
        NewDelivery(sub, chat, kind, monday, clock.now(), "l01")
        for sub, chat in ((default, CHAT_BASE), (own, 50_000))
        for kind in (DeliveryKind.NUDGE, DeliveryKind.REFLECTION, DeliveryKind.REMINDER)
    ]
    async with create_sessions(engine).begin() as session:
        await enqueue(session, rows, clock.now())
    assert await service.lease_batch(100) == []  # nothing goes in quiet hours...
    after = {(r["subscription_id"], r["kind"]): r for r in await deliveries(engine)}
    for kind in ("nudge", "reflection"):  # ...it waits for their end
        assert after[(default, kind)]["status"] == "pending"
        assert after[(default, kind)]["due_at"] == tuesday_8
        assert after[(own, kind)]["status"] == "pending"
        assert after[(own, kind)]["due_at"] == tuesday_8 - timedelta(hours=1)
    # A reminder that would only wake them with the next lesson is not needed; one that can
    # come before it waits.
    assert after[(default, "reminder")]["status"] == "skipped"
    assert after[(own, "reminder")]["status"] == "pending"
    assert after[(own, "reminder")]["due_at"] == tuesday_8 - timedelta(hours=1)
    # Monday's lesson, whose reminder could not come, no longer counts towards auto-pause.
    assert (await subscription(engine, default))["unopened_streak"] == 0
    assert (await subscription(engine, own))["unopened_streak"] == 1
    clock.set(tuesday_8 - timedelta(hours=1))
    assert sorted(item.kind for item in await send_all(service)) == [
        "nudge",
        "reflection",
        "reminder",
    ]
    clock.set(tuesday_8)
    assert sorted(item.kind for item in await send_all(service)) == ["nudge", "reflection"]


# --- outcomes ------------------------------------------------------------------------------------


async def test_every_outcome_is_recorded(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    subs = await seed_subscribers(engine, 6, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    items = {item.subscription_id: item for item in await service.lease_batch(10)}
    retry_at = MONDAY_8 + timedelta(minutes=1)
    await service.record_outcomes(
        [
            Outcome(items[subs[0]], Result.SENT, message_id=77),
            Outcome(items[subs[1]], Result.UNCERTAIN, error="timed out"),
            Outcome(items[subs[2]], Result.RETRY, error_code=502, error="bad", retry_at=retry_at),
            Outcome(items[subs[3]], Result.RELEASE, error_code=429),
            Outcome(items[subs[4]], Result.FAILED, error_code=400, error="x" * 500),
            Outcome(items[subs[5]], Result.DEACTIVATE, error_code=403, error="blocked"),
        ]
    )
    rows = {r["subscription_id"]: r for r in await deliveries(engine)}
    assert rows[subs[0]]["status"] == "sent" and rows[subs[0]]["telegram_message_id"] == 77
    assert rows[subs[0]]["sent_at"] == MONDAY_8
    assert rows[subs[1]]["status"] == "uncertain"
    assert rows[subs[2]]["status"] == "pending" and rows[subs[2]]["due_at"] == retry_at
    assert rows[subs[2]]["attempts"] == 1 and rows[subs[2]]["error_code"] == 502
    assert rows[subs[3]]["status"] == "pending" and rows[subs[3]]["attempts"] == 0  # not counted
    assert rows[subs[4]]["status"] == "failed" and len(rows[subs[4]]["last_error"]) == 200
    assert rows[subs[5]]["status"] == "failed" and rows[subs[5]]["error_code"] == 403
    assert all(r["lease_until"] is None for r in rows.values())
    gone = await subscription(engine, subs[5])
    assert gone["state"] == "inactive" and gone["next_due_at"] is None
    assert gone["last_lesson_id"] is None  # given back: /start resumes with l01
    kept = await subscription(engine, subs[4])
    assert kept["state"] == "active" and kept["last_lesson_id"] == "l01"  # a bad lesson moves on
    async with engine.connect() as conn:
        progress = (await conn.execute(select(PROGRESS.c.learner_id, PROGRESS.c.lesson_id))).all()
    assert len(progress) == 1 and progress[0][1] == "l01"
    # The retry comes back when due; the released row is ready at once.
    assert [i.subscription_id for i in await service.lease_batch(10)] == [subs[3]]
    clock.set(retry_at)
    [again] = await service.lease_batch(10)
    assert again.subscription_id == subs[2] and again.attempts == 2


async def test_deactivation_cancels_every_pending_row(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    await seed_subscribers(engine, 1, next_due_at=MONDAY_8, reflection_time=time(18))
    clock.set(MONDAY_8)
    await service.claim_due()
    [lesson] = await service.lease_batch(10)
    await service.record_outcomes([Outcome(lesson, Result.DEACTIVATE, error_code=403)])
    statuses = {r["kind"]: r["status"] for r in await deliveries(engine)}
    assert statuses == {"lesson": "failed", "reflection": "cancelled"}
    clock.set(MONDAY_8 + timedelta(days=1))
    assert await service.claim_due() == 0  # never claimed again until /start reactivates


async def test_failed_after_network_retries_gives_the_lesson_back(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    [sub] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    [item] = await service.lease_batch(10)
    await service.record_outcomes([Outcome(item, Result.FAILED, error="network", give_back=True)])
    assert (await subscription(engine, sub))["last_lesson_id"] is None
    clock.set(MONDAY_8 + timedelta(days=1))
    await service.claim_due()
    [again] = await service.lease_batch(10)
    assert again.lesson_id == "l01"


# --- crash safety --------------------------------------------------------------------------------


async def test_reaper_turns_expired_sending_into_uncertain_only(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    await seed_subscribers(engine, 3, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    leased = await service.lease_batch(2, lease_seconds=60)  # the worker dies after the lease
    clock.advance(timedelta(seconds=59))
    assert await service.reap_expired_leases() == 0
    clock.advance(timedelta(seconds=2))
    assert await service.reap_expired_leases() == 2
    rows = {r["id"]: r["status"] for r in await deliveries(engine)}
    assert sorted(rows.values()) == ["pending", "uncertain", "uncertain"]
    # Never resent: only the row nobody leased is offered again.
    [rest] = await service.lease_batch(10)
    assert rest.delivery_id not in {i.delivery_id for i in leased}
    # A late "sent" from a worker that was only slow still wins over "uncertain".
    await service.record_outcomes([Outcome(leased[0], Result.SENT, message_id=5)])
    # ...but nothing else moves an uncertain row.
    await service.record_outcomes([Outcome(leased[1], Result.RETRY, retry_at=MONDAY_8)])
    statuses = {r["id"]: r["status"] for r in await deliveries(engine)}
    assert statuses[leased[0].delivery_id] == "sent"
    assert statuses[leased[1].delivery_id] == "uncertain"


async def erase(engine: AsyncEngine, clock: FakeClock, content: Content, chat_id: int) -> None:
    """/forget for the learner with this chat (seeded learners' Telegram id is their chat id)."""
    keyring = Keyring(parse_master_key(new_master_key_text()))
    privacy = PrivacyService(create_sessions(engine), clock, content, keyring)
    assert await privacy.forget(chat_id) is not None


async def test_recording_skips_a_learner_erased_mid_send_and_touches_no_one_else(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock, content: Content
) -> None:
    """/forget while the learner's lesson is on the wire: their rows are gone (cascade) when
    the outcomes come back. The batch is recorded for everyone else, and an id that SQLite
    hands to a new row afterwards is not mistaken for the erased one."""
    [stays] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8 - timedelta(minutes=1))
    await seed_subscribers(engine, 1, next_due_at=MONDAY_8, chat_base=20_000)
    [newcomer] = await seed_subscribers(
        engine, 1, next_due_at=MONDAY_8 + timedelta(hours=1), chat_base=30_000
    )
    clock.set(MONDAY_8)
    await service.claim_due()
    leased = {item.chat_id: item for item in await service.lease_batch(10)}
    await erase(engine, clock, content, 20_000)  # erased while both lessons are on the wire
    erased, kept = leased[20_000], leased[10_000]

    clock.set(MONDAY_8 + timedelta(hours=1))
    await service.claim_due()
    [late] = await service.lease_batch(10)  # SQLite re-uses the erased row's id here
    assert late.subscription_id == newcomer
    await service.record_outcomes(
        [
            Outcome(erased, Result.UNCERTAIN, error="timed out"),
            Outcome(kept, Result.SENT, message_id=7),
        ]
    )
    await service.record_outcomes([Outcome(erased, Result.SENT, message_id=8)])
    await service.record_outcomes([Outcome(erased, Result.DEACTIVATE, error_code=403)])
    rows = {row["subscription_id"]: row for row in await deliveries(engine)}
    assert set(rows) == {stays, newcomer}
    assert (rows[stays]["status"], rows[stays]["telegram_message_id"]) == ("sent", 7)
    assert (rows[newcomer]["status"], rows[newcomer]["telegram_message_id"]) == ("sending", None)
    assert (await subscription(engine, newcomer))["state"] == "active"
    async with engine.connect() as conn:
        progress = (await conn.execute(select(PROGRESS.c.learner_id))).scalars().all()
    assert progress == [kept.learner_id]
    await service.record_outcomes([Outcome(late, Result.SENT, message_id=9)])
    assert (await deliveries(engine))[-1]["telegram_message_id"] == 9


async def test_uncertain_for_serves_today(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    subs = await seed_subscribers(engine, 2, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    await send_all(service, Result.UNCERTAIN)
    async with engine.connect() as conn:
        learner = (
            await conn.execute(
                select(SUBSCRIPTIONS.c.learner_id).where(SUBSCRIPTIONS.c.id == subs[0])
            )
        ).scalar_one()
    [uncertain] = await service.uncertain_for(learner)
    assert uncertain.lesson_id == "l01" and uncertain.kind == "lesson"
    clock.advance(timedelta(days=8))
    assert await service.uncertain_for(learner) == []


# --- rescheduling helper -------------------------------------------------------------------------


async def test_next_due_for_respects_the_last_delivered_local_date(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    [sub] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    await send_all(service)
    sessions = create_sessions(engine)
    async with sessions.begin() as session:
        row = await session.get(Subscription, sub)
        assert row is not None
        # The learner moves their time to 20:00 at 09:00 the same day: not again today.
        row.delivery_time = time(20)
        now = MONDAY_8 + timedelta(hours=1)
        assert await next_due_for(session, row, now) == MONDAY_8.replace(hour=20) + timedelta(
            days=1
        )
        # ...and moving to Tokyo (where it is already Monday evening) neither.
        row.timezone = "Asia/Tokyo"
        row.delivery_time = time(21)
        assert await next_due_for(session, row, now) == datetime(2026, 12, 1, 12, tzinfo=UTC)


# --- concurrency ---------------------------------------------------------------------------------


async def test_concurrent_ticks_and_senders_deliver_exactly_once(
    database_url: str, engine: AsyncEngine, clock: FakeClock, content: Content
) -> None:
    subs = await seed_subscribers(engine, 300, next_due_at=MONDAY_8, reflection_time=time(8, 0))
    clock.set(MONDAY_8)
    engines = [create_engine(database_url) for _ in range(4)]
    workers = [DeliveryService(create_sessions(e), clock, content, settings()) for e in engines]
    leased: list[int] = []

    async def worker(service: DeliveryService) -> None:
        for _ in range(3):
            await service.claim_due(limit=40)
        while True:
            await service.claim_due(limit=40)
            items = await service.lease_batch(25)
            if not items:
                return
            leased.extend(item.delivery_id for item in items)
            await service.record_outcomes(
                [Outcome(item, Result.SENT, message_id=item.delivery_id) for item in items]
            )

    try:
        await asyncio.gather(*(worker(w) for w in workers))
    finally:
        for e in engines:
            await e.dispose()
    rows = await deliveries(engine)
    assert len(rows) == len(subs) * 2  # one lesson and one reflection each
    assert len(leased) == len(set(leased)) == len(rows)  # every row leased exactly once
    assert all(r["status"] == "sent" and r["attempts"] == 1 for r in rows)
    async with engine.connect() as conn:
        progress = (await conn.execute(select(PROGRESS.c.learner_id))).scalars().all()
        next_due = (await conn.execute(select(SUBSCRIPTIONS.c.next_due_at).distinct())).all()
    assert len(progress) == len(subs)
    assert next_due == [(MONDAY_8 + timedelta(days=1),)]


async def test_claim_is_idempotent_against_existing_rows(
    engine: AsyncEngine, service: DeliveryService, clock: FakeClock
) -> None:
    """A restart that re-runs a claim (next_due_at reset by hand) cannot add a second row."""
    [sub] = await seed_subscribers(engine, 1, next_due_at=MONDAY_8)
    clock.set(MONDAY_8)
    await service.claim_due()
    await set_subscription(engine, sub, next_due_at=MONDAY_8)
    await service.claim_due()
    rows = await deliveries(engine)
    assert len(rows) == 1
    assert (await subscription(engine, sub))["last_lesson_id"] == "l01"
    async with engine.connect() as conn:
        count = len((await conn.execute(select(DELIVERIES.c.id))).all())
    assert count == 1
