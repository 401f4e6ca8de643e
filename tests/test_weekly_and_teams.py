"""Issue 15: "ask me each week" (Sunday's question, outside quiet hours, through the outbox) and
what team leads get (a nudge at each member's waking time, the huddle card at the lead's time).
Dialogues through the real Application; the clock starts on Monday 30 November 2026, 07:00
London (UTC in winter)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.core.pattern import to_column, weekly
from bot.core.schedule import WEEKDAYS
from bot.db.models import Delivery, Subscription
from bot.sandbox.fake_telegram.records import FakeMessage
from tests.support.factories import (
    ADMIN,
    LEAD,
    join,
    make_lead,
    make_learner,
    new_cohort,
    rows,
    set_last_active,
    subscription_of,
)
from tests.support.harness import BotUnderTest, bot_under_test

ASKED = "Your week from Monday"


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    """The real bot with one admin, who makes team leads."""
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        yield b
        assert b.server.rejected == [], "the bot sent something Telegram would reject"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC (= London, in winter) instant in December 2026 (30 = Monday 30 November)."""
    month = 11 if day == 30 else 12
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def weekly_learner(bot: BotUnderTest, lesson_at: time = time(19, 0)) -> None:
    """A night worker asked each week; this week's days Monday to Friday, lessons at 19:00."""
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
    assert labels == [
        *("Mon on", "Tue on", "Wed on", "Thu on", "Fri on", "Sat off", "Sun off"),
        "Done",
    ]
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


# --- team leads ----------------------------------------------------------------------------------
ROTA = "2 days 2 nights 4 off"


async def test_a_lead_sets_the_team_rota_and_a_joiner_follows_it_in_one_tap(
    bot: BotUnderTest,
) -> None:
    await make_lead(bot, LEAD)
    invite = await new_cohort(bot, "Night team")
    [saved] = await bot.send(f"/cohort rota Night team {ROTA} from 2026-12-07", user=LEAD)
    assert "Saved." in saved.plain_text
    assert "rota of 2 days, 2 nights, 4 off: lessons at 08:00 on day shifts, 19:00 on night" in (
        saved.plain_text
    )
    [unreadable] = await bot.send("/cohort rota Night team most days", user=LEAD)
    assert "I couldn't read that" in unreadable.plain_text and "4 on 4 off" in unreadable.plain_text

    joined, _confidence_invitation = await join(bot, invite, 3001, "Ana")
    assert "Your team works a rota of 2 days, 2 nights, 4 off" in joined.plain_text
    [taken] = await bot.press("Follow the team's rota", user=3001)
    assert "your lessons follow the rota" in taken.plain_text
    assert "on your next day shift, today at 08:00" in taken.plain_text
    sub = await subscription_of(bot, 3001)
    # The cycle runs back from its start too: Monday 30 November is its second day shift.
    assert sub is not None and sub.next_due_at == at(30, 8)
    assert sub.pattern is not None and "DDNNOOOO" in sub.pattern
    # A newcomer who does not tap keeps the cohort's plain schedule.
    await join(bot, invite, 3002, "Ben")
    other = await subscription_of(bot, 3002)
    assert other is not None and other.pattern is None
    # Rota off: the next joiner is offered nothing.
    await bot.send("/cohort rota Night team off", user=LEAD)
    plain, _confidence_invitation = await join(bot, invite, 3003, "Cy")
    assert "Follow the team's rota" not in str(plain.buttons)


async def test_a_nudge_lands_at_each_members_waking_time(bot: BotUnderTest) -> None:
    await make_lead(bot, LEAD)
    invite = await new_cohort(bot, "Night team")
    await join(bot, invite, 3001, "Ana")  # lessons at 08:00: awake from 08:00
    await join(bot, invite, 3002, "Ben")
    ben = await subscription_of(bot, 3002)
    assert ben is not None
    async with bot.runtime.sessions.begin() as session:  # Ben works nights: asleep until 19:00
        night = await session.get(Subscription, ben.id)
        assert night is not None
        night.delivery_time = time(19, 0)
    for user in (3001, 3002):
        await set_last_active(bot, user, bot.clock.now().replace(day=20, month=11))
    bot.clock.set(at(1, 11))  # Tuesday 11:00: Ana is awake, Ben asleep
    [result] = await bot.send("/cohort nudge Night team", user=LEAD)
    assert "gets a gentle nudge" in result.plain_text
    due = {d.chat_id: d.due_at for d in await rows(bot, Delivery) if d.kind == "nudge"}
    assert due == {3001: at(1, 11), 3002: at(1, 19)}
    await bot.advance(minutes=1)
    assert any("No pressure" in m.plain_text for m in bot.messages(3001))
    assert not any("No pressure" in m.plain_text for m in bot.messages(3002))
    bot.clock.set(at(1, 19, 1))
    await bot.sim.run_clock_jobs()
    assert any("No pressure" in m.plain_text for m in bot.messages(3002))


async def test_the_huddle_card_comes_at_the_leads_own_time(bot: BotUnderTest) -> None:
    await make_lead(bot, LEAD)
    invite = await new_cohort(bot, "Night team")
    [saved] = await bot.send("/cohort huddle Night team friday 17:30", user=LEAD)
    assert "Huddle card: Fridays at 17:30" in saved.plain_text
    await join(bot, invite, 3001, "Ana")

    def cards() -> list[FakeMessage]:
        return [m for m in bot.messages(LEAD) if "Huddle card: Night team" in m.plain_text]

    bot.clock.set(at(4, 17, 29))  # Friday, a minute before
    await bot.sim.run_clock_jobs()
    assert cards() == []
    bot.clock.set(at(4, 17, 31))
    await bot.sim.run_clock_jobs()
    assert len(cards()) == 1
    [moved] = await bot.send("/cohort huddle Night team 07:00", user=LEAD)  # time only
    assert "Huddle card: Fridays at 07:00" in moved.plain_text
