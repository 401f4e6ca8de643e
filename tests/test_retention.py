"""Retention: the daily job erases old reflections and long-inactive learners, counts only logged.

Time passes with the injected clock (`bot.advance` runs the clock jobs, as the JobQueue would
once a day); nothing here waits in real time.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.db.models import Lead, Learner, LessonProgress, ProcessedUpdate, Reflection, Subscription
from bot.services.privacy import ForgetReport, PrivacyService
from bot.services.retention import RetentionService
from scheduler.jobs import RETENTION_JOB_NAME
from tests.support.factories import count, make_learner
from tests.support.harness import USER, BotUnderTest, bot_under_test
from tests.test_privacy import make_cohort, populate, rows_about

OTHER = 2002
LEAD = 3003
SECRET = "retention-canary: a night I keep thinking about"


async def reflect(bot: BotUnderTest, text: str, user: int = USER) -> None:
    learning = bot.runtime.services.learning
    await learning.start_reflection(user, "welcome", "reflect:x")
    assert await learning.save_reflection(user, "welcome", text) is not None


def retention_of(bot: BotUnderTest, **settings: Any) -> RetentionService:
    """A retention service on the bot's database (settings as given, else the bot's)."""
    services = bot.runtime.services
    configured = services.settings.model_copy(update=settings)
    return RetentionService(
        bot.runtime.sessions, bot.clock, services.privacy, services.updates, configured
    )


async def test_the_job_runs_daily_from_the_job_queue_and_after_the_clock_moves(
    bot: BotUnderTest,
) -> None:
    job_queue = bot.runtime.application.job_queue
    assert job_queue is not None
    [job] = job_queue.get_jobs_by_name(RETENTION_JOB_NAME)
    assert job.job.trigger.interval == timedelta(days=1)  # type: ignore[attr-defined]
    assert any(
        isinstance(getattr(j, "__self__", None), RetentionService) for j in bot.sim.clock_jobs
    )


async def test_reflections_older_than_a_year_are_deleted_and_progress_stays(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await make_learner(bot)
    await reflect(bot, f"{SECRET} (old)")
    await bot.advance(days=200)
    await reflect(bot, f"{SECRET} (newer)")
    async with bot.runtime.sessions.begin() as session:
        session.add(
            LessonProgress(
                learner_id=await session.scalar(select(Learner.id)),
                lesson_id="welcome",
                course_run=1,
                delivered_at=bot.clock.now(),
            )
        )
    await bot.advance(days=165, hours=1)  # the first is now a year and an hour old
    page = await bot.runtime.services.learning.journal(USER)
    assert [entry.text for entry in page.entries] == [f"{SECRET} (newer)"]
    assert await count(bot, Subscription) == 1 and await count(bot, LessonProgress) == 1
    lines = [r.getMessage() for r in caplog.records]
    assert any("1 reflection(s)" in line for line in lines)
    assert not any("retention-canary" in line for line in lines)
    await bot.advance(days=200)
    assert await count(bot, Reflection) == 0


async def test_a_long_inactive_learner_is_erased_like_forget_and_others_are_kept(
    bot: BotUnderTest,
) -> None:
    cohort = await make_cohort(bot, lead=LEAD)
    gone = await populate(bot, USER, cohort)
    await bot.advance(days=365)
    stays = await populate(bot, OTHER, cohort)  # active a year later
    await bot.advance(days=366)  # USER: 731 days without using the bot; OTHER: 366
    async with bot.runtime.sessions.begin() as session:
        assert not any((await rows_about(session, gone)).values())
        kept = await rows_about(session, stays)
    assert kept["learners"] == 1 and kept["cohort_members"] == 1 and kept["subscriptions"] == 1
    assert await count(bot, Learner) == 1


async def test_someone_who_came_back_is_not_erased(bot: BotUnderTest) -> None:
    await make_learner(bot)
    await bot.advance(days=729)
    await bot.send("/progress")  # any use of the course counts, reading included
    await bot.advance(days=2)
    assert await count(bot, Learner) == 1


async def test_a_learner_who_returns_while_the_job_runs_is_kept(bot: BotUnderTest) -> None:
    """The inactivity is checked again inside the erasing transaction."""
    await make_learner(bot)
    bot.clock.advance(timedelta(days=800))
    services = bot.runtime.services

    class ComesBack(PrivacyService):
        async def forget(self, telegram_user_id: int, **kwargs: Any) -> ForgetReport | None:
            await services.learners.set_pending_action(telegram_user_id, None)  # activity
            return await super().forget(telegram_user_id, **kwargs)

    privacy = ComesBack(bot.runtime.sessions, bot.clock, services.content, services.keyring)
    retention = RetentionService(
        bot.runtime.sessions, bot.clock, privacy, services.updates, services.settings
    )
    assert await retention.erase_inactive_learners() == (0, 0)
    assert await count(bot, Learner) == 1


async def test_team_leads_are_kept_and_counted(bot: BotUnderTest) -> None:
    await make_learner(bot, LEAD)
    await make_learner(bot, OTHER)
    async with bot.runtime.sessions.begin() as session:
        session.add(Lead(telegram_user_id=LEAD, added_at=bot.clock.now()))
    bot.clock.advance(timedelta(days=731))
    report = await retention_of(bot).run()
    assert (report.learners, report.kept_as_leads) == (1, 1)
    async with bot.runtime.sessions.begin() as session:
        left = list(await session.scalars(select(Learner.telegram_user_id)))
    assert left == [LEAD]


async def test_never_active_rows_count_from_when_they_were_made(bot: BotUnderTest) -> None:
    """A learner row with no activity or consent (someone who opened an invite and left)."""
    async with bot.runtime.sessions.begin() as session:
        session.add(Learner(telegram_user_id=OTHER, chat_id=OTHER, created_at=bot.clock.now()))
    bot.clock.advance(timedelta(days=730, seconds=1))
    assert (await retention_of(bot).run()).learners == 1


async def test_a_period_of_zero_switches_a_rule_off(bot: BotUnderTest) -> None:
    await make_learner(bot)
    await reflect(bot, SECRET)
    bot.clock.advance(timedelta(days=3000))
    off = retention_of(bot, reflection_retention_days=0, inactive_learner_retention_days=0)
    report = await off.run()
    assert (report.reflections, report.learners) == (0, 0)
    assert await count(bot, Reflection) == 1 and await count(bot, Learner) == 1


async def test_custom_periods_and_large_batches(database_url: str, clock: FakeClock) -> None:
    async with bot_under_test(
        database_url, clock, reflection_retention_days=30, inactive_learner_retention_days=90
    ) as bot:
        for user in range(5000, 5007):
            await make_learner(bot, user)
            await reflect(bot, SECRET, user)
        bot.clock.advance(timedelta(days=31))
        small_batches = RetentionService(
            bot.runtime.sessions,
            bot.clock,
            bot.runtime.services.privacy,
            bot.runtime.services.updates,
            bot.runtime.services.settings,
            batch=3,
        )
        assert await small_batches.purge_reflections() == 7
        bot.clock.advance(timedelta(days=60))
        assert await small_batches.erase_inactive_learners() == (7, 0)
        assert await count(bot, Learner) == 0


async def test_update_ids_older_than_two_days_are_pruned(bot: BotUnderTest) -> None:
    await bot.send("/help")
    await bot.runtime.services.updates.flush()  # as it is, at most a second later
    await bot.advance(days=1)
    await bot.send("/help")
    await bot.runtime.services.updates.flush()
    assert await count(bot, ProcessedUpdate) == 2
    await bot.advance(days=1, hours=12)
    assert await count(bot, ProcessedUpdate) == 1  # the first is 2.5 days old, the second 1.5
    await bot.advance(days=1)
    assert await count(bot, ProcessedUpdate) == 0
