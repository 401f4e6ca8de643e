"""One gentle reminder for an unopened lesson; three unopened in a row pause lessons kindly."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from bot.core.schedule import EVERY_DAY
from bot.db.models import Subscription
from tests.support.factories import make_learner
from tests.support.harness import BotUnderTest, texts

REMINDER = "whenever you have two minutes"
PAUSED = "I've paused your daily lessons"


async def subscribed(bot: BotUnderTest, **settings: object) -> None:
    """A learner whose first lesson is due at the next full hour (08:00 London on a Monday)."""
    await make_learner(
        bot,
        next_due_at=bot.clock.now() + timedelta(hours=1),
        delivery_time=settings.pop("delivery_time", time(8, 0)),  # type: ignore[arg-type]
        **settings,
    )


async def test_one_reminder_four_hours_after_an_unopened_lesson(bot: BotUnderTest) -> None:
    await subscribed(bot)
    [lesson] = await bot.advance(hours=1)
    assert "Lesson 1 of" in lesson.plain_text
    assert await bot.advance(hours=3, minutes=59) == []
    [reminder] = await bot.advance(minutes=1)
    assert REMINDER in reminder.plain_text
    assert [b["text"] for row in reminder.buttons for b in row] == [
        "Open the lesson",
        "No more reminders",
    ]
    assert await bot.advance(hours=4) == []  # at most one
    [again] = await bot.press("Open the lesson")
    assert "Lesson 1 of" in again.plain_text


async def test_no_reminder_once_the_lesson_was_opened(bot: BotUnderTest) -> None:
    await subscribed(bot)
    await bot.advance(hours=1)
    await bot.press("Done")
    assert all(REMINDER not in text for text in texts(bot.messages()))
    await bot.advance(hours=5)
    assert all(REMINDER not in text for text in texts(bot.messages()))


async def test_no_reminder_in_quiet_hours_or_when_turned_off(bot: BotUnderTest) -> None:
    await subscribed(bot, delivery_time=time(18, 0))  # reminder would come at 22:00
    bot.clock.advance(timedelta(hours=10))  # 17:00 London
    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None
        sub.next_due_at = bot.clock.now() + timedelta(hours=1)
    await bot.advance(hours=1)
    await bot.advance(hours=12)
    assert all(REMINDER not in text for text in texts(bot.messages()))

    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None
        sub.reminders, sub.delivery_time = False, time(8, 0)
        sub.next_due_at = bot.clock.now() + timedelta(hours=1)
    await bot.advance(hours=1)
    await bot.advance(hours=6)
    assert all(REMINDER not in text for text in texts(bot.messages()))


async def test_three_unopened_lessons_pause_kindly_and_resume_without_a_backlog(
    bot: BotUnderTest,
) -> None:
    await subscribed(bot, days=EVERY_DAY, reminders=False)
    for day in range(3):
        [lesson] = await bot.advance(hours=1 if day == 0 else 24)
        assert f"Lesson {day + 1} of" in lesson.plain_text
    [note] = await bot.advance(hours=24)
    assert PAUSED in note.plain_text
    assert "haven't" in note.plain_text and "missed" not in note.plain_text
    assert await bot.advance(days=3) == []  # paused: nothing more, and nothing piles up
    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None and sub.state == "paused"
    welcome = await bot.press("Resume lessons")
    assert welcome
    [next_lesson] = await bot.advance(days=1)
    assert "Lesson 4 of" in next_lesson.plain_text  # where they left off, one lesson, no backlog


async def test_opening_any_lesson_resets_the_count(bot: BotUnderTest) -> None:
    await subscribed(bot, days=EVERY_DAY, reminders=False)
    await bot.advance(hours=1)
    await bot.advance(hours=24)
    await bot.press("Skip")  # opening lesson 2 counts, even to skip it
    await bot.advance(hours=24)
    [lesson] = await bot.advance(hours=24)
    assert "Lesson 4 of" in lesson.plain_text
