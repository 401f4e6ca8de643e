"""Helpers for the cohort dialogues: a bot with an admin, leads, cohorts and members.

Everything goes through the real bot (commands, buttons, the invite link's /start) except
where a test needs history a dialogue cannot make quickly (lessons done weeks ago): then rows
are written with the models or the learning service, as the engine and lesson buttons would.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.db.models import Cohort, CohortMember, Learner, LessonProgress, Subscription
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.views.cohorts import not_available_screen
from tests.harness import BotUnderTest

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


def text_of(message: FakeMessage) -> str:
    """What the person sees: the message text or the caption, as plain text."""
    return message.plain_text


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
