"""Dialogues: the self-assessment of confidence at the start, at the end and six weeks later
(issue 16), through the real Application.

The clock starts on Monday 30 November 2026 at 07:00 in London; lessons at 08:00 on weekdays.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import select

from bot.content.loader import check_content, load_content
from bot.core.states import DeliveryKind
from bot.db.models import ConfidenceAnswer, Delivery, LessonProgress
from tests.support.factories import deliver, make_learner, rows, show_lesson
from tests.support.harness import ROOT, USER, BotUnderTest, labels, text_of, texts

RATINGS = ["1", "2", "3", "4", "5"]
LAST = "bringing-it-together"


async def enrolled(bot: BotUnderTest, user: int = USER) -> list[str]:
    """Consent and the defaults with the first lesson now; returns what the bot showed."""
    await bot.send("/start", user=user)
    await bot.press("I agree, let's set up", user=user)
    return texts(await bot.press("Start: first lesson now", user=user))


async def answers(bot: BotUnderTest, phase: str | None = None) -> dict[str, int | None]:
    return {
        row.statement_id: row.rating
        for row in await rows(bot, ConfidenceAnswer)
        if phase is None or row.phase == phase
    }


# --- at the start ---------------------------------------------------------------------------------


async def test_the_invitation_comes_before_the_first_lesson_and_says_who_sees_what(
    bot: BotUnderTest,
) -> None:
    started, invitation, lesson = await enrolled(bot)
    assert "You're all set" in started
    assert "how confident do you feel" in invitation
    assert "optional" in invitation and "Not now" in invitation
    assert "Who sees what" in invitation and "/confidence" in invitation
    assert "only ever see totals for groups of 5 or more people, never your answers" in invitation
    assert "Lesson 1 of 32" in lesson  # the lesson is never held back by the question
    assert labels(bot.messages()[-2]) == ["Begin", "Not now"]


async def test_one_statement_at_a_time_with_prefer_not_to_say_then_thanks(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    [first] = await bot.press("Begin")
    assert "At the start · 1 of 5" in text_of(first)
    assert "I can explain how early attachment can shape" in text_of(first)
    assert "1 = not at all confident, 5 = very confident" in text_of(first)
    assert labels(first) == [*RATINGS, "Prefer not to say", "Stop here"]
    [second] = await bot.press("2")
    assert second.message_id == first.message_id  # the next statement replaces it in place
    assert "2 of 5" in text_of(second)
    await bot.press("Prefer not to say")
    await bot.press("3")
    await bot.press("4")
    [thanks] = await bot.press("4")
    assert "Thank you" in text_of(thanks)
    assert "Attachment: 2" in text_of(thanks)
    assert "Behind the behaviour: prefer not to say" in text_of(thanks)
    assert "Only you see these" in text_of(thanks)
    assert await answers(bot, "start") == {
        "attachment": 2,
        "behaviour": None,
        "resilience": 3,
        "recovery": 4,
        "responding": 4,
    }
    [mine] = await bot.send("/confidence")
    assert "Attachment: 2 → – → –" in text_of(mine)
    assert "Behind the behaviour: n/s → – → –" in text_of(mine)
    assert "Who sees what" in text_of(mine)


async def test_a_double_press_records_once_and_a_later_press_changes_the_answer(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    [question] = await bot.press("Begin")
    first = bot.server.messages(USER)[-1]
    [moved] = await bot.sim.press_data(USER, question.message_id, "cf:start:attachment:3")
    assert "2 of 5" in text_of(moved)
    # The second press of the same button: one row, and the screen stays on the statement still
    # to rate (the edit to identical content is refused by Telegram and ignored by the bot).
    assert await bot.sim.press_data(USER, question.message_id, "cf:start:attachment:3") == []
    assert [r.rating for r in await rows(bot, ConfidenceAnswer)] == [3]
    assert all("not modified" in r.description for r in bot.server.rejected)
    bot.server.rejected.clear()
    await bot.sim.press_data(USER, first.message_id, "cf:start:attachment:5")
    assert await answers(bot) == {"attachment": 5}


async def test_not_now_records_nothing_and_forged_buttons_change_nothing(
    bot: BotUnderTest,
) -> None:
    await enrolled(bot)
    invitation = bot.messages()[-2]
    [passed] = await bot.press("Not now", message=invitation)
    assert "No problem" in text_of(passed) and "Nothing was recorded" in text_of(passed)
    forgeries = ("cf:start:nonsense:3", "cf:start:attachment:9", "cf:start:attachment:²")
    for forged in (*forgeries, "cf:later:go", "cf:start", "cf:start:attachment:-1"):
        await bot.sim.press_data(USER, invitation.message_id, forged)
    assert await rows(bot, ConfidenceAnswer) == []
    [mine] = await bot.send("/confidence")
    assert "haven't rated any statements yet" in text_of(mine)
    # Asked once: starting again from /start shows where they are, not the question.
    assert all("how confident" not in t for t in texts(await bot.send("/start")))


async def test_stop_here_keeps_what_was_given(bot: BotUnderTest) -> None:
    await enrolled(bot)
    await bot.press("Begin")
    await bot.press("1")
    [stopped] = await bot.press("Stop here")
    assert "The answers you gave are kept" in text_of(stopped)
    assert await answers(bot) == {"attachment": 1}


async def test_someone_who_never_enrolled_is_told_kindly(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/confidence")
    assert "/start" in text_of(reply)


# --- at the end and six weeks later ---------------------------------------------------------------


async def test_the_end_after_the_last_lesson_then_the_follow_up_six_weeks_later(
    bot: BotUnderTest,
) -> None:
    await make_learner(bot)
    lesson = await deliver(bot, LAST)
    done, invitation = await bot.press("Done", message=lesson)
    assert "Done" in text_of(done)
    assert "reached the end of the course" in text_of(invitation)
    assert "Who sees what" in text_of(invitation)
    [queued] = await rows(bot, Delivery)
    assert queued.kind == DeliveryKind.CONFIDENCE
    assert queued.due_at == bot.clock.now() + timedelta(weeks=6)
    await bot.press("Begin", message=invitation)
    for rating in ("4", "4", "5", "3", "5"):
        await bot.press(rating)
    assert "Thank you" in text_of(bot.last())
    # Done again on the last lesson: the follow-up is not queued twice, the end not asked again.
    [again] = await bot.press("Done", message=lesson)
    assert "Already marked as done" in text_of(again)
    assert len(await rows(bot, Delivery)) == 1

    # Nothing before six weeks; then a gentle message through the outbox (at 08:00, after the
    # learner's quiet hours).
    assert await bot.advance(days=41) == []
    arrived = [*await bot.advance(days=1), *await bot.advance(hours=2)]
    [follow_up] = [m for m in arrived if "Six weeks on" in text_of(m)]
    assert "Not now" in labels(follow_up) and "Who sees what" in text_of(follow_up)
    [sent] = await rows(bot, Delivery)
    assert sent.status == "sent"
    await bot.press("Begin", message=follow_up)
    await bot.press("5")
    [stopped] = await bot.press("Stop here")
    assert "kept" in text_of(stopped)
    assert await answers(bot, "followup") == {"attachment": 5}
    [mine] = await bot.send("/confidence")
    assert "Attachment: – → 4 → 5" in text_of(mine)


async def test_skipping_the_last_lesson_also_ends_the_course_and_the_end_can_be_passed(
    bot: BotUnderTest,
) -> None:
    await make_learner(bot)
    await deliver(bot, LAST)
    skipped, invitation = await bot.press("Skip")
    assert "Skipped" in text_of(skipped)
    assert "reached the end" in text_of(invitation)
    [passed] = await bot.press("Not now", message=invitation)
    assert "Nothing was recorded" in text_of(passed)
    assert [d.kind for d in await rows(bot, Delivery)] == [DeliveryKind.CONFIDENCE]


async def test_the_last_lesson_opened_from_a_card_is_not_the_end(bot: BotUnderTest) -> None:
    await make_learner(bot, last_lesson_id="welcome")
    lesson = await show_lesson(bot, LAST)  # as a card's "Related lesson" shows it
    assert len(await bot.press("Done", message=lesson)) == 1
    assert await rows(bot, Delivery) == []


async def test_an_earlier_lesson_asks_nothing(bot: BotUnderTest) -> None:
    await make_learner(bot)
    await deliver(bot, "welcome")
    assert len(await bot.press("Done")) == 1
    assert await rows(bot, Delivery) == []


async def test_i_need_a_moment_is_kept_for_the_lesson_counts(bot: BotUnderTest) -> None:
    await make_learner(bot)
    await deliver(bot, "welcome")
    await bot.press("I need a moment")
    async with bot.runtime.sessions.begin() as session:
        [moment] = (await session.scalars(select(LessonProgress.moment_at))).all()
    assert moment == bot.clock.now()


async def test_mydata_exports_and_forget_erases_the_answers(bot: BotUnderTest) -> None:
    await enrolled(bot)
    await bot.press("Begin")
    await bot.press("4")
    [export] = await bot.send("/mydata")
    assert export.document is not None and export.document.data is not None
    document = json.loads(export.document.data.decode("utf-8"))
    [answer] = document["confidence_self_assessment"]
    assert answer["statement_id"] == "attachment" and answer["rating"] == 4
    await bot.send("/forget")
    [erased] = await bot.press("Yes, erase everything")
    assert "1 self-assessment answer" in text_of(erased)
    assert await rows(bot, ConfidenceAnswer) == []


# --- the statements are content, checked like the lessons ----------------------------------------


def test_the_shipped_statements_are_drawn_from_the_packs_aims(tmp_path: Path) -> None:
    content = load_content(ROOT / "lessons")
    assessment = content.confidence
    assert assessment is not None and 4 <= len(assessment.statements) <= 6
    pack = (ROOT / "docs" / "resource-pack.txt").read_text(encoding="utf-8")
    for aim in assessment.aims:
        assert aim in pack, aim
    assert {s.aim for s in assessment.statements} == set(assessment.aims)


def test_a_broken_statement_file_is_reported_by_the_content_check(tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons", lessons)
    path = lessons / "confidence.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["statements"][0]["aim"] = "Brain science"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    problems = [str(p) for p in check_content(lessons)]
    assert any("'Brain science', which is not one of the aims" in p for p in problems), problems
    data["statements"][1]["id"] = data["statements"][2]["id"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    problems = [str(p) for p in check_content(lessons)]
    assert any("confidence.yaml" in p and "is listed twice" in p for p in problems), problems
    data["statements"] = data["statements"][:3]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    problems = [str(p) for p in check_content(lessons)]
    assert any("confidence.yaml" in p and "statements" in p for p in problems), problems
    path.unlink()
    problems = [str(p) for p in check_content(lessons)]
    assert any("confidence.yaml" in p and "cannot be read" in p for p in problems), problems
