"""One gentle reminder for an unopened lesson; three unopened in a row pause lessons kindly."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from bot.core.pattern import fixed_days, to_column, with_quiet_hours
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
    """Issue 15 changed this test's first half: quiet hours were everyone's 21:00-07:00 and a
    reminder in them was dropped; now they are the learner's own and it waits for their end."""
    own_quiet = with_quiet_hours(fixed_days(EVERY_DAY, time(18, 0)), time(21, 0), time(7, 0))
    await subscribed(bot, delivery_time=time(18, 0), pattern=to_column(own_quiet))
    bot.clock.advance(timedelta(hours=10))  # 17:00 London; the reminder would come at 22:00
    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None
        sub.next_due_at = bot.clock.now() + timedelta(hours=1)
    await bot.advance(hours=1)
    await bot.advance(hours=12)  # to 06:00: still quiet, nothing has come
    assert all(REMINDER not in text for text in texts(bot.messages()))
    [reminder] = await bot.advance(hours=1)  # 07:00, when their quiet hours end
    assert REMINDER in reminder.plain_text

    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None
        sub.reminders, sub.delivery_time, sub.pattern = False, time(8, 0), None
        sub.next_due_at = bot.clock.now() + timedelta(hours=1)
    before = len(texts(bot.messages()))
    await bot.advance(hours=1)
    await bot.advance(hours=6)
    assert all(REMINDER not in text for text in texts(bot.messages())[before:])


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


# --- quiet hours that are the learner's own (issue 15) -------------------------------------------


async def evening_learner(bot: BotUnderTest, quiet: tuple[time, time] | None) -> None:
    """Lessons every day at 20:00 London (the first today), with these quiet hours."""
    pattern = fixed_days(EVERY_DAY, time(20, 0))
    if quiet is not None:
        pattern = with_quiet_hours(pattern, *quiet)
    await make_learner(
        bot,
        days=EVERY_DAY,
        delivery_time=time(20, 0),
        pattern=to_column(pattern),
        next_due_at=datetime(2026, 11, 30, 20, 0, tzinfo=UTC),
    )


async def test_a_late_lesson_gets_its_reminder_outside_the_default_quiet_hours(
    bot: BotUnderTest,
) -> None:
    # The example: a 22:00 lesson used to get no reminder at all (21:00-07:00 was
    # quiet for everyone); its quiet hours are now the 9 hours before 22:00.
    await make_learner(
        bot,
        days=EVERY_DAY,
        delivery_time=time(22, 0),
        next_due_at=datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
    )
    bot.clock.set(datetime(2026, 11, 30, 21, 59, tzinfo=UTC))
    [lesson] = await bot.advance(minutes=1)
    assert "Lesson 1 of" in lesson.plain_text
    [reminder] = await bot.advance(hours=4)
    assert REMINDER in reminder.plain_text
    assert bot.clock.now() == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


async def test_a_reminder_in_quiet_hours_waits_for_their_end(bot: BotUnderTest) -> None:
    await evening_learner(bot, (time(23, 0), time(7, 0)))  # the reminder would come at 00:00
    bot.clock.set(datetime(2026, 11, 30, 19, 59, tzinfo=UTC))
    [lesson] = await bot.advance(minutes=1)
    assert "Lesson 1 of" in lesson.plain_text
    assert await bot.advance(hours=10, minutes=59) == []  # to 06:59: asleep
    [reminder] = await bot.advance(minutes=1)
    assert REMINDER in reminder.plain_text
    assert bot.clock.now() == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


async def test_no_reminder_when_quiet_hours_last_until_the_next_lesson_and_no_pause(
    bot: BotUnderTest,
) -> None:
    # Quiet from 21:00 until the next lesson at 20:00: the reminder would only go with it, so
    # there is none, and lessons nobody could remind them of never pause the learner.
    await evening_learner(bot, (time(21, 0), time(20, 0)))
    bot.clock.set(datetime(2026, 11, 30, 19, 59, tzinfo=UTC))
    received = await bot.advance(minutes=1)
    for _ in range(5):
        received += await bot.advance(days=1)
    assert all(REMINDER not in text for text in texts(received))
    assert all(PAUSED not in text for text in texts(received))
    assert len(received) == 6 and all("Lesson" in text for text in texts(received))
    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None and sub.state == "active" and sub.unopened_streak == 0
