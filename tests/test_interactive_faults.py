"""Faults on the interactive side: a database outage, commands addressed by name, Telegram's
errors on a reply, an update the library cannot parse, and a second sandbox run."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import FakeClock
from bot.sandbox import sandbox
from tests.harness import (
    TEST_TOKEN,
    USER,
    BotUnderTest,
    bot_under_test,
    production_log,
    settings_for_test,
)


@contextlib.contextmanager
def database_down(bot: BotUnderTest) -> Iterator[None]:
    """Every service's sessions point at a server that refuses connections, then back."""
    gone = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    bot.runtime.sessions.configure(bind=gone)
    try:
        yield
    finally:
        bot.runtime.sessions.configure(bind=bot.runtime.engine)


def _group_text(bot: BotUnderTest, text: str, user: int = USER) -> int:
    command = text.split()[0]
    message: dict[str, Any] = {
        "message_id": 10_000 + len(bot.server.requests),
        "from": bot.server._user(user),
        "chat": {"id": -100_200, "type": "group", "title": "Team room"},
        "date": 1_700_000_000,
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
    }
    return bot.server.send_update({"message": message})


async def test_lookups_and_search_work_while_the_database_is_down(bot: BotUnderTest) -> None:
    """/stage 2 showed the card and then an apology; a search got only the apology."""
    with database_down(bot):
        [card] = await bot.send("/stage 2")
        assert "went wrong" not in (card.text or "")
        [found] = await bot.send("what do I say when someone tells me about abuse")
        assert "went wrong" not in (found.text or "")
        [support] = await bot.send("/support")
        assert "116 123" in (support.text or "")
    assert len(bot.messages()) == 3


async def test_the_apology_promises_only_what_is_true(bot: BotUnderTest) -> None:
    with database_down(bot):
        [apology] = await bot.send("/progress")
    text = apology.plain_text or ""
    assert "went wrong" in text and "lost" not in text
    assert "again" in text  # the person is asked to send it again: it will not come back by itself


async def test_commands_addressed_to_the_bot_by_name_are_recognised(bot: BotUnderTest) -> None:
    name = bot.server.bot_username
    [help_screen] = await bot.send(f"/help@{name}")
    assert "How this bot works" in (help_screen.text or "")
    [stage] = await bot.send(f"/stage@{name} 2")
    assert "know that command" not in (stage.text or "")
    update_id = _group_text(bot, f"/support@{name}")
    await bot.sim.application.wait_finished(update_id, 10)
    [group_reply] = bot.server.messages(-100_200)
    assert "know that command" not in (group_reply.text or "")


async def test_a_command_for_another_bot_is_left_alone(bot: BotUnderTest) -> None:
    update_id = _group_text(bot, "/start@some_other_bot")
    await bot.sim.application.wait_finished(update_id, 10)
    assert bot.server.messages(-100_200) == []


async def test_start_by_name_in_a_group_is_not_unknown(database_url: str, clock: FakeClock) -> None:
    async with bot_under_test(database_url, clock) as bot:
        update_id = _group_text(bot, f"/start@{bot.server.bot_username}")
        await bot.sim.application.wait_finished(update_id, 10)
        replies = bot.server.messages(-100_200)
        assert replies and all("know that command" not in (m.text or "") for m in replies)


async def test_two_sandbox_runs_on_one_database_both_answer(database_url: str) -> None:
    """The second run's fake server numbered updates from 1 again and the guard dropped them all."""
    settings = settings_for_test(database_url)
    for run in range(2):
        out = io.StringIO()
        assert await sandbox(settings, USER, io.StringIO("/help\n/support\n"), out) == 0
        assert "How this bot works" in out.getvalue(), f"run {run + 1} answered nothing"
        assert "116 123" in out.getvalue()


def _unparsable(update_id: int) -> dict[str, Any]:
    """A message in a field shape this PTB cannot read (a photo as an object, not a list)."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": 3003, "type": "private", "first_name": "Kestrel"},
            "from": {"id": 3003, "is_bot": False, "first_name": "Kestrel"},
            "text": "canary words: the night shift",
            "photo": {"new": "shape"},
        },
    }


async def test_an_unparsable_update_is_skipped_and_everyone_else_answered(
    database_url: str, clock: FakeClock
) -> None:
    """One such update used to fail every getUpdates, never advance the offset, and log the
    whole batch (names and text) at CRITICAL in a tight loop: nobody was answered."""
    with production_log([TEST_TOKEN]) as log:
        async with bot_under_test(database_url, clock) as bot:
            first = bot.server.send_text(USER, "/help")
            bot.server.send_update(_unparsable(first + 1))
            second = bot.server.send_text(2002, "/support")
            bot.server.send_update(_unparsable(second + 1))  # the last of its batch, too
            await bot.sim.application.wait_finished(second, 10)
            assert len(bot.messages(USER)) == 1 and len(bot.messages(2002)) == 1
            await bot.server.wait_until(lambda: not bot.server.pending_updates, timeout=5)
            [after] = await bot.send("/help")  # still listening
            assert "/support" in (after.text or "")
    text = log.getvalue()
    assert f"skipped update {first + 1} (message)" in text
    assert f"skipped update {second + 1} (message)" in text
    assert "Kestrel" not in text and "canary words" not in text
    assert "CRITICAL" not in text
    assert text.count("skipped update") == 2  # once each, not in a loop
