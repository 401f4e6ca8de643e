"""Kill tests: a worker process SIGKILLed after the claim, and after Telegram got the messages.

Each restarts a worker and checks the invariant: every learner has exactly one lesson in their
chat (nothing lost, nothing sent twice), and every outbox row is either sent or, for a message a
dead worker may have sent, uncertain (which /today serves).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.core.clock import FakeClock
from bot.db.engine import create_sessions
from bot.sandbox.fake_telegram.faults import Delay
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.services.outbox.service import DeliveryService
from tests.support.factories import CHAT_BASE, deliveries, make_content, seed_subscribers

ROOT = Path(__file__).resolve().parent.parent
COUNT = 40


@pytest.fixture
async def server() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


async def start_worker(
    database_url: str, server: FakeBotAPI, *extra: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.delivery_worker",
        database_url,
        server.base_url,
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


def assert_each_chat_has_one_lesson(server: FakeBotAPI) -> None:
    counts = {chat: len(server.messages(chat)) for chat in range(CHAT_BASE, CHAT_BASE + COUNT)}
    assert set(counts.values()) == {1}, {c: n for c, n in counts.items() if n != 1}


async def test_killed_after_claim_loses_nothing(
    database_url: str, engine: AsyncEngine, server: FakeBotAPI
) -> None:
    await seed_subscribers(engine, COUNT, next_due_at=datetime.now(UTC) - timedelta(minutes=1))
    code, output = await finish(await start_worker(database_url, server, "--die-after-claim"))
    assert code == -signal.SIGKILL, output
    assert f"claimed {COUNT}" in output
    rows = await deliveries(engine)
    assert len(rows) == COUNT and {r["status"] for r in rows} == {"pending"}
    assert server.calls("sendMessage") == []

    code, output = await finish(await start_worker(database_url, server))
    assert code == 0, output
    assert_each_chat_has_one_lesson(server)
    assert {r["status"] for r in await deliveries(engine)} == {"sent"}


async def test_killed_after_send_sends_nothing_twice(
    database_url: str, engine: AsyncEngine, server: FakeBotAPI
) -> None:
    await seed_subscribers(engine, COUNT, next_due_at=datetime.now(UTC) - timedelta(minutes=1))
    # Telegram accepts each message but answers late: the worker dies before it hears back.
    server.inject("sendMessage", times=None, fault=Delay(30))
    worker = await start_worker(database_url, server, "--rate", "20")  # 8 sends in flight
    seen, steady = -1, 0
    for _ in range(600):  # until the calls stop coming: every worker waits for an answer
        await asyncio.sleep(0.05)
        calls = len(server.calls("sendMessage"))
        steady = steady + 1 if calls == seen and calls else 0
        seen = calls
        if steady >= 6:
            break
    in_flight = len(server.calls("sendMessage"))
    assert 0 < in_flight < COUNT
    worker.send_signal(signal.SIGKILL)
    code, _ = await finish(worker)
    assert code == -signal.SIGKILL
    server.clear_faults()

    rows = await deliveries(engine)
    assert sum(r["status"] == "sending" for r in rows) == in_flight
    # After the lease expires the reaper (any process) marks those rows uncertain.
    later = FakeClock(datetime.now(UTC) + timedelta(minutes=5))
    reaper = DeliveryService(
        create_sessions(engine), later, make_content(3), Settings(_env_file=None)
    )  # type: ignore[call-arg]
    assert await reaper.reap_expired_leases() == in_flight

    code, output = await finish(await start_worker(database_url, server))
    assert code == 0, output
    assert_each_chat_has_one_lesson(server)
    statuses = [r["status"] for r in await deliveries(engine)]
    assert statuses.count("uncertain") == in_flight
    assert statuses.count("sent") == COUNT - in_flight
