"""The lead's weekly chart, readable in a phone's photo bubble: big type, numbers on the bars,
enough contrast, no weeks before the cohort began, this week marked, and the same numbers in text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from matplotlib.text import Text
from sqlalchemy import update

from bot.core.clock import FakeClock
from bot.db.models import Cohort, CohortMember
from bot.services.cohorts.dashboard import first_week
from bot.views import charts
from bot.views.charts import (
    BACKGROUND,
    BAR,
    BAR_OTHER,
    CHART_WIDTH_PX,
    FONT_LABEL,
    FONT_TITLE,
    FONT_VALUE,
    INK,
    MIN_PHONE_TEXT_PX,
    MUTED,
    contrast_ratio,
    phone_text_px,
    progress_chart,
    progress_figure,
)
from tests.support.factories import ADMIN, LEAD, join, lessons_done, make_lead, new_cohort
from tests.support.harness import BotUnderTest, bot_under_test
from tests.support.pictures import png_image

THIS_WEEK = date(2026, 11, 30)  # a Monday


def test_contrast_is_computed_as_wcag_does() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_every_chart_colour_has_enough_contrast_on_the_background() -> None:
    for mark in (BAR, BAR_OTHER):  # bars and other marks: 3:1
        assert contrast_ratio(mark, BACKGROUND) >= 3, mark
    for text in (INK, MUTED):  # text: 4.5:1
        assert contrast_ratio(text, BACKGROUND) >= 4.5, text
    # Values are written beside the bars in INK, so they never sit on a bar's colour.


def test_text_is_large_enough_in_a_phones_photo_bubble() -> None:
    for size in (FONT_TITLE, FONT_LABEL, FONT_VALUE):
        assert phone_text_px(size) >= MIN_PHONE_TEXT_PX
    # Every text the chart draws uses one of the shared sizes, never a smaller one.
    figure = progress_figure([(THIS_WEEK - timedelta(weeks=1), 4)], THIS_WEEK)
    sizes = {t.get_fontsize() for t in figure.findobj(Text) if t.get_text()}
    assert sizes and min(sizes) >= FONT_LABEL
    assert charts.PHONE_WIDTH_PX * 2 == CHART_WIDTH_PX


def test_values_are_on_the_bars_and_this_week_is_marked() -> None:
    weeks = [
        (THIS_WEEK - timedelta(weeks=back), count) for back, count in ((3, 7), (2, 0), (1, 12))
    ]
    figure = progress_figure(weeks, THIS_WEEK)
    texts = [t.get_text() for t in figure.findobj(Text) if t.get_text()]
    for value in ("7", "0", "12"):
        assert value in texts
    for label in ("w/c 9 Nov", "w/c 16 Nov", "w/c 23 Nov", "this week"):
        assert label in texts
    assert any("counted on Mon 7 Dec" in text for text in texts)
    image = png_image(progress_chart(weeks, THIS_WEEK))
    assert image.size[0] == CHART_WIDTH_PX
    assert 200 <= image.size[1] <= 2 * CHART_WIDTH_PX  # a phone shows it without scrolling


def test_a_cohorts_first_whole_week_starts_at_the_first_monday_after_it_began() -> None:
    tz = "Europe/London"
    assert first_week(datetime(2026, 11, 16, 0, 0, tzinfo=UTC), tz) == date(2026, 11, 16)
    assert first_week(datetime(2026, 11, 16, 0, 1, tzinfo=UTC), tz) == date(2026, 11, 23)
    assert first_week(datetime(2026, 11, 22, 23, 0, tzinfo=UTC), tz) == date(2026, 11, 23)


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        yield b
        assert b.server.rejected == [], "the bot sent something Telegram would reject"


async def test_the_chart_starts_with_the_cohort_and_its_numbers_are_in_the_caption(
    bot: BotUnderTest,
) -> None:
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    now = bot.clock.now()  # Monday 30 November 2026, 07:00
    for index, name in enumerate(["Ana", "Ben", "Cy", "Di", "Ed"]):
        await join(bot, payload, 3001 + index, name)
    # The cohort began on Wednesday 11 November: its first whole week is that of 16 November.
    began = now - timedelta(days=19)
    async with bot.runtime.sessions.begin() as session:
        await session.execute(update(Cohort).values(created_at=began))
        await session.execute(update(CohortMember).values(joined_at=began))
    await lessons_done(bot, 3001, ["welcome", "feeling-unsure"], now - timedelta(days=12))
    await lessons_done(bot, 3002, ["welcome"], now - timedelta(days=5))
    await lessons_done(bot, 3003, ["welcome"], now + timedelta(hours=1))  # this week

    _, photo = await bot.send("/cohort Night team", user=LEAD)
    caption = photo.plain_text
    assert "w/c Monday 16 November 2026: 2" in caption
    assert "w/c Monday 23 November 2026: 1" in caption
    assert "November 2026: " in caption and "9 November" not in caption  # none before it began
    assert "This week (from Monday 30 November 2026): counted on Monday 7 December 2026." in caption
    assert photo.photo is not None and photo.photo.data is not None
    assert png_image(photo.photo.data).size[0] == CHART_WIDTH_PX


async def test_no_chart_before_the_first_whole_week(bot: BotUnderTest) -> None:
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    for index, name in enumerate(["Ana", "Ben", "Cy", "Di", "Ed"]):
        await join(bot, payload, 3001 + index, name)
    replies = await bot.send("/cohort Night team", user=LEAD)
    assert [reply.photo for reply in replies] == [None]
    assert "its first week is counted on Monday 7 December 2026" in replies[0].plain_text
