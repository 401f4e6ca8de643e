"""No lead-facing output ever carries a member's reflections or check answers, at any size.

Members write reflections and answer knowledge checks (right and wrong); then the lead uses every
view they have: /cohorts, the dashboard and its chart, the CSV export, the roster, a nudge, the
settings, a fresh invite and the weekly huddle card. Everything the lead received (message text,
captions, the chart's and the CSV's bytes) is searched for each reflection and for the text and
feedback of every answer a member chose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.clock import FakeClock
from bot.results.cohorts import RosterRow
from bot.sandbox.fake_telegram.records import FakeMessage
from tests.support.factories import (
    ADMIN,
    LEAD,
    assert_router_wired,
    join,
    lessons_done,
    make_lead,
    new_cohort,
    set_last_active,
)
from tests.support.harness import BotUnderTest, bot_under_test

LESSONS = ["welcome", "feeling-unsure", "every-contact-counts"]


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        assert_router_wired(b)
        yield b
        assert b.server.rejected == []


def _lead_saw(messages: list[FakeMessage]) -> list[bytes]:
    """Everything the lead received, as bytes: texts, captions, photos and documents."""
    seen: list[bytes] = []
    for message in messages:
        for text in (message.text, message.caption, message.plain_text):
            if text:
                seen.append(text.encode("utf-8"))
        for file in (message.photo, message.document):
            if file is not None and file.data is not None:
                seen.append(file.data)
                seen.append(file.data.decode("utf-8", errors="ignore").encode("utf-8"))
    return seen


@pytest.mark.parametrize("size", [1, 2, 4, 5, 6, 12])
async def test_lead_outputs_never_contain_reflections_or_answers(
    bot: BotUnderTest, size: int
) -> None:
    content = bot.runtime.services.content
    learning = bot.runtime.services.learning
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    secrets: list[str] = []
    for index in range(size):
        user = 3001 + index
        await join(bot, payload, user, f"Member {index}")
        if index % 2 == 0:
            await bot.press("Yes, show it", user=user)
        await lessons_done(bot, user, LESSONS[: 1 + index % 3], bot.clock.now())
        for lesson_id in LESSONS[: 1 + index % 3]:
            reflection = f"Private reflection {index} on {lesson_id}: a night shift I keep"
            await learning.save_reflection(user, lesson_id, reflection)
            secrets.append(reflection)
            lesson = content.lesson(lesson_id)
            assert lesson is not None
            choice = (lesson.check.correct + index) % len(lesson.check.answers)
            await learning.answer_check(user, lesson_id, choice)
            secrets += [lesson.check.answers[choice].text, lesson.check.answers[choice].feedback]
        if index % 3 == 0:
            await set_last_active(bot, user, bot.clock.now() - timedelta(days=9))

    for command in (
        "/cohorts",
        "/cohort Night team",
        "/cohort export Night team",
        "/cohort remove Night team",
        "/cohort nudge Night team",
        "/cohort settings Night team",
        "/cohort invite Night team",
    ):
        await bot.send(command, user=LEAD)
    await bot.send("/cohorts", user=LEAD)
    await bot.press("Night team", user=LEAD)
    bot.clock.set(datetime(2026, 12, 7, 9, 30, tzinfo=UTC))  # Monday: the default huddle day
    for job in bot.sim.clock_jobs:
        await job()

    received = bot.messages(LEAD)
    assert any("Huddle card" in m.plain_text for m in received)
    assert any(m.document is not None for m in received)
    assert any(m.photo is not None for m in received)
    seen = _lead_saw(received)
    for secret in secrets:
        needle = secret.encode("utf-8")
        assert not any(needle in blob for blob in seen), secret


async def test_dashboard_and_roster_results_hold_no_private_fields(bot: BotUnderTest) -> None:
    """The service results themselves carry only names, dates and counts."""
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    for index in range(6):
        await join(bot, payload, 3001 + index, f"Member {index}")
        await bot.runtime.services.learning.save_reflection(3001 + index, None, "SECRET TEXT")
    [info] = await bot.runtime.services.cohorts.mine(LEAD)
    dashboards = bot.runtime.services.dashboards
    dashboard = await dashboards.dashboard(LEAD, info.id)
    _, roster = await dashboards.roster(LEAD, info.id)
    assert "SECRET" not in repr(dashboard) and "SECRET" not in repr(roster)
    # What a lead can learn per member is exactly these fields (and the CSV has no others).
    assert set(RosterRow.__slots__) == {
        "display_name",
        "joined_on",
        "lessons_done",
        "last_active",
    }
