"""Faults on the interactive side: a database outage, commands addressed by name, Telegram's
errors on a reply, an update the library cannot parse, and a second sandbox run."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from telegram.error import BadRequest as TelegramBadRequest
from telegram.error import NetworkError, TimedOut

from bot.core.clock import FakeClock
from bot.render import REPLY_ATTEMPTS, certainly_not_sent
from bot.sandbox.fake_telegram.faults import ServerError, TooManyRequests
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.sandbox.terminal import sandbox
from tests.support.harness import (
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
        [found] = await bot.send("what do I say when someone tells me about their trauma")
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
            # People are handled side by side: the later update finishing says nothing of the first.
            await bot.sim.application.wait_finished(first, 10)
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


@pytest.mark.parametrize(
    "fault",
    [TooManyRequests(retry_after=1), ServerError(500, "Internal Server Error"), ServerError(502)],
    ids=["429", "500", "502"],
)
async def test_a_reply_refused_once_is_sent_again(
    database_url: str, clock: FakeClock, fault: TooManyRequests | ServerError
) -> None:
    """One 429, 500 or 502 used to give "Sorry, something went wrong" and an ERROR."""
    with production_log([TEST_TOKEN]) as log:
        async with bot_under_test(database_url, clock) as bot:
            bot.server.inject("sendMessage", chat_id=USER, fault=fault)
            [reply] = await bot.send("/help")
            assert "How this bot works" in (reply.text or "")
            assert len(bot.messages()) == 1 and bot.server.faults_served
    assert "ERROR" not in log.getvalue() and "Traceback" not in log.getvalue()


async def test_a_reply_that_keeps_failing_stops_after_a_few_attempts(bot: BotUnderTest) -> None:
    bot.server.inject("sendMessage", chat_id=USER, fault=ServerError(502), times=None)
    await bot.send("/help")
    # The reply's attempts and the apology's, then nothing more.
    assert len(bot.server.calls("sendMessage")) <= 2 * REPLY_ATTEMPTS
    assert bot.messages() == []


def test_only_a_failure_that_proves_nothing_was_sent_is_retried() -> None:
    refused = NetworkError("connect failed")
    refused.__cause__ = aiohttp.ClientConnectorError(
        SimpleNamespace(host="127.0.0.1", port=9, ssl=True), OSError(111, "refused")
    )
    starved = TimedOut("no connection free in the pool")
    starved.__cause__ = aiohttp.ConnectionTimeoutError("Connection timeout")
    broken = NetworkError("server disconnected")
    broken.__cause__ = aiohttp.ServerDisconnectedError()
    read = TimedOut("read timed out")
    read.__cause__ = aiohttp.SocketTimeoutError("Timeout on reading data from socket")
    assert certainly_not_sent(NetworkError("Bad Gateway"))  # Telegram answered 502
    assert certainly_not_sent(refused)
    assert certainly_not_sent(starved)
    assert not certainly_not_sent(broken)  # it may have arrived
    assert not certainly_not_sent(read)  # it may have arrived: never resent
    assert not certainly_not_sent(TelegramBadRequest("Bad Request: message is too long"))


async def test_a_burst_of_replies_is_paced_and_nobody_else_waits(
    database_url: str, clock: FakeClock
) -> None:
    """The flood limiter let 20 replies go out at once into one chat: a 429 from Telegram."""
    async with bot_under_test(database_url, clock, reply_chat_rate=2.0) as bot:
        loop = asyncio.get_running_loop()
        sent: dict[int, list[float]] = {USER: [], 2002: []}

        def note(event: str, message: FakeMessage) -> None:
            if event == "sent" and message.chat_id in sent:
                sent[message.chat_id].append(loop.time())

        bot.server.listeners.append(note)
        ids = [bot.server.send_text(USER, "/help") for _ in range(8)]
        await asyncio.sleep(0.2)
        asked = loop.time()
        [other] = await bot.send("/help", user=2002)  # someone else, meanwhile
        answered = loop.time() - asked
        await bot.sim.application.wait_finished(ids[-1], 10)
        times = sent[USER]
        assert len(times) == 8
        # Three at once, then two a second (the rate set here; the default is one).
        assert times[-1] - times[0] >= (8 - 3) / 2.0 - 0.1
        assert answered < 0.5, f"the other person waited {answered:.2f} s"
        assert "How this bot works" in (other.text or "")


async def test_updates_from_one_person_are_handled_in_the_order_sent(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, reply_chat_rate=5.0) as bot:
        ids = [bot.server.send_text(USER, f"/stage {n}") for n in (1, 2, 3, 1, 2, 3)]
        await bot.sim.application.wait_finished(ids[-1], 10)
        titles = [m.plain_text or "" for m in bot.messages()]
        order = [
            next(n for n in "123" if f"stage {n}" in t.lower() or f"Stage {n}" in t) for t in titles
        ]
        assert order == list("123123")
