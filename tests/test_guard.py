"""The guard: redelivered updates change nothing; a flooding person is told once, then ignored."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy.exc import OperationalError
from telegram import Update

from bot.clock import FakeClock
from bot.updates import UpdateLog
from tests.harness import bot_under_test


async def test_a_redelivered_update_is_handled_once(database_url: str, clock: FakeClock) -> None:
    async with bot_under_test(database_url, clock) as bot:
        application = bot.sim.application
        payload = {
            "update_id": 777,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1001, "type": "private"},
                "from": {"id": 1001, "is_bot": False, "first_name": "Alex"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        for _ in range(2):  # e.g. a webhook retry after a crash
            await application.process_update(Update.de_json(payload, application.bot))
        assert len(bot.messages()) == 1


async def test_flooding_is_answered_once_then_ignored_and_others_are_unaffected(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, flood_limit="5/1 second") as bot:
        replies = [await bot.send("/help") for _ in range(8)]
        assert [len(r) for r in replies[:5]] == [1] * 5
        assert "faster than I can keep up" in (replies[5][0].text or "")
        assert replies[6:] == [[], []]
        [support] = await bot.send("/support")  # never limited
        assert "116 123" in (support.text or "")
        assert len(await bot.send("/help", user=2002)) == 1  # someone else
        await asyncio.sleep(1.1)  # the person slows down
        assert len(await bot.send("/help")) == 1


class _Unreachable:
    """A session factory whose database refuses to connect, with the given error."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def begin(self) -> _Unreachable:
        return self

    async def __aenter__(self) -> None:
        raise self.error

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, Exception("connection refused")),
        ConnectionRefusedError("connection refused"),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.InterfaceError("connection is closed"),
    ],
)
async def test_the_update_log_fails_open_when_the_database_is_unreachable(
    error: Exception, clock: FakeClock
) -> None:
    """Seen in bench/fault_pg_restart.py: asyncpg's connect errors are not SQLAlchemy's."""
    log = UpdateLog(_Unreachable(error), clock)  # type: ignore[arg-type]
    assert await log.first_time(1) is True
