"""Fuzz: hypothesis-generated updates through the real Application against the fake Bot API.

Random commands (the course's, the lookups', the lead's and admin's, unknown ones) with random
arguments, forged callback data (every known prefix with random ids and words), real buttons,
Unicode of every kind (RTL, emoji, bidi overrides, controls, NUL), long texts, stickers, photos,
voice notes, locations, edited messages, inline queries and chosen results, group messages, a
person blocking the bot, and time passing (the delivery engine and daily jobs run), from three
learners, a team lead and an admin.

The updates go through the fake server's queue and are fetched by the bot's long polling over
real HTTP, exactly as in production. A few hundred per database keep the suite fast;
`bench/fuzz_updates.py` runs 10,000 and more. The seed changes every run (hypothesis prints
nothing on success); a failure names the batch that caused it and FUZZ_SEED reproduces it.
"""

from __future__ import annotations

import os
import random

from bot.core.clock import FakeClock
from tests.support.fuzzing import (
    ADMIN,
    FLOOD_OFF,
    LEAD,
    Action,
    Fuzzer,
    content_ids,
    generate,
    set_up_people,
    stored_rows,
    unclean_strings,
)
from tests.support.harness import bot_under_test

UPDATES = int(os.environ.get("FUZZ_UPDATES", "300"))


async def test_random_updates_never_break_the_bot(database_url: str, clock: FakeClock) -> None:
    seed = int(os.environ.get("FUZZ_SEED", random.randrange(2**32)))
    async with bot_under_test(
        database_url, clock, admin_telegram_ids=frozenset({ADMIN}), flood_limit=FLOOD_OFF
    ) as bot:
        await set_up_people(bot)
        batches = generate(UPDATES, *content_ids(bot), seed_value=seed)
        async with Fuzzer(bot) as fuzzer:
            await fuzzer.run(batches)
        result = fuzzer.result
        [reply] = await bot.send("/help")
        stored = await stored_rows(bot)
    context = f"FUZZ_SEED={seed}"
    assert not result.exceptions, f"{context}\n" + "\n\n".join(result.exceptions[:3])
    assert not result.rejected, f"{context}\n{result.rejected[:3]}"
    assert not result.error_logs, f"{context}\n{result.error_logs[:5]}"
    assert result.updates >= UPDATES * 0.9
    assert "/support" in reply.plain_text
    # Whatever was typed, everything stored is clean text (see tests/test_input_hygiene.py).
    assert unclean_strings(stored) == [], context


# --- what the fuzzer found, kept as plain tests ---------------------------------------------------


async def test_whitespace_only_text_is_not_an_error(database_url: str, clock: FakeClock) -> None:
    """The guard looked for /support in the first word of a text that had none."""
    async with bot_under_test(database_url, clock) as bot:
        async with Fuzzer(bot) as fuzzer:
            await fuzzer.run([[Action("text", 1001, "\r\r"), Action("group", 1001, " \n ")]])
        assert fuzzer.result.clean and fuzzer.result.updates == 2


async def test_a_button_under_a_photo_is_answered_with_a_new_message(
    database_url: str, clock: FakeClock
) -> None:
    """Telegram refuses a text edit of a photo (the invite QR code): the answer is sent anew."""
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        await set_up_people(bot)
        [photo] = [m for m in bot.messages(LEAD) if m.photo is not None]
        newest = bot.messages(LEAD)[-1].message_id  # the poster came after the photo
        replies = await bot.sim.press_data(LEAD, photo.message_id, "tn")  # a forged Decline
        assert [m.message_id for m in replies] == [newest + 1]
        assert bot.server.rejected == []
