"""Test factories for the learner's journey: a subscribed learner, a delivered lesson.

They write rows with the models directly (as onboarding and the delivery engine would) and send
the lesson through the real bot to the fake Bot API server, so a dialogue test can press its
buttons exactly as a person would.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import func, select
from telegram.constants import ParseMode

from bot.core.schedule import WEEKDAYS
from bot.db.models import Learner, LessonProgress, Subscription
from bot.render import keyboard
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.views.lesson import lesson_screen
from tests.harness import USER, BotUnderTest


async def make_learner(
    bot: BotUnderTest,
    user: int = USER,
    *,
    subscribed: bool = True,
    state: str = "active",
    timezone: str = "Europe/London",
    days: int = WEEKDAYS,
    delivery_time: time = time(8, 0),
    next_due_at: datetime | None = None,
    **subscription: Any,
) -> int:
    """A consented learner (and, unless told otherwise, an active subscription); their id."""
    now = bot.clock.now()
    async with bot.runtime.sessions.begin() as session:
        learner = Learner(telegram_user_id=user, chat_id=user, created_at=now, consented_at=now)
        session.add(learner)
        await session.flush()
        if subscribed:
            session.add(
                Subscription(
                    learner_id=learner.id,
                    state=state,
                    delivery_time=delivery_time,
                    timezone=timezone,
                    days=days,
                    next_due_at=next_due_at,
                    created_at=now,
                    updated_at=now,
                    **{"reminders": True, "course_run": 1, "unopened_streak": 0, **subscription},
                )
            )
        return learner.id


async def deliver(bot: BotUnderTest, lesson_id: str, user: int = USER) -> FakeMessage:
    """Deliver a lesson as the engine does: a progress row, then the lesson message."""
    content = bot.runtime.services.content
    lesson = content.lesson(lesson_id)
    assert lesson is not None, lesson_id
    now = bot.clock.now()
    async with bot.runtime.sessions.begin() as session:
        learner = await session.scalar(select(Learner).where(Learner.telegram_user_id == user))
        assert learner is not None
        sub = await session.scalar(
            select(Subscription).where(Subscription.learner_id == learner.id)
        )
        run = sub.course_run if sub is not None else 1
        session.add(
            LessonProgress(
                learner_id=learner.id, lesson_id=lesson_id, course_run=run, delivered_at=now
            )
        )
        if sub is not None:
            sub.last_lesson_id = lesson_id
            sub.unopened_streak += 1
    return await show_lesson(bot, lesson_id, user)


async def show_lesson(bot: BotUnderTest, lesson_id: str, user: int = USER) -> FakeMessage:
    """Send a lesson message without recording a delivery (as a lookup's Related lesson does)."""
    content = bot.runtime.services.content
    lesson = content.lesson(lesson_id)
    assert lesson is not None, lesson_id
    screen = lesson_screen(
        lesson,
        course_position=content.lesson_index(lesson_id) + 1,
        course_length=len(content.lessons),
    )
    sent = await bot.runtime.application.bot.send_message(
        chat_id=user, text=screen.text, parse_mode=ParseMode.HTML, reply_markup=keyboard(screen)
    )
    return next(m for m in bot.messages(user) if m.message_id == sent.message_id)


async def count(bot: BotUnderTest, model: Any, **where: Any) -> int:
    """Rows of a model matching column == value filters."""
    async with bot.runtime.sessions.begin() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(await session.scalar(query) or 0)
