"""/mydata and /forget: everything about a person exported, everything erased, nobody else touched.

The schema is introspected, so a table added later that refers to a learner fails
`test_every_table_about_a_learner_has_a_test_row` until a row for it is added to `populate`
below, which then proves /mydata exports it and /forget erases it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import FakeClock
from bot.core.schedule import WEEKDAYS
from bot.db.engine import Base
from bot.db.models import (
    CheckAnswer,
    Cohort,
    CohortMember,
    ConfidenceAnswer,
    Delivery,
    Lead,
    Learner,
    LessonProgress,
    Review,
    Subscription,
)
from bot.logs import LibraryFloorFilter
from bot.sandbox.fake_telegram.faults import Delay
from bot.services.privacy import PERSON_ID_COLUMNS, learner_tables, owned_rows
from tests.support.factories import deliver, make_learner
from tests.support.harness import USER, BotUnderTest, bot_under_test, text_of

OTHER = 2002
LESSON = "welcome"
CANARY = "canary-reflection: a hard conversation on shift"
NAME = "Canary Sam"
# The tables `populate` writes a row to for a learner (add a table here when you add it there).
POPULATED = {
    "learners",
    "subscriptions",
    "deliveries",
    "lesson_progress",
    "check_answers",
    "reviews",
    "reflections",
    "cohort_members",
    "confidence_answers",
}
# Columns that would name a person by Telegram id outside the path to `learners`.
_PERSON_COLUMN_NAMES = ("telegram_user_id", "telegram_id", "chat_id", "user_id")


async def make_cohort(bot: BotUnderTest, lead: int) -> int:
    now = bot.clock.now()
    async with bot.runtime.sessions.begin() as session:
        cohort = Cohort(
            name="Night team",
            name_key="night team",
            lead_telegram_id=lead,
            lead_name="Lead Canary",
            delivery_time=time(8),
            timezone="Europe/London",
            days=WEEKDAYS,
            starts_on=date(2026, 12, 1),
            created_at=now,
        )
        session.add(cohort)
        await session.flush()
        return cohort.id


async def populate(bot: BotUnderTest, user: int, cohort_id: int) -> int:
    """A learner with a row in every table about a learner; returns the learner id."""
    learner_id = await make_learner(bot, user)
    now = bot.clock.now()
    async with bot.runtime.sessions.begin() as session:
        sub = await session.scalar(
            select(Subscription).where(Subscription.learner_id == learner_id)
        )
        assert sub is not None
        session.add_all(
            [
                Delivery(
                    subscription_id=sub.id,
                    chat_id=user,
                    kind="lesson",
                    local_date=date(2026, 11, 30),
                    lesson_id=LESSON,
                    due_at=now,
                    status="sent",
                    attempts=1,
                    created_at=now,
                    sent_at=now,
                ),
                LessonProgress(
                    learner_id=learner_id, lesson_id=LESSON, course_run=1, delivered_at=now
                ),
                CheckAnswer(
                    learner_id=learner_id,
                    lesson_id=LESSON,
                    answer_index=1,
                    correct=False,
                    is_review=False,
                    answered_at=now,
                ),
                Review(
                    learner_id=learner_id,
                    lesson_id=LESSON,
                    interval_days=2,
                    due_on=date(2026, 12, 2),
                    right_streak=0,
                ),
                CohortMember(
                    cohort_id=cohort_id,
                    learner_id=learner_id,
                    display_name=f"{NAME} {user}",
                    name_key=f"canary sam {user}",
                    joined_at=now,
                ),
                ConfidenceAnswer(
                    learner_id=learner_id,
                    phase="start",
                    statement_id="responding",
                    rating=2,
                    answered_at=now,
                ),
            ]
        )
    learning = bot.runtime.services.learning
    await learning.start_reflection(user, LESSON, "reflect:x")
    saved = await learning.save_reflection(user, LESSON, f"{CANARY} ({user})")
    assert saved is not None
    return learner_id


def checkpointed_bytes(path: Path) -> bytes:
    """The SQLite database file after a checkpoint, plus whatever is left in its WAL."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def rows_about(session: AsyncSession, learner_id: int) -> dict[str, int]:
    counts = {}
    for item in learner_tables():
        query = select(func.count()).select_from(item.table).where(owned_rows(item, learner_id))
        counts[item.name] = int(await session.scalar(query) or 0)
    return counts


async def my_data(bot: BotUnderTest, user: int = USER) -> dict[str, Any]:
    [message] = await bot.send("/mydata", user=user)
    assert message.document is not None and message.document.data is not None
    assert message.document.filename is not None
    assert message.document.filename.endswith(".json")
    return dict(json.loads(message.document.data.decode("utf-8")))


# --- The schema guard -----------------------------------------------------------------------------


def test_every_table_about_a_learner_has_a_test_row() -> None:
    linked = {item.name for item in learner_tables(Base.metadata)}
    missing = linked - POPULATED
    assert not missing, (
        f"{sorted(missing)} refer to learners: add a row to tests/test_privacy.py::populate so"
        " /mydata and /forget are proven for them"
    )


def test_no_table_names_a_person_outside_the_erasure_paths() -> None:
    linked = {item.name for item in learner_tables(Base.metadata)}
    unaccounted = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        if table.name not in linked
        for column in table.columns
        if column.name.endswith(_PERSON_COLUMN_NAMES)
        and (table.name, column.name) not in PERSON_ID_COLUMNS
    ]
    assert not unaccounted, (
        f"{unaccounted} identify a person but are neither on a foreign-key path to learners nor"
        " in bot.services.privacy.PERSON_ID_COLUMNS: /mydata and /forget would miss them"
    )


# --- /mydata --------------------------------------------------------------------------------------


async def test_mydata_sends_everything_about_the_learner_and_nothing_about_others(
    bot: BotUnderTest,
) -> None:
    cohort = await make_cohort(bot, lead=9999)
    await populate(bot, USER, cohort)
    await populate(bot, OTHER, cohort)
    document = await my_data(bot)
    for section in (
        "settings",
        "messages_sent_to_you",
        "lesson_progress",
        "check_answers",
        "reviews",
        "reflections",
        "cohort_members",
        "confidence_self_assessment",
    ):
        assert len(document[section]) == 1, section
    assert document["profile"]["telegram_user_id"] == USER
    assert document["profile"]["has_encryption_key"] is True
    assert "wrapped_data_key" not in document["profile"]
    [reflection] = document["reflections"]
    assert reflection["text"] == f"{CANARY} ({USER})" and "ciphertext" not in reflection
    lesson = bot.runtime.services.content.lesson(LESSON)
    assert lesson is not None and reflection["lesson_title"] == lesson.title
    assert document["cohort_members"][0]["display_name"] == f"{NAME} {USER}"
    assert str(OTHER) not in json.dumps(document)
    assert "Everything I store about you" in text_of(bot.last())


async def test_mydata_with_nothing_stored_says_so(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/mydata")
    assert reply.document is None and "don't store anything" in text_of(reply)


# --- /forget --------------------------------------------------------------------------------------


async def test_forget_asks_then_erases_every_row_and_says_what(bot: BotUnderTest) -> None:
    cohort = await make_cohort(bot, lead=9999)
    mine = await populate(bot, USER, cohort)
    theirs = await populate(bot, OTHER, cohort)
    async with bot.runtime.sessions.begin() as session:
        before_theirs = await rows_about(session, theirs)
    [question] = await bot.send("/forget")
    assert "cannot be undone" in text_of(question) and "/mydata" in text_of(question)
    async with bot.runtime.sessions.begin() as session:
        assert all((await rows_about(session, mine)).values())  # asking erased nothing
    [done] = await bot.press("Yes, erase everything", message=question)
    assert done.message_id == question.message_id and not done.buttons
    text = text_of(done)
    for said in (
        "your profile and settings",
        "1 reflection",
        "1 check answer",
        "1 lesson record",
        "1 review question",
        "1 cohort membership",
        "key that encrypted your reflections",
    ):
        assert said in text, said
    async with bot.runtime.sessions.begin() as session:
        assert not any((await rows_about(session, mine)).values())
        assert await rows_about(session, theirs) == before_theirs
        assert await session.scalar(select(func.count()).select_from(Cohort)) == 1
    # Afterwards: nothing held, support still there, old buttons kind.
    [reply] = await bot.send("/mydata")
    assert "don't store anything" in text_of(reply)
    [reply] = await bot.send("/progress")
    assert "/start" in text_of(reply)
    [reply] = await bot.send("/support")
    assert "116 123" in text_of(reply)
    [again] = await bot.send("/forget")
    assert "nothing to erase" in text_of(again)


async def test_keep_my_data_erases_nothing(bot: BotUnderTest) -> None:
    learner_id = await populate(bot, USER, await make_cohort(bot, lead=9999))
    [question] = await bot.send("/forget")
    [kept] = await bot.press("No, keep my data", message=question)
    assert "Nothing was erased" in text_of(kept)
    async with bot.runtime.sessions.begin() as session:
        assert all((await rows_about(session, learner_id)).values())


async def test_an_old_confirmation_is_not_acted_on(bot: BotUnderTest) -> None:
    learner_id = await make_learner(bot)
    [question] = await bot.send("/forget")
    await bot.advance(hours=2)
    [reply] = await bot.press("Yes, erase everything", message=question)
    assert "Send /forget again" in text_of(reply)
    async with bot.runtime.sessions.begin() as session:
        assert await session.get(Learner, learner_id) is not None


async def test_a_lead_is_told_their_cohorts_stay_for_the_team(bot: BotUnderTest) -> None:
    cohort = await make_cohort(bot, lead=USER)
    await populate(bot, USER, cohort)
    async with bot.runtime.sessions.begin() as session:
        session.add(Lead(telegram_user_id=USER, added_at=bot.clock.now()))
    document = await my_data(bot)
    assert document["team_lead"][0]["telegram_user_id"] == USER
    assert document["cohorts_you_lead"][0]["name"] == "Night team"
    [question] = await bot.send("/forget")
    [done] = await bot.press("Yes, erase everything", message=question)
    assert "team-lead role" in text_of(done)
    assert "The cohort you lead stays for your team" in text_of(done)
    async with bot.runtime.sessions.begin() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0
        assert await session.scalar(select(func.count()).select_from(Cohort)) == 1


async def test_after_forget_a_fresh_start_gets_a_fresh_key(bot: BotUnderTest) -> None:
    await populate(bot, USER, await make_cohort(bot, lead=9999))
    async with bot.runtime.sessions.begin() as session:
        old_key = await session.scalar(select(Learner.wrapped_data_key))
    [question] = await bot.send("/forget")
    await bot.press("Yes, erase everything", message=question)
    await make_learner(bot)  # as /start would after consent
    learning = bot.runtime.services.learning
    await learning.start_reflection(USER, LESSON, "reflect:x")
    assert await learning.save_reflection(USER, LESSON, "A new beginning") is not None
    page = await learning.journal(USER)
    assert [entry.text for entry in page.entries] == ["A new beginning"]
    async with bot.runtime.sessions.begin() as session:
        assert await session.scalar(select(Learner.wrapped_data_key)) != old_key


async def test_forget_after_the_course_was_delivered_by_the_engine(bot: BotUnderTest) -> None:
    await make_learner(bot, next_due_at=bot.clock.now() + timedelta(minutes=5))
    await bot.advance(minutes=5)
    await bot.advance(days=1)
    [question] = await bot.send("/forget")
    [done] = await bot.press("Yes, erase everything", message=question)
    assert "records of messages sent to you" in text_of(done) or "message sent" in text_of(done)
    async with bot.runtime.sessions.begin() as session:
        for model in (Learner, Subscription, Delivery, LessonProgress):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_forget_while_a_lesson_is_on_the_wire_leaves_everyone_else_delivered(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    due = bot.clock.now() + timedelta(minutes=5)
    await make_learner(bot, next_due_at=due)
    await make_learner(bot, OTHER, next_due_at=due)
    for chat in (USER, OTHER):  # Telegram takes the lessons, and answers a second later
        bot.server.inject("sendMessage", chat_id=chat, fault=Delay(1.0))
    caplog.set_level(logging.WARNING)
    delivering = asyncio.create_task(bot.advance(minutes=5))
    for _ in range(500):
        if {USER, OTHER} <= {call.chat_id for call in bot.server.calls("sendMessage")}:
            break
        await asyncio.sleep(0.01)
    [question] = await bot.send("/forget")  # while both answers are still on their way
    [done] = await bot.press("Yes, erase everything", message=question)
    assert "erased" in text_of(done).lower()
    await asyncio.wait_for(delivering, 30)
    async with bot.runtime.sessions.begin() as session:
        outbox = (
            await session.execute(select(Delivery.chat_id, Delivery.kind, Delivery.status))
        ).all()
        progress = (await session.execute(select(LessonProgress.learner_id))).scalars().all()
        learners = (await session.execute(select(Learner.id, Learner.telegram_user_id))).all()
    assert sorted(outbox) == [(OTHER, "lesson", "sent"), (OTHER, "reminder", "pending")]
    assert [telegram_id for _, telegram_id in learners] == [OTHER]
    assert progress == [learners[0][0]]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_reflections_and_exports_never_reach_the_logs(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(LibraryFloorFilter())  # as configure_logging installs it
    await make_learner(bot)
    lesson = await deliver(bot, LESSON)
    await bot.press("Reflect", message=lesson)
    await bot.send(CANARY)
    await bot.send("/journal")
    await bot.send("/mydata")
    [question] = await bot.send("/forget")
    await bot.press("Yes, erase everything", message=question)
    shown = [caplog.handler.format(r) for r in caplog.records if caplog.handler.filter(r)]
    assert shown and not any("canary" in line for line in shown)
    assert any("erased their data" in line for line in shown)  # counts only


async def test_privacy_says_what_is_kept_who_sees_it_and_for_how_long(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(
        database_url, clock, reflection_retention_days=90, inactive_learner_retention_days=365
    ) as bot:
        [reply] = await bot.send("/privacy")
    text = text_of(reply)
    for heading in ("What is stored", "Who sees it", "How long", "Your choice"):
        assert heading in text
    # The retention figures are the settings in force, not the defaults.
    assert "deleted 90 days after you write them" in text
    assert "don't use the bot for 365 days (about 1 year), everything about you is erased" in text
    assert "/mydata sends you everything" in text and "/forget erases it all" in text
    assert "team lead sees totals" in text and "fewer than 5" in text


async def test_privacy_when_retention_is_switched_off(database_url: str, clock: FakeClock) -> None:
    async with bot_under_test(
        database_url, clock, reflection_retention_days=0, inactive_learner_retention_days=0
    ) as bot:
        [reply] = await bot.send("/privacy")
    text = text_of(reply)
    assert "Reflections are kept until you erase them." in text
    assert "Nothing is erased for inactivity" in text
    assert "days" not in text
