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
from tests.harness import USER, BotUnderTest, bot_under_test, settings_for_test


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
