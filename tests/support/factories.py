"""Test factories: rows and messages a test needs before its dialogue or its check.

Three kinds, one module:

- the learner's journey: a subscribed learner and a delivered lesson, written with the models (as
  onboarding and the delivery engine would) and sent through the real bot to the fake Bot API
  server, so a dialogue test can press its buttons exactly as a person would;
- cohorts: an admin, leads, cohorts and members, made through the real bot (commands, buttons, the
  invite link's /start) except where a test needs history a dialogue cannot make quickly (lessons
  done weeks ago);
- the delivery tests and benchmarks: a small course and bulk-seeded subscribers.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.constants import ParseMode

from bot.content.schema import Answer, Check, Content, Course, Lesson, Support, SupportContact
from bot.core.schedule import EVERY_DAY, WEEKDAYS
from bot.db.models import Cohort, CohortMember, Learner, LessonProgress, Subscription
from bot.render import keyboard
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.services.outbox.sql import DELIVERIES, LEARNERS, SUBSCRIPTIONS
from bot.views.cohorts import not_available_screen
from bot.views.lesson import lesson_screen

if TYPE_CHECKING:  # the harness builds the whole bot; benchmarks seeding rows need none of it
    from tests.support.harness import BotUnderTest

USER = 1001  # the default person in dialogue tests (also tests.support.harness.USER)

# --- the learner's journey ------------------------------------------------------------------------


async def make_learner(
    bot: BotUnderTest,
    user: int = USER,
    *,
    subscribed: bool = True,
    state: str = "active",
    timezone: str = "Europe/London",
    days: int = WEEKDAYS,
    delivery_time: time = time(8, 0),
    next_due_at: datetime | None = None,
    **columns: Any,
) -> int:
    """A consented learner (and, unless told otherwise, an active subscription); their id."""
    now = bot.clock.now()
    async with bot.runtime.sessions.begin() as session:
        learner = Learner(telegram_user_id=user, chat_id=user, created_at=now, consented_at=now)
        session.add(learner)
        await session.flush()
        if subscribed:
            session.add(
                Subscription(
                    learner_id=learner.id,
                    state=state,
                    delivery_time=delivery_time,
                    timezone=timezone,
                    days=days,
                    next_due_at=next_due_at,
                    created_at=now,
                    updated_at=now,
                    **{"reminders": True, "course_run": 1, "unopened_streak": 0, **columns},
                )
            )
        return learner.id


async def deliver(bot: BotUnderTest, lesson_id: str, user: int = USER) -> FakeMessage:
    """Deliver a lesson as the engine does: a progress row, then the lesson message."""
    content = bot.runtime.services.content
    lesson = content.lesson(lesson_id)
    assert lesson is not None, lesson_id
    now = bot.clock.now()
    async with bot.runtime.sessions.begin() as session:
        learner = await session.scalar(select(Learner).where(Learner.telegram_user_id == user))
        assert learner is not None
        sub = await session.scalar(
            select(Subscription).where(Subscription.learner_id == learner.id)
        )
        run = sub.course_run if sub is not None else 1
        session.add(
            LessonProgress(
                learner_id=learner.id, lesson_id=lesson_id, course_run=run, delivered_at=now
            )
        )
        if sub is not None:
            sub.last_lesson_id = lesson_id
            sub.unopened_streak += 1
    return await show_lesson(bot, lesson_id, user)


async def show_lesson(bot: BotUnderTest, lesson_id: str, user: int = USER) -> FakeMessage:
    """Send a lesson message without recording a delivery (as a lookup's Related lesson does)."""
    content = bot.runtime.services.content
    lesson = content.lesson(lesson_id)
    assert lesson is not None, lesson_id
    screen = lesson_screen(
        lesson,
        course_position=content.lesson_index(lesson_id) + 1,
        course_length=len(content.lessons),
    )
    sent = await bot.runtime.application.bot.send_message(
        chat_id=user, text=screen.text, parse_mode=ParseMode.HTML, reply_markup=keyboard(screen)
    )
    return next(m for m in bot.messages(user) if m.message_id == sent.message_id)


async def count(bot: BotUnderTest, model: Any, **where: Any) -> int:
    """Rows of a model matching column == value filters."""
    async with bot.runtime.sessions.begin() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(await session.scalar(query) or 0)


# --- cohorts: an admin, leads, cohorts and members ------------------------------------------------

ADMIN = 9001
LEAD = 2001
OTHER_LEAD = 2002
NEUTRAL = not_available_screen().text
_LINK = re.compile(r"https://t\.me/[A-Za-z0-9_]+\?start=(inv-[A-Za-z0-9_-]+)")


def assert_router_wired(bot: BotUnderTest) -> None:
    """Check the composition root routes free text to the cohort name step (and the others)."""
    routers = [
        h
        for h in bot.runtime.application.handlers[0]
        if getattr(h.callback, "__name__", "") == "route_text"
    ]
    assert len(routers) == 1, "the free-text router is wired once in bot.app"


def payload_in(messages: list[FakeMessage]) -> str:
    """The invite payload in the newest message that carries a link."""
    for message in reversed(messages):
        found = _LINK.search(message.caption or message.text or "")
        if found:
            return found.group(1)
    raise AssertionError("no invite link in " + repr([m.plain_text for m in messages]))


async def make_lead(bot: BotUnderTest, user: int) -> None:
    """The admin makes `user` a team lead."""
    [reply] = await bot.send(f"/lead add {user}", user=ADMIN)
    assert "team lead" in reply.plain_text


async def new_cohort(bot: BotUnderTest, name: str, lead: int = LEAD) -> str:
    """The lead starts a cohort; returns its invite payload (from the QR code's caption)."""
    replies = await bot.send(f"/cohort new {name}", user=lead)
    [photo] = [m for m in replies if m.photo is not None]
    return payload_in([photo])


async def join(bot: BotUnderTest, payload: str, user: int, name: str) -> list[FakeMessage]:
    """A person opens the link, presses Join and gives their name; returns the last replies."""
    [consent] = await bot.send(f"/start {payload}", user=user)
    assert "Join" in [b["text"] for row in consent.buttons for b in row], consent.plain_text
    await bot.press("Join", user=user)
    return await bot.send(name, user=user)


async def cohort_id(bot: BotUnderTest, name: str) -> int:
    """A live cohort's id by name."""
    async with bot.runtime.sessions.begin() as session:
        found = await session.scalar(
            select(Cohort.id).where(Cohort.name == name, Cohort.archived_at.is_(None))
        )
        assert found is not None, name
        return int(found)


async def member_id(bot: BotUnderTest, user: int) -> int:
    """The membership id of a person's (first) membership."""
    async with bot.runtime.sessions.begin() as session:
        found = await session.scalar(
            select(CohortMember.id)
            .join(Learner, Learner.id == CohortMember.learner_id)
            .where(Learner.telegram_user_id == user)
        )
        assert found is not None, user
        return int(found)


async def set_last_active(bot: BotUnderTest, user: int, when: datetime) -> None:
    """Pretend the person was last active at `when` (joining counts as activity too)."""
    async with bot.runtime.sessions.begin() as session:
        learner = await session.scalar(select(Learner).where(Learner.telegram_user_id == user))
        assert learner is not None
        learner.last_active_at = when
        for member in await session.scalars(
            select(CohortMember).where(CohortMember.learner_id == learner.id)
        ):
            member.joined_at = min(member.joined_at, when)


async def lessons_done(bot: BotUnderTest, user: int, lesson_ids: list[str], when: datetime) -> None:
    """Record lessons delivered and done at `when`, as the engine and the Done button would."""
    async with bot.runtime.sessions.begin() as session:
        learner = await session.scalar(select(Learner).where(Learner.telegram_user_id == user))
        assert learner is not None
        for lesson_id in lesson_ids:
            session.add(
                LessonProgress(
                    learner_id=learner.id,
                    lesson_id=lesson_id,
                    course_run=1,
                    delivered_at=when,
                    opened_at=when,
                    done_at=when,
                )
            )


async def subscription_of(bot: BotUnderTest, user: int) -> Subscription | None:
    """The person's subscription row, if any."""
    async with bot.runtime.sessions.begin() as session:
        found: Subscription | None = await session.scalar(
            select(Subscription)
            .join(Learner, Learner.id == Subscription.learner_id)
            .where(Learner.telegram_user_id == user)
        )
        return found


async def rows(bot: BotUnderTest, model: Any) -> list[Any]:
    """Every row of a model."""
    async with bot.runtime.sessions.begin() as session:
        return list(await session.scalars(select(model)))


# --- the delivery tests and benchmarks: a small course, bulk-seeded subscribers -------------------

CHAT_BASE = 10_000


def make_lesson(lesson_id: str, title: str | None = None, body: str | None = None) -> Lesson:
    """A valid lesson with a short body."""
    return Lesson(
        id=lesson_id,
        title=title or f"Lesson {lesson_id}",
        body=body or f"<b>{lesson_id}</b>: a short lesson body.",
        takeaway="One thing to remember.",
        reflect="What did you notice today?",
        check=Check(
            question="Which is right?",
            answers=[
                Answer(text="This one", feedback="Yes."),
                Answer(text="That one", feedback="Not quite."),
                Answer(text="Neither", feedback="Not quite."),
            ],
            correct=0,
        ),
        source="test",
    )


def make_content(count: int = 5, lessons: list[Lesson] | None = None) -> Content:
    """A course of `count` lessons l01, l02, ... (or the given lessons)."""
    lessons = lessons or [make_lesson(f"l{index:02d}") for index in range(1, count + 1)]
    course = Course(
        id="test-course",
        title="Test course",
        summary="A course for tests.",
        lessons=[lesson.id for lesson in lessons],
        description="A course for tests. Not a crisis service.",
        short_description="A course for tests.",
    )
    support = Support(
        grounding="Breathe.",
        not_a_crisis_service="This is not a crisis service.",
        contacts=[SupportContact(name="Someone", how="Call 000")],
        disclosure="Follow your safeguarding procedure.",
        last_reviewed=date(2026, 1, 1),
    )
    return Content(course, lessons, [], support)


async def seed_subscribers(
    engine: AsyncEngine,
    count: int,
    *,
    next_due_at: datetime | None,
    delivery_time: time = time(8, 0),
    timezone: str = "Europe/London",
    days: int = EVERY_DAY,
    reflection_time: time | None = None,
    state: str = "active",
    last_lesson_id: str | None = None,
    chat_base: int = CHAT_BASE,
    batch: int = 20_000,
    reminders: bool = False,
) -> list[int]:
    """Insert `count` learners with one subscription each; returns the subscription ids.

    Learner i has chat id chat_base + i. Bulk inserts, so 100,000 take seconds. Reminders are off
    unless asked for: these tests count lessons and reflections (reminders have their own).
    """
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        for offset in range(0, count, batch):
            size = min(batch, count - offset)
            learners: list[dict[str, Any]] = [
                {
                    "telegram_user_id": chat_base + offset + index,
                    "chat_id": chat_base + offset + index,
                    "created_at": now,
                    "consented_at": now,
                }
                for index in range(size)
            ]
            await conn.execute(insert(LEARNERS), learners)
        ids = (
            (
                await conn.execute(
                    select(LEARNERS.c.id)
                    .where(
                        LEARNERS.c.telegram_user_id >= chat_base,
                        LEARNERS.c.telegram_user_id < chat_base + count,
                    )
                    .order_by(LEARNERS.c.telegram_user_id)
                )
            )
            .scalars()
            .all()
        )
        for offset in range(0, count, batch):
            subscription_rows = [
                {
                    "learner_id": learner_id,
                    "state": state,
                    "delivery_time": delivery_time,
                    "timezone": timezone,
                    "days": days,
                    "reflection_time": reflection_time,
                    "reminders": reminders,
                    "next_due_at": next_due_at,
                    "last_lesson_id": last_lesson_id,
                    "course_run": 1,
                    "unopened_streak": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for learner_id in ids[offset : offset + batch]
            ]
            await conn.execute(insert(SUBSCRIPTIONS), subscription_rows)
        sub_ids = (
            (
                await conn.execute(
                    select(SUBSCRIPTIONS.c.id)
                    .join(LEARNERS, LEARNERS.c.id == SUBSCRIPTIONS.c.learner_id)
                    .where(
                        LEARNERS.c.telegram_user_id >= chat_base,
                        LEARNERS.c.telegram_user_id < chat_base + count,
                    )
                    .order_by(LEARNERS.c.telegram_user_id)
                )
            )
            .scalars()
            .all()
        )
    return list(sub_ids)


async def deliveries(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every outbox row as a dict, in id order."""
    async with engine.connect() as conn:
        result = await conn.execute(select(DELIVERIES).order_by(DELIVERIES.c.id))
        return [dict(row._mapping) for row in result]


async def subscription(engine: AsyncEngine, subscription_id: int) -> dict[str, Any]:
    """One subscription row as a dict."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id))
        ).one()
        return dict(row._mapping)
