"""Dialogues for the rough edges people hit: messages that say what is true, agree with each
other and with the clock, and stale buttons, photos and empty searches that still get a useful
answer.

The clock starts on Monday 30 November 2026 at 07:00 in London (UTC in winter).
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.db.models import Delivery, Learner, Subscription
from bot.sandbox.fake_telegram.faults import Disconnect
from bot.sandbox.terminal import Terminal
from bot.services.outbox.service import OFFER_REFRESH
from bot.views.callbacks import REFLECT_CANCEL, encode
from tests.support.factories import (
    ADMIN,
    LEAD,
    deliver,
    deliveries,
    make_lead,
    new_cohort,
    payload_in,
)
from tests.support.harness import USER, BotUnderTest, bot_under_test, labels, text_of


async def enrolled(bot: BotUnderTest, user: int = USER) -> None:
    await bot.send("/start", user=user)
    await bot.press("I agree, let's set up", user=user)
    await bot.press("Start: first lesson now", user=user)


async def sent(bot: BotUnderTest, enqueue_update_id: int, user: int = USER) -> list[str]:
    before = bot.sim.snapshot(user)
    await bot.sim.application.wait_finished(enqueue_update_id, 5)
    return [text_of(m) for m in bot.sim.changes_since(before, user)]


# --- saying what is true --------------------------------------------------------------------------


async def test_welcome_back_counts_lessons_that_came_and_those_done(bot: BotUnderTest) -> None:
    await enrolled(bot)  # lesson 1 arrives; nothing is marked done
    await deliver(bot, "feeling-unsure")
    await bot.send("/stop")
    await bot.press("Stop, keep my data")
    [back] = await bot.send("/resume")
    text = text_of(back)
    assert "You've had" not in text
    assert "2 of 32 lessons have come to you so far" in text
    assert "none marked done yet" in text
    await bot.press("Next lesson now")
    await bot.press("Done")
    await bot.send("/stop")
    await bot.press("Stop, keep my data")
    [back] = await bot.send("/resume")
    assert "1 marked done" in text_of(back)


async def test_stopped_lessons_come_back_with_resume_in_every_message(bot: BotUnderTest) -> None:
    await enrolled(bot)
    await bot.send("/stop")
    [stopped] = await bot.press("Stop, keep my data")
    assert "/resume" in text_of(stopped)
    [progress] = await bot.send("/progress")
    assert "/resume" in text_of(progress)
    assert "/start sets them up again" not in text_of(progress)


async def test_cancel_on_a_prompt_already_answered_says_the_reflection_is_kept(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    lesson = await deliver(bot, "feeling-unsure")
    [prompt] = await bot.press("Reflect", message=lesson)
    [saved] = await bot.send("A hard shift, but I listened.")
    assert "saved" in text_of(saved).lower()
    [late] = await bot.press("Cancel", message=prompt)
    text = text_of(late)
    assert "nothing was saved" not in text
    assert "already saved" in text and "/journal" in text
    [journal] = await bot.send("/journal")
    assert "A hard shift, but I listened." in text_of(journal)


async def test_cancel_on_a_prompt_already_cancelled_does_not_repeat_itself(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    lesson = await deliver(bot, "feeling-unsure")
    [prompt] = await bot.press("Reflect", message=lesson)
    [cancelled] = await bot.press("Cancel", message=prompt)
    assert "nothing was saved" in text_of(cancelled)
    # The same Cancel pressed again (a second tap, or an older copy of the prompt).
    [again] = await bot.sim.press_data(USER, prompt.message_id, encode(REFLECT_CANCEL))
    assert "already saved" not in text_of(again)
    assert "no reflection" in text_of(again).lower()


async def test_a_photo_while_a_reflection_prompt_is_open_mentions_the_prompt(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    lesson = await deliver(bot, "feeling-unsure")
    await bot.press("Reflect", message=lesson)
    before = bot.sim.snapshot(USER)
    update_id = bot.server.send_photo_message(USER)
    await bot.sim.application.wait_finished(update_id, 5)
    [answer] = bot.sim.changes_since(before, USER)
    text = text_of(answer)
    assert "look something up" not in text
    assert "reflection" in text and "type" in text.lower()
    assert "Cancel" in labels(answer)
    # The prompt is still open: the next text is the reflection.
    [saved] = await bot.send("Typed instead.")
    assert "saved" in text_of(saved).lower()


async def test_a_photo_with_no_prompt_open_still_gets_the_usual_answer(bot: BotUnderTest) -> None:
    before = bot.sim.snapshot(USER)
    update_id = bot.server.send_photo_message(USER)
    await bot.sim.application.wait_finished(update_id, 5)
    [answer] = bot.sim.changes_since(before, USER)
    assert "I can only read text messages" in text_of(answer)


# --- invites --------------------------------------------------------------------------------------


async def test_a_used_lead_invite_points_to_the_admin_not_a_team_lead(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        payload = payload_in(await bot.send("/lead invite", user=ADMIN))
        await bot.send(f"/start {payload}", user=LEAD)
        await bot.press("Accept", user=LEAD)
        [used] = await bot.send(f"/start {payload}", user=3003)
        text = text_of(used)
        assert "doesn't work" in text
        assert "team lead" not in text
        assert "admin" in text
        assert bot.server.rejected == []


async def test_an_expired_lead_invitation_pressed_later_points_to_the_admin(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        payload = payload_in(await bot.send("/lead invite", user=ADMIN))
        await bot.send(f"/start {payload}", user=LEAD)
        bot.clock.advance(timedelta(days=7, minutes=1))
        [refused] = await bot.press("Accept", user=LEAD)
        assert "admin" in text_of(refused) and "team lead for" not in text_of(refused)


# --- inline mode ----------------------------------------------------------------------------------


async def test_an_inline_query_that_finds_nothing_offers_a_way_into_the_bot(
    bot: BotUnderTest,
) -> None:
    update_id = bot.server.inline_query(3005, "zzzqqq xylophone")
    await bot.sim.application.wait_finished(update_id, 5)
    answer = bot.server.inline_answers[-1]
    assert answer.results == []
    assert answer.button is not None
    assert "search" in str(answer.button["text"]).lower()
    payload = str(answer.button["start_parameter"])
    # The button opens the private chat with /start <payload>: the cards, not the welcome.
    [opened] = await bot.send(f"/start {payload}", user=3005)
    assert "Welcome to" not in text_of(opened)
    assert len(labels(opened)) >= 3
    # A query that finds cards carries no such button.
    update_id = bot.server.inline_query(3005, "stage 2")
    await bot.sim.application.wait_finished(update_id, 5)
    assert bot.server.inline_answers[-1].button is None


# --- typed times and dates ------------------------------------------------------------------------


async def test_typed_times_and_days_people_use_are_understood(bot: BotUnderTest) -> None:
    await enrolled(bot)
    await bot.send("/settings")
    await bot.press("Change time")
    [typed] = await bot.send("half seven")
    assert "Lesson time set to 07:30" in text_of(typed)
    await bot.press("Change time")
    [typed] = await bot.send("quarter to nine in the evening")
    assert "Lesson time set to 20:45" in text_of(typed)
    # Monday 30 November: "until 4 January" is next year's, "Monday" is next week's.
    [paused] = await bot.send("/pause until 4 January")
    assert "Monday 4 January 2027" in text_of(paused)
    await bot.send("/resume")
    [paused] = await bot.send("/pause until Monday")
    assert "Monday 7 December" in text_of(paused)


# --- the join screen and the joined screen agree with each other and the clock -------------------


async def test_joining_at_five_pm_names_the_same_first_lesson_on_both_screens(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        bot.clock.advance(timedelta(hours=10))  # Monday 17:00 in London: 08:00 has passed
        await make_lead(bot, LEAD)
        payload = await new_cohort(bot, "Night team")
        [consent] = await bot.send(f"/start {payload}", user=3006)
        assert "starting today" not in text_of(consent)
        assert "first lesson: tomorrow at 08:00" in text_of(consent)
        await bot.press("Join", user=3006)
        joined = await bot.send("Sam", user=3006)  # then the confidence invitation
        assert "Your next lesson: tomorrow at 08:00" in text_of(joined[0])


# --- a lesson that may not have arrived -----------------------------------------------------------


async def record_uncertain_lesson(bot: BotUnderTest, lesson_id: str, user: int = USER) -> None:
    """Another process's outbox sent a lesson and could not tell whether it arrived (a read
    timeout); this process reads such sends again after `OFFER_REFRESH`, which then passes."""
    now = bot.clock.now()
    async with bot.runtime.sessions.begin() as session:
        learner = await session.scalar(select(Learner).where(Learner.telegram_user_id == user))
        assert learner is not None
        sub = await session.scalar(
            select(Subscription).where(Subscription.learner_id == learner.id)
        )
        assert sub is not None
        session.add(
            Delivery(
                subscription_id=sub.id,
                chat_id=user,
                kind="lesson",
                local_date=date(2026, 11, 29),
                lesson_id=lesson_id,
                due_at=now - timedelta(days=1),
                status="uncertain",
                attempts=1,
                created_at=now - timedelta(days=1),
            )
        )
    bot.clock.advance(OFFER_REFRESH)


async def test_a_lesson_that_may_not_have_arrived_is_offered_once_at_the_next_reply(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    await record_uncertain_lesson(bot, "feeling-unsure")
    replies = await bot.send("/progress")
    assert len(replies) == 2
    offer = replies[-1]
    assert "may not have reached you" in text_of(offer)
    assert "Feeling unsure is normal" in text_of(offer)
    assert labels(offer) == ["Show that lesson"]
    [lesson] = await bot.press("Show that lesson", message=offer)
    assert "Feeling unsure is normal" in text_of(lesson)
    # Once only: the next reply carries no offer.
    assert len(await bot.send("/progress")) == 1
    assert bot.server.rejected == []


async def test_a_lesson_cut_off_in_this_process_is_offered_at_once_and_with_the_next_lesson(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    bot.server.inject("sendMessage", chat_id=USER, fault=Disconnect())
    assert await bot.advance(days=1, hours=1) == []  # Tuesday 08:00: the connection dropped
    [(cut_off, status)] = [
        (row["lesson_id"], row["status"])
        for row in await deliveries(bot.runtime.engine)
        if row["kind"] == "lesson"
    ]
    assert status == "uncertain"
    title = bot.runtime.services.content.lesson(cut_off).title  # type: ignore[union-attr]
    [lesson] = await bot.advance(days=1)  # Wednesday's lesson carries the offer
    assert "may not have reached you" in text_of(lesson) and title in text_of(lesson)
    assert labels(lesson)[-1] == "Show that lesson"
    assert labels(lesson)[:-1] == ["Reflect", "Quick check", "Done", "Skip", "I need a moment"]
    [shown] = await bot.press("Show that lesson", message=lesson)
    assert title in text_of(shown)
    # Offered once: the next reply carries no offer.
    assert len(await bot.send("/progress")) == 1
    assert bot.server.rejected == []


async def test_the_sandbox_cuts_a_message_off_to_show_how_the_lesson_is_offered(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    out = io.StringIO()
    terminal = Terminal(bot.sim, bot.clock, USER, out, bot.runtime.services.enrolment)
    await terminal.handle(":drop")
    await terminal.handle(":advance 25h")  # Tuesday 08:00: that lesson is cut off
    assert "may not have reached you" not in out.getvalue()
    await terminal.handle(":advance 1d")  # Wednesday's lesson carries the offer
    shown = out.getvalue()
    assert "may not have reached you" in shown and "Show that lesson" in shown


async def test_an_uncertain_lesson_is_offered_at_the_next_reply_when_no_lesson_came_first(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    bot.server.inject("sendMessage", chat_id=USER, fault=Disconnect())
    await bot.advance(days=1, hours=1)
    replies = await bot.send("/progress")
    assert "may not have reached you" in text_of(replies[-1])
    assert len(await bot.send("/progress")) == 1


async def test_no_offer_for_a_lesson_the_learner_has_already_opened(bot: BotUnderTest) -> None:
    await enrolled(bot)
    lesson = await deliver(bot, "feeling-unsure")
    await bot.press("Done", message=lesson)
    await record_uncertain_lesson(bot, "feeling-unsure")
    assert len(await bot.send("/progress")) == 1


# --- /mydata people can read ---------------------------------------------------------------------


async def test_mydata_values_are_readable_and_the_file_explains_itself(bot: BotUnderTest) -> None:
    await enrolled(bot)
    lesson = await deliver(bot, "feeling-unsure")
    await bot.press("Done", message=lesson)
    [message] = await bot.send("/mydata")
    assert message.document is not None and message.document.data is not None
    document = json.loads(message.document.data.decode("utf-8"))
    readme = document["read_me"]
    assert isinstance(readme, list) and len(readme) >= 4
    joined = " ".join(readme)
    for words in ("settings", "/forget", "local", "UTC"):
        assert words in joined
    settings = document["settings"][0]
    assert settings["days"] == "Mon, Tue, Wed, Thu, Fri"  # not the bit mask 31
    assert settings["delivery_time"] == "08:00"
    assert settings["next_due_at_local"] == "Tuesday 1 December 2026 at 08:00 (Europe/London)"
    assert settings["next_due_at"].startswith("2026-12-01T08:00")  # the exact instant stays
    done = next(row for row in document["lesson_progress"] if row["done_at"])
    assert done["done_at_local"].startswith("Monday 30 November 2026 at 07:00")
