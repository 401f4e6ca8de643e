"""Helpers for the delivery tests and the benchmark: a small course and bulk-seeded subscribers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content.schema import Answer, Check, Content, Course, Lesson, Support, SupportContact
from bot.core.schedule import EVERY_DAY
from bot.services.outbox.sql import DELIVERIES, LEARNERS, SUBSCRIPTIONS

CHAT_BASE = 10_000


def make_lesson(lesson_id: str, title: str | None = None, body: str | None = None) -> Lesson:
    """A valid lesson with a short body."""
    return Lesson(
        id=lesson_id,
        title=title or f"Lesson {lesson_id}",
        body=body or f"<b>{lesson_id}</b>: a short lesson body.",
        takeaway="One thing to remember.",
        reflect="What did you notice today?",
        check=Check(
            question="Which is right?",
            answers=[
                Answer(text="This one", feedback="Yes."),
                Answer(text="That one", feedback="Not quite."),
                Answer(text="Neither", feedback="Not quite."),
            ],
            correct=0,
        ),
        source="test",
    )


def make_content(count: int = 5, lessons: list[Lesson] | None = None) -> Content:
    """A course of `count` lessons l01, l02, ... (or the given lessons)."""
    lessons = lessons or [make_lesson(f"l{index:02d}") for index in range(1, count + 1)]
    course = Course(
        id="test-course",
        title="Test course",
        summary="A course for tests.",
        lessons=[lesson.id for lesson in lessons],
    )
    support = Support(
        grounding="Breathe.",
        not_a_crisis_service="This is not a crisis service.",
        contacts=[SupportContact(name="Someone", how="Call 000")],
        disclosure="Follow your safeguarding procedure.",
        last_reviewed=date(2026, 1, 1),
    )
    return Content(course, lessons, [], support)


async def seed_subscribers(
    engine: AsyncEngine,
    count: int,
    *,
    next_due_at: datetime | None,
    delivery_time: time = time(8, 0),
    timezone: str = "Europe/London",
    days: int = EVERY_DAY,
    reflection_time: time | None = None,
    state: str = "active",
    last_lesson_id: str | None = None,
    chat_base: int = CHAT_BASE,
    batch: int = 20_000,
    reminders: bool = False,
) -> list[int]:
    """Insert `count` learners with one subscription each; returns the subscription ids.

    Learner i has chat id chat_base + i. Bulk inserts, so 100,000 take seconds. Reminders are off
    unless asked for: these tests count lessons and reflections (reminders have their own).
    """
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        for offset in range(0, count, batch):
            size = min(batch, count - offset)
            learners: list[dict[str, Any]] = [
                {
                    "telegram_user_id": chat_base + offset + index,
                    "chat_id": chat_base + offset + index,
                    "created_at": now,
                    "consented_at": now,
                }
                for index in range(size)
            ]
            await conn.execute(insert(LEARNERS), learners)
        ids = (
            (
                await conn.execute(
                    select(LEARNERS.c.id)
                    .where(
                        LEARNERS.c.telegram_user_id >= chat_base,
                        LEARNERS.c.telegram_user_id < chat_base + count,
                    )
                    .order_by(LEARNERS.c.telegram_user_id)
                )
            )
            .scalars()
            .all()
        )
        for offset in range(0, count, batch):
            rows = [
                {
                    "learner_id": learner_id,
                    "state": state,
                    "delivery_time": delivery_time,
                    "timezone": timezone,
                    "days": days,
                    "reflection_time": reflection_time,
                    "reminders": reminders,
                    "next_due_at": next_due_at,
                    "last_lesson_id": last_lesson_id,
                    "course_run": 1,
                    "unopened_streak": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for learner_id in ids[offset : offset + batch]
            ]
            await conn.execute(insert(SUBSCRIPTIONS), rows)
        sub_ids = (
            (
                await conn.execute(
                    select(SUBSCRIPTIONS.c.id)
                    .join(LEARNERS, LEARNERS.c.id == SUBSCRIPTIONS.c.learner_id)
                    .where(
                        LEARNERS.c.telegram_user_id >= chat_base,
                        LEARNERS.c.telegram_user_id < chat_base + count,
                    )
                    .order_by(LEARNERS.c.telegram_user_id)
                )
            )
            .scalars()
            .all()
        )
    return list(sub_ids)


async def deliveries(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every outbox row as a dict, in id order."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(DELIVERIES).order_by(DELIVERIES.c.id))
        return [dict(row._mapping) for row in rows]


async def subscription(engine: AsyncEngine, subscription_id: int) -> dict[str, Any]:
    """One subscription row as a dict."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id))
        ).one()
        return dict(row._mapping)
