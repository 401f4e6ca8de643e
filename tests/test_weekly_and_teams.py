"""Issue 15: "ask me each week" (Sunday's question, outside quiet hours, through the outbox) and
what team leads get (a nudge at each member's waking time, the huddle card at the lead's time).
Dialogues through the real Application; the clock starts on Monday 30 November 2026, 07:00
London (UTC in winter)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from bot.core.pattern import weekly
from bot.core.schedule import WEEKDAYS
from bot.db.models import Subscription
from bot.sandbox.fake_telegram.records import FakeMessage
from tests.support.factories import make_learner
from tests.support.harness import BotUnderTest

ASKED = "Your week from Monday"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC (= London, in winter) instant in December 2026 (30 = Monday 30 November)."""
    month = 11 if day == 30 else 12
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def weekly_learner(bot: BotUnderTest, lesson_at: time = time(19, 0)) -> None:
    """A night worker asked each week; this week's days Monday to Friday, lessons at 19:00."""
    from bot.core.pattern import to_column

    await make_learner(
        bot,
        delivery_time=lesson_at,
        days=WEEKDAYS,
        next_due_at=at(30, lesson_at.hour),
        pattern=to_column(weekly(WEEKDAYS, lesson_at)),
        reminders=False,
    )


async def live_until(bot: BotUnderTest, until: datetime) -> list[tuple[datetime, FakeMessage]]:
    """Time passes an hour at a time; each lesson counts as opened (no auto-pause here).
    Returns what arrived, and when."""
    arrived: list[tuple[datetime, FakeMessage]] = []
    while bot.clock.now() < until:
        for message in await bot.advance(hours=1):
            arrived.append((bot.clock.now(), message))
        async with bot.runtime.sessions.begin() as session:
            for sub in await session.scalars(select(Subscription)):
                sub.unopened_streak = 0
    return arrived


def lesson_days(arrived: list[tuple[datetime, FakeMessage]]) -> list[str]:
    return [f"{when:%a %d %H}" for when, m in arrived if "Lesson " in m.plain_text]


async def test_the_sunday_question_comes_at_lesson_time_and_toggles_set_the_week(
    bot: BotUnderTest,
) -> None:
    await weekly_learner(bot)
    arrived = await live_until(bot, at(6, 18))  # Sunday 18:00
    assert lesson_days(arrived) == ["Mon 30 19", "Tue 01 19", "Wed 02 19", "Thu 03 19", "Fri 04 19"]
    assert not any(ASKED in m.plain_text for _, m in arrived)  # not in Sunday's quiet hours
    [asked] = await bot.advance(hours=1)  # 19:00, the end of Sunday's quiet hours
    assert ASKED in asked.plain_text and "7 December" in asked.plain_text
    assert "If you don't answer, these days stand" in asked.plain_text
    labels = [b["text"] for row in asked.buttons for b in row]
    assert labels == ["Mon on", "Tue on", "Wed on", "Thu on", "Fri on", "Sat off", "Sun off", "Done"]
    [edited] = await bot.press("Mon on", message=asked)  # Monday off ...
    [edited] = await bot.press("Sat off", message=edited)  # ... and Saturday on
    assert "Tue, Wed, Thu, Fri, Sat" in edited.plain_text
    [done] = await bot.press("Done", message=edited)
    assert "Lessons: Tue, Wed, Thu, Fri, Sat" in done.plain_text
    arrived = await live_until(bot, at(13, 12))
    assert lesson_days(arrived) == ["Tue 08 19", "Wed 09 19", "Thu 10 19", "Fri 11 19", "Sat 12 19"]


async def test_not_answering_keeps_last_weeks_days(bot: BotUnderTest) -> None:
    await weekly_learner(bot)
    await live_until(bot, at(6, 19))
    await bot.press("Wed on")  # Wednesday off for the week of 7 December
    arrived = await live_until(bot, at(20, 12))
    asked = [m for _, m in arrived if ASKED in m.plain_text]
    assert len(asked) == 1 and "14 December" in asked[0].plain_text  # asked again, once
    assert "Now: Mon, Tue, Thu, Fri" in asked[0].plain_text  # last week's choice shown
    # Not answered: the second week keeps the first week's answer.
    assert lesson_days(arrived) == [
        *("Mon 07 19", "Tue 08 19", "Thu 10 19", "Fri 11 19"),
        *("Mon 14 19", "Tue 15 19", "Thu 17 19", "Fri 18 19"),
    ]
    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None and sub.state == "active"
