"""Dialogues: choosing a shift pattern and quiet hours in /settings, the next lesson in the
pattern's words on /progress and after a lesson's Done or Skip, and the sandbox's clock showing
the rota (issue 15).

The clock starts on Monday 30 November 2026 at 07:00 in London (UTC); the learner takes lesson 1
straight away, so Monday has had its lesson.
"""

from __future__ import annotations

import io
from datetime import date, time

import pytest

from bot.core.pattern import Pattern, PatternKind, rota
from bot.core.timeparse import parse_day
from bot.sandbox.terminal import Terminal
from bot.views.callbacks import SETTINGS
from tests.support.harness import USER, BotUnderTest, labels


async def enrolled(bot: BotUnderTest) -> None:
    await bot.send("/start")
    await bot.press("I agree, let's set up")
    await bot.press("Start: first lesson now")


async def pattern(bot: BotUnderTest) -> Pattern:
    enrolment = await bot.runtime.services.enrolment.status(USER)
    assert enrolment is not None
    return enrolment.schedule.pattern


# --- a rota --------------------------------------------------------------------------------------

THURSDAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("today", THURSDAY),
        ("Tomorrow", date(2026, 12, 4)),
        ("yesterday", date(2026, 12, 2)),
        ("thursday", THURSDAY),
        ("on Mon", date(2026, 12, 7)),
        ("3 Dec", THURSDAY),
        ("December 1st", date(2026, 12, 1)),
        ("28/12", date(2026, 12, 28)),
        ("2 Jan", date(2027, 1, 2)),  # the nearest 2 January, next month
        ("2026-11-30", date(2026, 11, 30)),
        ("monkey", None),
        ("31 Feb", None),
        ("2020-01-01", None),  # more than a year away
    ],
)
def test_a_rotas_first_day_can_be_typed_in_everyday_ways(typed: str, day: date | None) -> None:
    assert parse_day(typed, THURSDAY) == day


async def test_a_rota_by_buttons_with_its_start_and_a_time_per_shift(bot: BotUnderTest) -> None:
    await enrolled(bot)
    [screen] = await bot.send("/settings")
    assert "Your pattern: fixed days" in screen.plain_text
    [menu] = await bot.press("Your pattern")
    assert labels(menu)[:3] == ["Fixed days (current)", "4 on 4 off", "2 days 2 nights 4 off"]
    assert "5 on 2 off" in labels(menu) and "Ask me each week" in labels(menu)
    [start] = await bot.press("2 days 2 nights 4 off")
    assert "A rota of 2 days, 2 nights, 4 off" in start.plain_text
    assert labels(start)[:2] == ["Today, Monday 30 November", "Tomorrow, Tuesday 1 December"]
    [days] = await bot.press("Tomorrow, Tuesday 1 December")
    assert "lesson on day shifts?" in days.plain_text
    assert "No lesson on day shifts" in labels(days)
    [nights] = await bot.press("07:30")
    assert "lesson on night shifts?" in nights.plain_text
    [off] = await bot.press("19:00")
    assert "lesson on days off?" in off.plain_text
    [done] = await bot.press("No lesson on days off")
    text = done.plain_text
    assert "Your pattern is now a rota of 2 days, 2 nights, 4 off." in text
    assert "Lessons: 07:30 on day shifts, 19:00 on night shifts, no lesson on days off" in text
    assert "Today: Monday, a day off (no lesson)" in text
    assert "Next lesson: on your next day shift, tomorrow at 07:30." in text
    # On a rota the days and the one lesson time are the rota's: no buttons for them.
    assert "Change time" not in labels(done) and "Change days" not in labels(done)
    assert await pattern(bot) == rota(
        "DDNNOOOO", date(2026, 12, 1), day_time=time(7, 30), night_time=time(19, 0)
    )
    [progress] = await bot.send("/progress")
    assert (
        "Next lesson: on your next day shift, tomorrow at 07:30 (Europe/London)."
        in progress.plain_text
    )
    # The lesson comes at the day-shift time, and the rota's own words follow it.
    assert await bot.advance(hours=24) == []  # Tuesday 07:00
    arrived = await bot.advance(minutes=31)
    assert any("Lesson 2 of" in message.plain_text for message in arrived)
    # The lesson's footer, after Done, names the next shift.
    [thanks] = await bot.press("Done")
    assert "Next lesson on your next day shift, tomorrow at 07:30." in thanks.plain_text


async def test_a_rota_typed_with_lessons_on_days_off_only(bot: BotUnderTest) -> None:
    await enrolled(bot)
    await bot.send("/settings")
    await bot.press("Your pattern")
    [unread] = await bot.send("sometimes nights")
    assert "couldn't read" in unread.plain_text and "4 on 4 off" in unread.plain_text
    [start] = await bot.send("3 on 2 off")
    assert "A rota of 3 days, 2 off" in start.plain_text
    [again] = await bot.send("next blue moon")
    assert "couldn't read" in again.plain_text and "as a date" in again.plain_text
    [days] = await bot.send("Wednesday")
    assert "lesson on day shifts?" in days.plain_text
    [off] = await bot.send("no lesson")
    assert "lesson on days off?" in off.plain_text
    [retry] = await bot.send("teatime")
    assert "couldn't read" in retry.plain_text and "lesson on days off?" in retry.plain_text
    [done] = await bot.send("6pm")
    assert "Your pattern is now a rota of 3 days, 2 off." in done.plain_text
    assert "no lesson on day shifts, 18:00 on days off" in done.plain_text
    # Monday 30 November is a day off but already had its lesson: the next is Tuesday's.
    assert "Next lesson: on your next day off, tomorrow at 18:00." in done.plain_text
    assert await pattern(bot) == rota("DDDOO", date(2026, 12, 2), off_time=time(18, 0))
    # The answer was taken: the next text is a search again.
    [search] = await bot.send("7pm")
    assert "Your pattern" not in search.plain_text
    [skipped] = await bot.press("Skip")
    assert "Your next lesson comes on your next day off, tomorrow at 18:00." in skipped.plain_text


async def test_no_lesson_on_every_kind_of_day_is_asked_again(bot: BotUnderTest) -> None:
    await enrolled(bot)
    await bot.send("/settings")
    await bot.press("Your pattern")
    await bot.press("4 on 4 off")
    await bot.press("Today, Monday 30 November")
    await bot.press("No lesson on day shifts")
    [again] = await bot.press("No lesson on days off")
    assert "no lessons would come" in again.plain_text
    assert "lesson on day shifts?" in again.plain_text
    assert (await pattern(bot)).kind == PatternKind.DAYS  # nothing stored yet
    await bot.press("08:00")
    [done] = await bot.press("No lesson on days off")
    assert "Your pattern is now a rota of 4 days, 4 off." in done.plain_text


async def test_a_forged_or_garbled_rota_button_does_nothing(bot: BotUnderTest) -> None:
    await enrolled(bot)
    [screen] = await bot.send("/settings")
    for data in (f"{SETTINGS}:rota:XYZ", f"{SETTINGS}:rota:DDOO.20261399", f"{SETTINGS}:pat:x"):
        assert await bot.sim.press_data(USER, screen.message_id, data) == []
    assert (await pattern(bot)).kind == PatternKind.DAYS


# --- fixed days and ask each week -----------------------------------------------------------------


async def test_ask_each_week_and_back_to_fixed_days_keep_days_and_time(bot: BotUnderTest) -> None:
    await enrolled(bot)
    before = await pattern(bot)
    await bot.send("/settings")
    await bot.press("Your pattern")
    [weekly] = await bot.press("Ask me each week")
    assert "Your pattern is now ask me each week." in weekly.plain_text
    assert "Each Sunday I'll ask" in weekly.plain_text
    now = await pattern(bot)
    assert now.kind == PatternKind.WEEKLY
    assert (now.days, now.lesson_time) == (before.days, before.lesson_time)
    # Typed: a rota, then fixed days again.
    await bot.press("Your pattern")
    await bot.send("4 on 4 off")
    await bot.send("today")
    await bot.send("7:00")
    await bot.send("no lesson")
    assert (await pattern(bot)).kind == PatternKind.ROTA
    await bot.send("/settings")
    await bot.press("Your pattern")
    [fixed] = await bot.send("fixed days")
    assert "Your pattern is now fixed days." in fixed.plain_text
    assert "Change time" in labels(fixed)
    assert await pattern(bot) == before
    await bot.press("Your pattern")
    [typed] = await bot.send("each week")
    assert "Your pattern is now ask me each week." in typed.plain_text


# --- quiet hours ---------------------------------------------------------------------------------


async def test_quiet_hours_set_by_button_and_typed_refused_and_reset(bot: BotUnderTest) -> None:
    await enrolled(bot)  # lessons at 08:00
    [screen] = await bot.send("/settings")
    assert "Quiet hours: the 9 hours before your lesson (the default)" in screen.plain_text
    [menu] = await bot.press("Quiet hours")
    assert labels(menu)[0] == "The 9 hours before my lesson (current)"
    [chosen] = await bot.press("22:00 to 06:00")
    assert "Quiet hours: 22:00 to 06:00." in chosen.plain_text
    await bot.press("Quiet hours")
    [typed] = await bot.send("10pm to 6:30am")
    assert "Quiet hours: 22:00 to 06:30." in typed.plain_text
    # A lesson inside them: a kind refusal, and nothing changes.
    [menu] = await bot.press("Quiet hours")
    [refused] = await bot.press("08:00 to 16:00", message=menu)
    assert "would cover a lesson time" in refused.plain_text
    assert "your 08:00 lesson" in refused.plain_text
    [refused_typed] = await bot.send("07:00-09:00")
    assert "would cover a lesson time" in refused_typed.plain_text
    [unread] = await bot.send("whenever I'm asleep")
    assert "couldn't read" in unread.plain_text and "22:00-06:00" in unread.plain_text
    assert (await pattern(bot)).quiet_from == time(22, 0)
    [reset] = await bot.press("The 9 hours before my lesson")
    assert "Quiet hours: the 9 hours before your lesson (the default)." in reset.plain_text
    assert (await pattern(bot)).quiet_from is None
    await bot.press("Quiet hours")
    [typed_reset] = await bot.send("default")
    assert "(the default)" in typed_reset.plain_text


async def test_a_lesson_time_inside_the_learners_own_quiet_hours_is_refused_kindly(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    await bot.send("/settings")
    await bot.press("Quiet hours")
    await bot.send("22:00-06:00")
    [menu] = await bot.press("Change time")
    [refused] = await bot.send("23:00")
    assert "I couldn't use that time: your 23:00 lesson would fall" in refused.plain_text
    assert "22:00 to 06:00" in refused.plain_text
    [by_button] = await bot.press("06:00", message=menu)
    assert "I couldn't use that time" not in by_button.plain_text  # 06:00 is when they end
    assert "Lesson time set to 06:00" in by_button.plain_text


async def test_a_rota_time_inside_the_learners_quiet_hours_is_refused_kindly(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    await bot.send("/settings")
    await bot.press("Quiet hours")
    await bot.send("22:00-06:00")
    await bot.press("Your pattern")
    await bot.press("2 days 2 nights 4 off")
    await bot.press("Today, Monday 30 November")
    await bot.send("7:30")
    await bot.send("23:00")
    [refused] = await bot.send("no lesson")
    assert "I couldn't set that pattern: your 23:00 lesson" in refused.plain_text
    assert "22:00 to 06:00" in refused.plain_text
    assert (await pattern(bot)).kind == PatternKind.DAYS
    # The menu is live again: a typed rota starts over.
    [start] = await bot.send("4 on 4 off")
    assert "A rota of 4 days, 4 off" in start.plain_text


# --- the sandbox ---------------------------------------------------------------------------------


async def test_the_sandbox_clock_shows_the_rota_and_todays_shift(bot: BotUnderTest) -> None:
    await enrolled(bot)
    service = bot.runtime.services.enrolment
    await service.set_pattern(
        USER, rota("DDNNOOOO", date(2026, 11, 29), day_time=time(7, 30), night_time=time(19, 0))
    )
    out = io.StringIO()
    terminal = Terminal(bot.sim, bot.clock, USER, out, service)
    await terminal.handle(":advance 1d")
    assert (
        "(your pattern: a rota of 2 days, 2 nights, 4 off;"
        " today: Tuesday, a night shift (lesson at 19:00))"
    ) in out.getvalue()
