"""Dialogues: /start and consent, the schedule, lessons now, settings, pause, resume, stop, restart.

Each runs the real Application over real HTTP against the fake Bot API server, with the delivery
engine driven by `bot.advance`. The clock starts on Monday 30 November 2026 at 07:00 in London.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.content.schema import answer_order
from bot.core.clock import FakeClock
from bot.core.flood import FloodLimit
from bot.db.models import Subscription
from bot.views.callbacks import COURSE, ONBOARD, SETTINGS
from tests.support.factories import ADMIN, LEAD, make_lead, new_cohort
from tests.support.harness import USER, BotUnderTest, bot_under_test, labels, texts

LESSON_1 = "Lesson 1 of 32"


@pytest.fixture
def learner(bot: BotUnderTest) -> BotUnderTest:
    """Someone about to meet the bot (the `bot` fixture, named for these dialogues)."""
    return bot


async def enrolled(bot: BotUnderTest, start: str = "Start: first lesson now") -> None:
    await bot.send("/start")
    await bot.press("I agree, let's set up")
    await bot.press(start)


async def status(bot: BotUnderTest) -> str | None:
    enrolment = await bot.runtime.services.enrolment.status(1001)
    return enrolment.state if enrolment is not None else None


# --- welcome and consent -------------------------------------------------------------------------


async def test_welcome_says_what_it_is_and_asks_before_storing(learner: BotUnderTest) -> None:
    [welcome] = await learner.send("/start")
    text = welcome.plain_text
    for words in (
        "32 lessons",
        "one a day",
        "two minutes",
        "not a crisis service",
        "/support",
        "team lead sees progress only, never your reflections",
        "/mydata",
        "/forget",
    ):
        assert words in text
    assert labels(welcome) == ["I agree, let's set up", "No thanks"]
    assert await learner.runtime.services.learners.find(1001) is None


# What the bot is and is not, and what it stores: the same words on /start and on an invite link.
FRAMING = (
    "It is a learning tool. It is not a crisis service, and nobody monitors these messages.",
    "/support is always there",
    "your Telegram user number (not your name or phone number)",
    "Your reflections are encrypted and are yours alone",
    "/mydata",
    "/forget",
)


async def test_joining_by_invite_link_gives_the_same_framing_as_start(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        await make_lead(bot, LEAD)
        invite = await new_cohort(bot, "Night team")
        [welcome] = await bot.send("/start", user=3001)
        [join] = await bot.send(f"/start {invite}", user=3002)  # never saw /start
        assert bot.server.rejected == []
    assert join.plain_text.startswith("Join Night team?")
    for words in FRAMING:
        assert words in welcome.plain_text
        assert words in join.plain_text, words
    assert labels(join) == ["Join", "No thanks"]


async def test_declining_stores_nothing(learner: BotUnderTest) -> None:
    await learner.send("/start")
    [declined] = await learner.press("No thanks")
    assert "nothing has been stored" in declined.plain_text
    assert await learner.runtime.services.learners.find(1001) is None
    [again] = await learner.send("/start")
    assert "I agree, let's set up" in labels(again)


async def test_a_deep_link_payload_is_ignored_gracefully(learner: BotUnderTest) -> None:
    [welcome] = await learner.send("/start some-unknown-invite-token")
    assert "Welcome" in welcome.plain_text
    assert "some-unknown" not in welcome.plain_text


async def test_the_defaults_in_one_tap_with_the_first_lesson_now(learner: BotUnderTest) -> None:
    await learner.send("/start")
    [setup] = await learner.press("I agree, let's set up")
    for words in ("08:00", "Europe/London", "weekdays", "with the lesson"):
        assert words in setup.plain_text
    assert "Start: first lesson today at 08:00" in labels(setup)
    started, confidence, lesson = await learner.press("Start: first lesson now")
    assert "how confident do you feel" in confidence.plain_text  # optional, before the lesson
    assert "You're all set" in started.plain_text
    assert "Next lesson: tomorrow at 08:00" in started.plain_text
    assert LESSON_1 in lesson.plain_text
    assert "Done" in labels(lesson) and "I need a moment" in labels(lesson)
    # Monday's 08:00 slot does not bring a second lesson; Tuesday's brings lesson 2.
    assert await learner.advance(hours=1) == []
    [tuesday] = await learner.advance(days=1)
    assert "Lesson 2 of 32" in tuesday.plain_text


async def test_the_first_lesson_at_the_chosen_time(learner: BotUnderTest) -> None:
    await enrolled(learner, start="Start: first lesson today at 08:00")
    assert await learner.advance(minutes=30) == []
    [lesson] = await learner.advance(minutes=30)
    assert LESSON_1 in lesson.plain_text


async def test_start_again_shows_where_you_are_not_a_second_subscription(
    learner: BotUnderTest,
) -> None:
    [old_welcome] = await learner.send("/start")  # a first welcome, left unanswered
    await enrolled(learner)
    [status_message] = await learner.send("/start")
    assert "1 of 32 lessons has come to you so far" in status_message.plain_text
    assert "Next lesson: tomorrow at 08:00" in status_message.plain_text
    assert {"Today's lesson", "Next lesson now", "Settings", "Pause"} <= set(labels(status_message))
    # The old welcome's "I agree" and an old "Start" do nothing new.
    [again] = await learner.press("I agree, let's set up", message=old_welcome)
    assert "signed up already" in again.plain_text
    replies = await learner.sim.press_data(1001, old_welcome.message_id, f"{ONBOARD}:now")
    assert any("already started" in text for text in texts(replies))
    assert len([m for m in learner.messages() if LESSON_1 in m.plain_text]) == 1


# --- schedule settings ---------------------------------------------------------------------------


async def test_time_by_button_and_typed(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/settings")
    [menu] = await learner.press("Change time")
    assert "08:00 (current)" in labels(menu)
    [changed] = await learner.press("07:30")
    assert "Lesson time set to 07:30" in changed.plain_text
    assert "Next lesson: tomorrow at 07:30" in changed.plain_text
    await learner.press("Change time")
    [retry] = await learner.send("half past banana")
    assert "couldn't read" in retry.plain_text and "7pm" in retry.plain_text
    [typed] = await learner.send("7pm")
    assert "Lesson time set to 19:00" in typed.plain_text
    # The answer was taken: the next text is a search again.
    [search] = await learner.send("19:05")
    assert "Lesson time set" not in search.plain_text


async def test_changing_time_after_todays_lesson_gives_no_second_one(
    learner: BotUnderTest,
) -> None:
    await enrolled(learner)  # lesson 1 at 07:00 Monday
    await learner.send("/settings")
    await learner.press("Change time")
    [changed] = await learner.send("19:05")
    assert "Next lesson: tomorrow at 19:05" in changed.plain_text
    assert await learner.advance(hours=13) == []  # Monday 20:00: nothing more today


async def test_timezone_typed_with_suggestions(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/settings")
    [menu] = await learner.press("Change timezone")
    assert any(label.startswith("UK: 07:00 now") for label in labels(menu))
    [suggested] = await learner.send("Europe/Londn")
    assert "Did you mean" in suggested.plain_text
    assert labels(suggested)[0] == "Europe/London (07:00 now)"
    [typed] = await learner.send("america/new york")
    assert "Timezone set to America/New_York" in typed.plain_text
    await learner.press("Change timezone")
    [city] = await learner.send("london")
    [chosen] = await learner.press("Europe/London (07:00 now)", message=city)
    assert "Timezone set to Europe/London" in chosen.plain_text
    await learner.press("Change timezone")
    [unknown] = await learner.send("Atlantis")
    assert "couldn't find a timezone" in unknown.plain_text
    [back] = await learner.press("Back")
    assert "Your settings" in back.plain_text


async def test_days_every_day_chosen_or_typed(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/settings")
    await learner.press("Change days")
    [picking] = await learner.press("Choose days")
    assert labels(picking)[:2] == ["Mon: on", "Tue: on"]
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        await learner.press(f"{day}: on")
    [none] = await learner.press("Sat: off")
    assert "Chosen: Sat" in none.plain_text
    [saved] = await learner.press("Save these days")
    assert "Lessons will come Sat" in saved.plain_text
    assert "Next lesson: Saturday 5 December at 08:00" in saved.plain_text
    await learner.press("Change days")
    [typed] = await learner.send("Mon, Wed, Fri")
    assert "Lessons will come Mon, Wed, Fri" in typed.plain_text
    await learner.press("Change days")
    [every] = await learner.press("Every day")
    assert "Lessons will come every day" in every.plain_text


async def test_reflection_time_later_the_same_day(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/settings")
    [menu] = await learner.press("Reflection time")
    assert "With the lesson (current)" in labels(menu)
    assert "06:00" not in labels(menu)
    [changed] = await learner.press("17:00")
    assert "Reflection prompt: later the same day, at 17:00" in changed.plain_text
    await learner.press("Reflection time")
    [early] = await learner.send("7:00")
    assert "couldn't use" in early.plain_text and "after your lesson time" in early.plain_text
    [typed] = await learner.send("18:30")
    assert "come at 18:30" in typed.plain_text
    await learner.press("Reflection time")
    [back] = await learner.press("With the lesson")
    assert "Reflection prompt: with the lesson" in back.plain_text


async def test_reminders_on_and_off(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/settings")
    [off] = await learner.press("Turn reminders off")
    assert "Reminders: off" in off.plain_text
    [on] = await learner.press("Turn reminders on")
    assert "Reminders: on" in on.plain_text
    [closed] = await learner.press("Done")
    assert "saved" in closed.plain_text and labels(closed) == []


async def test_settings_in_setup_then_start(learner: BotUnderTest) -> None:
    await learner.send("/start")
    await learner.press("I agree, let's set up")
    await learner.press("Change time")
    [changed] = await learner.press("06:30")
    assert "Start: first lesson tomorrow at 06:30" in labels(changed)
    await learner.press("Start: first lesson tomorrow at 06:30")
    assert await status(learner) == "active"
    [lesson] = await learner.advance(days=1)
    assert LESSON_1 in lesson.plain_text


# --- lessons now ---------------------------------------------------------------------------------


async def test_next_is_not_repeated_by_the_engine(learner: BotUnderTest) -> None:
    await enrolled(learner)
    [second] = await learner.send("/next")
    assert "Lesson 2 of 32" in second.plain_text
    [tuesday] = await learner.advance(days=1, hours=1)
    assert "Lesson 3 of 32" in tuesday.plain_text


async def test_today_serves_the_latest_lesson(learner: BotUnderTest) -> None:
    await enrolled(learner, start="Start: first lesson today at 08:00")
    [nothing] = await learner.send("/today")
    assert "Your first lesson comes today at 08:00" in nothing.plain_text
    await learner.advance(hours=1)
    [again] = await learner.send("/today")
    assert LESSON_1 in again.plain_text


async def test_a_whole_course_day_by_day_then_the_closing_message(
    learner: BotUnderTest,
) -> None:
    await enrolled(learner)
    first = learner.runtime.services.content.lessons[0]
    await learner.press("Quick check")
    order = answer_order(first, USER)
    wrong = next(i for i in order if i != first.check.correct)
    await learner.press("ABCD"[order.index(wrong)])  # a wrong answer: reviewed later
    await learner.send("/settings")
    await learner.press("Change days")
    await learner.press("Every day")
    seen = 1
    await learner.advance(hours=1)  # 08:00, the slot each day
    for _ in range(31):
        new = await learner.advance(days=1)
        lessons = [m for m in new if "of 32" in m.plain_text]
        seen += len(lessons)
        if lessons:  # a learner who opens their lessons (three unopened would pause them)
            if "Content note" in lessons[0].plain_text:
                await learner.press("Show the lesson", message=lessons[0])
            await learner.press("Done", message=lessons[0])
    assert seen == 32
    assert await learner.advance(days=1) == []
    [closing] = await learner.send("/next")
    assert "You've finished" in closing.plain_text
    assert "No more daily lessons" in closing.plain_text
    assert {"Review quick checks", "Browse the cards", "Go through the lessons again"} <= set(
        labels(closing)
    )
    [review] = await learner.press("Review quick checks")
    assert "Quick review" in review.plain_text and first.title in review.plain_text
    assert await learner.advance(days=2) == []


async def test_self_paced_to_the_end_with_nothing_to_review(learner: BotUnderTest) -> None:
    # Thirty commands in a second or two is a flood by the guard's real-time measure.
    learner.runtime.services.flood = FloodLimit("1000/second")
    await enrolled(learner)
    for number in range(2, 33):
        [lesson] = await learner.send("/next")
        assert f"Lesson {number} of 32" in lesson.plain_text
    [closing] = await learner.send("/next")
    assert "You've finished" in closing.plain_text
    [review] = await learner.press("Review quick checks")
    assert "No quick checks are waiting" in review.plain_text
    [again] = await learner.send("/today")
    assert "Lesson 32 of 32" in again.plain_text
    [start] = await learner.send("/start")
    assert "You've finished" in start.plain_text
    assert await learner.advance(days=3) == []


async def test_not_enrolled_commands_point_to_start(learner: BotUnderTest) -> None:
    for command in ("/today", "/next", "/settings", "/pause 3d", "/resume", "/stop", "/restart"):
        [answer] = await learner.send(command)
        assert "haven't started the course" in answer.plain_text, command
    [welcome] = await learner.press("Set up the course")
    assert "I agree, let's set up" in labels(welcome)


# --- pause and resume ----------------------------------------------------------------------------


async def test_pause_three_days_then_lessons_come_back_by_themselves(
    learner: BotUnderTest,
) -> None:
    await enrolled(learner)
    [paused] = await learner.send("/pause 3d")
    assert "No lessons until Thursday 3 December" in paused.plain_text
    assert "next lesson: Thursday 3 December at 08:00" in paused.plain_text
    assert await status(learner) == "paused"
    assert await learner.advance(days=1, hours=1) == []  # Tuesday 08:00
    assert await learner.advance(days=1) == []  # Wednesday
    [thursday] = await learner.advance(days=1)
    assert "Lesson 2 of 32" in thursday.plain_text


async def test_pause_until_a_date_and_bad_input(learner: BotUnderTest) -> None:
    await enrolled(learner)
    [bad] = await learner.send("/pause a while")
    assert "couldn't use" in bad.plain_text
    assert "/pause 3d" in bad.plain_text and "/pause until 4 January" in bad.plain_text
    [past] = await learner.send("/pause until 2026-01-01")
    assert "already come" in past.plain_text
    [paused] = await learner.send("/pause until 2027-01-04")
    assert "Monday 4 January 2027" in paused.plain_text
    [menu] = await learner.send("/pause")
    assert labels(menu)[:3] == ["3 days", "1 week", "2 weeks"]
    [button] = await learner.press("1 week")
    assert "Monday 7 December" in button.plain_text


async def test_resume_is_a_welcome_back_never_a_backlog(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/pause 2w")
    await learner.advance(days=5)  # Saturday 07:00
    [back] = await learner.send("/resume")
    assert "Welcome back" in back.plain_text
    assert "1 of 32 lessons has come to you so far" in back.plain_text
    assert "nothing to catch up on" in back.plain_text
    assert "Next lesson: Monday 7 December at 08:00" in back.plain_text
    [monday] = await learner.advance(days=2, hours=1)
    assert "Lesson 2 of 32" in monday.plain_text
    [already] = await learner.send("/resume")
    assert "already on" in already.plain_text


async def test_start_after_telegram_refused_delivery_brings_lessons_back(
    learner: BotUnderTest,
) -> None:
    await enrolled(learner)
    async with learner.runtime.sessions.begin() as session:
        await session.execute(update(Subscription).values(state="inactive", next_due_at=None))
    assert await learner.advance(days=3) == []
    [back] = await learner.send("/start")
    assert "Welcome back" in back.plain_text and "nothing to catch up on" in back.plain_text
    assert "Next lesson: today at 08:00" in back.plain_text  # Thursday's: no backlog
    [lesson] = await learner.advance(hours=1)
    assert "Lesson 2 of 32" in lesson.plain_text


# --- stop and restart ----------------------------------------------------------------------------


async def test_stop_and_keep_then_resume(learner: BotUnderTest) -> None:
    await enrolled(learner)
    [ask] = await learner.send("/stop")
    assert labels(ask) == [
        "Stop, keep my data",
        "Stop and delete my data",
        "Cancel, keep my lessons",
    ]
    [stopped] = await learner.press("Stop, keep my data")
    assert "stopped" in stopped.plain_text and "kept" in stopped.plain_text
    assert await status(learner) == "stopped"
    assert await learner.advance(days=2) == []
    [back] = await learner.press("Resume lessons")
    assert "Welcome back" in back.plain_text
    assert await status(learner) == "active"


async def test_stop_and_delete_erases_everything(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/stop")
    [sure] = await learner.press("Stop and delete my data")
    assert "can't be undone" in sure.plain_text
    [gone] = await learner.press("Yes, delete everything")
    assert "stopped" in gone.plain_text and "Erased" in gone.plain_text
    assert await learner.runtime.services.learners.find(1001) is None
    assert await learner.advance(days=2) == []
    [welcome] = await learner.send("/start")
    assert "I agree, let's set up" in labels(welcome)


async def test_restart_from_lesson_one_with_history_kept(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/next")
    [ask] = await learner.send("/restart")
    assert "history so far is kept" in ask.plain_text
    [restarted] = await learner.press("Yes, start again")
    assert "Starting again from lesson 1" in restarted.plain_text
    [tuesday] = await learner.advance(days=1, hours=1)
    assert LESSON_1 in tuesday.plain_text


# --- old and forged buttons ----------------------------------------------------------------------


async def test_an_old_settings_screen_still_works(learner: BotUnderTest) -> None:
    await enrolled(learner)
    [old] = await learner.send("/settings")
    await learner.advance(days=7)
    await learner.send("/settings")
    [changed] = await learner.press("Change time", message=old)
    assert "What time" in changed.plain_text
    [set_] = await learner.press("09:00")
    assert "Lesson time set to 09:00" in set_.plain_text


async def test_old_buttons_after_stopping_explain(learner: BotUnderTest) -> None:
    await enrolled(learner)
    [menu] = await learner.send("/start")
    await learner.send("/stop")
    await learner.press("Stop, keep my data")
    [paused] = await learner.press("Pause", message=menu)
    assert "stopped" in paused.plain_text


async def test_forged_and_malformed_buttons_are_refused_quietly(learner: BotUnderTest) -> None:
    await enrolled(learner)
    [screen] = await learner.send("/settings")
    before = len(learner.messages())
    answered = len(learner.server.callback_answers)
    for data in (
        f"{SETTINGS}:time:2599",
        f"{SETTINGS}:zone:Not/AZone",
        f"{SETTINGS}:days:0",
        f"{SETTINGS}:days:999",
        f"{SETTINGS}:pick:abc",
        f"{SETTINGS}:rem:maybe",
        f"{SETTINGS}:nonsense",
        f"{SETTINGS}",
        f"{COURSE}:pause:0",
        f"{COURSE}:pause:9999",
        f"{COURSE}:stop:delete:no",
        f"{COURSE}:restart:maybe",
        f"{COURSE}:fly:me:to:the:moon",
        f"{ONBOARD}:perhaps",
        f"{ONBOARD}",
    ):
        replies = await learner.sim.press_data(1001, screen.message_id, data)
        assert replies == [], data
    assert len(learner.messages()) == before
    answers = learner.server.callback_answers[answered:]
    assert len(answers) == 15 and all(a.text is None for a in answers)
    assert await status(learner) == "active"


async def test_every_button_has_a_text_label(learner: BotUnderTest) -> None:
    await enrolled(learner)
    await learner.send("/settings")
    for label in ("Change time", "Back", "Change timezone", "Back", "Change days"):
        await learner.press(label)
    await learner.press("Choose days")
    await learner.send("/pause")
    await learner.send("/stop")
    await learner.send("/restart")
    for message in learner.messages():
        for label in labels(message):
            assert any(character.isalnum() for character in label), label
