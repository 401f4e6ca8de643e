"""Lengths counted as Telegram counts them: UTF-16 code units of the text after entities are parsed.

The fake server refuses a message over 4,096 UTF-16 units, as Telegram does, and the `bot` fixture
fails a test in which anything was refused.
"""

from __future__ import annotations

from datetime import timedelta

from bot.content.schema import Card
from bot.core.textclean import clean, shorten, utf16_cut, utf16_len
from bot.views.lookup import MAX_INLINE_DESCRIPTION, inline_card
from tests.support.factories import deliver, make_learner
from tests.support.harness import USER, BotUnderTest

L1 = "welcome"
EMOJI = "😀"  # outside the BMP: one code point, two UTF-16 units


def test_lengths_cuts_and_shortening_count_utf16_units() -> None:
    assert utf16_len(EMOJI * 3) == 6
    assert utf16_cut(EMOJI * 10, 5) == EMOJI * 2  # never half a surrogate pair
    assert utf16_cut("ab👩🏽‍⚕️", 4) == "ab"  # never a person without their skin tone
    assert utf16_len(shorten(EMOJI * 100, 60)) <= 60
    assert shorten("short", 60) == "short"
    stored = clean(EMOJI * 3000)
    assert utf16_len(stored.text) <= 4000 and stored.truncated
    assert stored.original_length == 6000


async def test_a_journal_of_emoji_only_reflections_can_be_read(bot: BotUnderTest) -> None:
    """Five emoji-only reflections went over Telegram's limit and page 1 could not be read."""
    await make_learner(bot)
    learning = bot.runtime.services.learning
    for _ in range(5):
        await learning.start_reflection(USER, L1, "reflect:x")
        await learning.save_reflection(USER, L1, EMOJI * 3000)
        bot.clock.advance(timedelta(hours=1))
    [page] = await bot.send("/journal")
    assert EMOJI in (page.plain_text or "")
    assert "/mydata has every word" in (page.plain_text or "")
    assert bot.server.rejected == []


async def test_an_emoji_reflection_is_kept_to_the_stored_limit(bot: BotUnderTest) -> None:
    await make_learner(bot)
    lesson = await deliver(bot, L1)
    await bot.press("Reflect", message=lesson)
    [ack] = await bot.send(EMOJI * 2500)  # 2,500 characters but 5,000 UTF-16 units
    assert "first 4,000 characters" in (ack.plain_text or "")
    page = await bot.runtime.services.learning.journal(USER)
    assert page.entries[0].text is not None and utf16_len(page.entries[0].text) <= 4000


async def test_an_echoed_emoji_search_stays_short(bot: BotUnderTest) -> None:
    [reply] = await bot.send("🫶" * 1000)
    assert bot.server.rejected == []
    assert utf16_len(reply.plain_text or "") <= 4096


def test_an_inline_description_counts_utf16_units() -> None:
    card = Card.model_construct(id="emoji-card", title="Emoji", summary=EMOJI * 200)
    assert utf16_len(inline_card(card).description) <= MAX_INLINE_DESCRIPTION
