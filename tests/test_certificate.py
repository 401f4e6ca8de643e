"""/certificate: a one-page PDF record of learning and a CPD summary, after the last lesson.

Dialogues through the real Application; the PDF the fake Telegram server received is read back
with pypdf, so what is checked is the text a person (or a portfolio) would see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from bot.core.clock import FakeClock
from bot.core.textclean import utf16_len
from bot.db.models import Subscription
from bot.results.certificate import CompletedLesson, LearningRecord
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.views.certificate import certificate_pdf, cpd_summary_screen
from tests.support import pictures
from tests.support.factories import (
    ADMIN,
    join,
    lessons_done,
    make_lead,
    make_learner,
    new_cohort,
    subscription_of,
)
from tests.support.harness import USER, BotUnderTest, bot_under_test, labels, text_of

SECRET_REFLECTION = "canary: the night Jo told me about home"


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        yield b
        assert b.server.rejected == [], "the bot sent something Telegram would reject"


def pdf_text(message: FakeMessage) -> tuple[str, int]:
    """The sent PDF's text (whitespace collapsed) and its page count."""
    assert message.document is not None and message.document.data is not None
    return pdf_text_of(message.document.data)


def pdf_text_of(data: bytes) -> tuple[str, int]:
    return pictures.pdf_text(data), len(pictures.pdf_pages(data).pages)


async def finish_course(bot: BotUnderTest, user: int = USER, *, upto: int | None = None) -> None:
    """A learner who has done the course's lessons (all, or the first `upto`) over 32 days."""
    content = bot.runtime.services.content
    await make_learner(bot, user)
    ids = [lesson.id for lesson in content.lessons][:upto]
    start = bot.clock.now() - timedelta(days=len(ids))
    for day, lesson_id in enumerate(ids):
        await lessons_done(bot, user, [lesson_id], start + timedelta(days=day))
    await place_at(bot, user, ids[-1])


async def place_at(bot: BotUnderTest, user: int, lesson_id: str) -> None:
    """The learner's place in the course: `lesson_id` was their latest lesson."""
    sub = await subscription_of(bot, user)
    assert sub is not None
    async with bot.runtime.sessions.begin() as session:
        await session.execute(
            update(Subscription).where(Subscription.id == sub.id).values(last_lesson_id=lesson_id)
        )


async def test_before_the_last_lesson_it_says_kindly_how_many_are_left(
    bot: BotUnderTest,
) -> None:
    [stranger] = await bot.send("/certificate")
    assert "/start" in stranger.plain_text
    await finish_course(bot, upto=29)
    [reply] = await bot.send("/certificate")
    assert "3 lessons of 32 to go" in reply.plain_text
    assert reply.document is None and not reply.buttons


async def test_certificate_with_every_part_chosen(bot: BotUnderTest) -> None:
    content = bot.runtime.services.content
    learning = bot.runtime.services.learning
    bot.server.add_user(USER, first_name="Zoë")
    await finish_course(bot)
    reflected = [content.lessons[4], content.lessons[20]]
    for lesson in reflected:
        await learning.save_reflection(USER, lesson.id, SECRET_REFLECTION)
    right = content.lessons[0]
    await learning.answer_check(USER, right.id, right.check.correct)

    [options] = await bot.send("/certificate")
    assert "2 lessons you reflected on" in options.plain_text
    assert "mastered: 1 knowledge check so far" in options.plain_text
    assert "Zoë is your Telegram first name" in options.plain_text
    [toggled] = await bot.press("⬜ Lessons I reflected on")
    assert "✅ Lessons I reflected on" in labels(toggled)
    await bot.press("⬜ What I have mastered")
    document, summary = await bot.press("Make it for Zoë")

    text, pages = pdf_text(document)
    assert pages == 1
    assert document.document is not None
    assert document.document.filename == "certificate-2026-11-30.pdf"
    assert "Zoë" in text and "your Telegram first name" in text_of(document)
    assert content.course.title in text
    assert "32 of 32 lessons completed" in text
    # Learning time, and how it is counted, from the course's own figure.
    assert "Learning time: 1 hour 4 minutes (64 minutes), counted as 2 minutes" in text
    for theme in content.course.themes:
        assert theme.title in text
    for lesson in content.lessons:
        assert lesson.title in text
    assert "Lessons reflected on" in text
    for lesson in reflected:
        assert lesson.title in text
    assert "reflections stay private" in text and "canary" not in text
    assert "Knowledge checks mastered" in text and "1 of 32" in text

    # The CPD summary: the same facts, as text to paste.
    plain = summary.plain_text
    assert plain.startswith("Your CPD summary")
    assert "Name: Zoë" in plain and "32 of 32 lessons completed" in plain
    assert "counted as 2 minutes" in plain and "1 hour 4 minutes" in plain
    assert f"Lessons I reflected on: {reflected[0].title}; {reflected[1].title}" in plain
    assert "canary" not in plain


async def test_certificate_without_the_optional_parts_and_a_typed_unicode_name(
    bot: BotUnderTest,
) -> None:
    content = bot.runtime.services.content
    await finish_course(bot)
    await bot.runtime.services.learning.save_reflection(
        USER, content.lessons[3].id, SECRET_REFLECTION
    )
    await bot.send("/certificate")
    [prompt] = await bot.press("Type a different name")
    assert "not stored" in prompt.plain_text
    name = "Łucja Øberg-Ольга Ñúñez"
    document, summary = await bot.send(name)
    text, pages = pdf_text(document)
    assert pages == 1
    assert name in text and "the name you typed" in text_of(document)
    assert "reflected on" not in text and "mastered" not in text.lower()
    assert "reflected on" not in summary.plain_text
    # The name was used, not kept: the next text is a search again.
    [search] = await bot.send("stage 2")
    assert search.document is None and "Stage 2" in search.plain_text


async def test_the_name_given_to_the_team_is_offered_too(bot: BotUnderTest) -> None:
    lead = 2001
    await make_lead(bot, lead)
    payload = await new_cohort(bot, "Night team", lead=lead)
    await join(bot, payload, USER, "Sam Carter RN")
    content = bot.runtime.services.content
    ids = [lesson.id for lesson in content.lessons]
    await lessons_done(bot, USER, ids[:-1], bot.clock.now() - timedelta(days=2))
    # The last lesson skipped still finishes the course.
    await place_at(bot, USER, ids[-1])
    await bot.runtime.services.learning.skip(USER, ids[-1])
    [options] = await bot.send("/certificate")
    assert "Make it for Sam Carter RN" in labels(options)
    document, _ = await bot.press("Make it for Sam Carter RN")
    text, _ = pdf_text(document)
    assert "Sam Carter RN" in text and "31 of 32 lessons completed" in text
    assert "the name you gave your team" in text_of(document)


async def test_a_safety_phrase_typed_as_the_name_brings_support_not_a_certificate(
    bot: BotUnderTest,
) -> None:
    await finish_course(bot)
    await bot.send("/certificate")
    await bot.press("Type a different name")
    replies = await bot.send("I want to kill myself")
    assert all(reply.document is None for reply in replies)
    assert "not a crisis service" in replies[0].plain_text.lower() or "support" in (
        replies[0].plain_text.lower()
    )


async def test_forged_certificate_buttons_do_nothing(bot: BotUnderTest) -> None:
    await finish_course(bot)
    [options] = await bot.send("/certificate")
    before = len(bot.messages())
    for data in ("cf:21:t", "cf:10:x", "ce:1", "cg", "cf:10"):
        await bot.sim.press_data(USER, options.message_id, data)
    assert len(bot.messages()) == before


def test_the_summary_of_a_much_longer_course_still_fits_one_message(bot: BotUnderTest) -> None:
    lessons = list(bot.runtime.services.content.lessons) * 4
    record = LearningRecord(
        course_title="A longer course",
        lessons_total=len(lessons),
        completed=tuple(CompletedLesson(lesson.title, date(2026, 11, 2)) for lesson in lessons),
        minutes_per_lesson=2,
        themes=(),
        issued_on=date(2026, 11, 30),
        reflected=tuple(lesson.title for lesson in lessons),
        mastered=3,
    )
    screen = cpd_summary_screen(record, "Ana")
    assert utf16_len(screen.text) <= 4096
    assert "listed with their dates on the certificate" in screen.text
    assert f"Lessons I reflected on: {len(lessons)}, named on the certificate" in screen.text
    # Twice the shipped course with every part chosen still prints on one page, smaller.
    double = replace(
        record,
        completed=record.completed[: 2 * len(lessons) // 4],
        reflected=record.reflected[: 2 * len(lessons) // 4] if record.reflected else None,
    )
    _, pages = pdf_text_of(certificate_pdf(double, "Ana"))
    assert pages == 1
