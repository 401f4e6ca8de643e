"""Issue 15, done when: a night worker on "2 days 2 nights 4 off" gets lessons, reminders and
nudges only when awake, across four weeks and a DST change.

The learner works in London from Monday 15 March 2027 (clocks go forward on Sunday 28 March),
with lessons at 07:30 on day shifts and 19:00 on night shifts, and the default quiet hours (the 9
hours before each lesson). Time passes half an hour at a time (every lesson, quiet-hour end and
reminder falls on the half hour), so each message is seen at the moment it arrives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.clock import FakeClock
from bot.core.pattern import Shift, in_quiet_hours, rota, shift_on
from bot.sandbox.fake_telegram.records import FakeMessage
from tests.support.factories import ADMIN, LEAD, join, make_lead, new_cohort, set_last_active
from tests.support.harness import USER, BotUnderTest, bot_under_test

LONDON = ZoneInfo("Europe/London")
START = date(2027, 3, 15)  # a Monday; the first day shift
NIGHT_WORKER = rota("DDNNOOOO", START, day_time=time(7, 30), night_time=time(19, 0))
SHIFT_TIMES = {Shift.DAY: time(7, 30), Shift.NIGHT: time(19, 0)}
STEP = timedelta(minutes=30)

REMINDER = "whenever you have two minutes"
PAUSED = "I've paused your daily lessons"
NUDGE = "No pressure"


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    """The real bot with one admin, who makes the team lead."""
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        yield b


def kind_of(message: FakeMessage) -> str:
    """What a message from the bot is, by its words."""
    text = message.plain_text
    if REMINDER in text:
        return "reminder"
    if PAUSED in text:
        return "pause note"
    if NUDGE in text:
        return "nudge"
    if "Lesson " in text and " of " in text:
        return "lesson"
    return "other"


async def test_a_night_worker_hears_from_the_bot_only_when_awake(bot: BotUnderTest) -> None:
    bot.clock.set(datetime(2027, 3, 14, 12, 0, tzinfo=UTC))  # Sunday, the day before the rota
    await make_lead(bot, LEAD)
    await join(bot, await new_cohort(bot, "Night team"), USER, "Ana")
    enrolment = await bot.runtime.services.enrolment.set_pattern(USER, NIGHT_WORKER)
    assert enrolment.next_lesson_at == datetime(2027, 3, 15, 7, 30, tzinfo=UTC)

    received: list[tuple[datetime, str, FakeMessage]] = []
    nudged_weeks: set[int] = set()
    end = datetime(2027, 4, 12, 12, 0, tzinfo=UTC)  # four weeks on, across 28 March
    while bot.clock.now() < end:
        for message in await bot.advance(minutes=STEP.total_seconds() / 60):
            received.append((bot.clock.now(), kind_of(message), message))
        now = bot.clock.now()
        local = now.astimezone(LONDON)
        kinds = [kind for at, kind, _ in received if at == now]
        if "pause note" in kinds:
            # Three lessons in a row left unopened, each with its reminder: a kind pause (in
            # place of the fourth lesson). The learner resumes at once, and so on.
            received += [(now, "resume", m) for m in await bot.press("Resume lessons")]
        # The lead nudges the team once a week, at 13:00 London: the night worker's sleep.
        week = (local.date() - START).days // 7
        if local.time() == time(13, 0) and week in (1, 3) and week not in nudged_weeks:
            nudged_weeks.add(week)
            await set_last_active(bot, USER, now - timedelta(days=8))
            [result] = await bot.send("/cohort nudge Night team", user=LEAD)
            assert "gets a gentle nudge" in result.plain_text

    # Nothing from the bot arrives in the learner's quiet hours.
    for at, kind, message in received:
        assert not in_quiet_hours(at, NIGHT_WORKER, LONDON), (at, kind, message.plain_text)

    # Lessons only on shift days, at that shift's local time, never two on one local date.
    lessons = [at.astimezone(LONDON) for at, kind, _ in received if kind == "lesson"]
    for local in lessons:
        shift = shift_on(NIGHT_WORKER, local.date())
        assert shift in SHIFT_TIMES, local
        assert local.time() == SHIFT_TIMES[shift], local
    assert max(Counter(local.date() for local in lessons).values()) == 1
    # Every shift day brought its lesson, except those a pause note took the place of.
    shift_days = [
        START + timedelta(days=n)
        for n in range((end.date() - START).days + 1)
        if shift_on(NIGHT_WORKER, START + timedelta(days=n)) in SHIFT_TIMES
    ]
    notes = [at.astimezone(LONDON).date() for at, kind, _ in received if kind == "pause note"]
    assert len(notes) >= 2
    assert sorted(local.date() for local in lessons) == [d for d in shift_days if d not in notes]
    # Both sides of the clock change: 19:00 is 19:00 UTC before it and 18:00 UTC after it.
    utc_hours = {at.hour for at, kind, _ in received if kind == "lesson"}
    assert {19, 18, 7, 6} <= utc_hours

    # A reminder for every lesson (none was opened), and the nudges, all when awake.
    reminders = [at for at, kind, _ in received if kind == "reminder"]
    assert len(reminders) == len(lessons)
    nudges = [at.astimezone(LONDON) for at, kind, _ in received if kind == "nudge"]
    assert len(nudges) == 2
    for local in nudges:  # asked for at 13:00, in their sleep; sent when the quiet hours ended
        assert local.time() == time(19, 0) or local.time() == time(7, 30), local
