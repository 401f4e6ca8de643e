"""The delivery-only process (`python -m scheduler.worker`) sends every kind the bot sends.

It is a second composition root: whatever it leases it must be able to render, or rows of that
kind are failed whenever this process, not the bot, happens to lease them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.states import DeliveryKind
from bot.db.engine import create_sessions
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.services.outbox.sql import enqueue
from bot.services.outbox.types import NewDelivery
from bot.views.cohorts import nudge_screen
from tests.support.factories import CHAT_BASE, deliveries, seed_subscribers
from tests.support.harness import ROOT, TEST_TOKEN


async def test_the_worker_process_sends_a_cohort_nudge(
    database_url: str, engine: AsyncEngine
) -> None:
    now = datetime.now(UTC)
    # This test runs on the wall clock: a learner whose lesson time was a minute ago is awake
    # now, whatever the hour (quiet hours are the 9 hours before the lesson time).
    awake = (now - timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    [subscription_id] = await seed_subscribers(
        engine, 1, next_due_at=None, delivery_time=awake, timezone="UTC"
    )
    async with create_sessions(engine).begin() as session:
        nudge = NewDelivery(
            subscription_id, CHAT_BASE, DeliveryKind.NUDGE, now.date(), now - timedelta(seconds=1)
        )
        assert await enqueue(session, [nudge], now) == 1
    async with FakeBotAPI() as server:
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scheduler.worker",
            cwd=ROOT,
            env={
                "PATH": os.environ.get("PATH", ""),
                "DATABASE_URL": database_url,
                "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
                "TELEGRAM_API_BASE_URL": server.base_url,
                "LESSONS_DIR": str(ROOT / "lessons"),
                "DELIVERY_TICK_SECONDS": "0.2",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            for _ in range(300):  # up to 30 s on a busy machine; usually under 2
                rows = await deliveries(engine)
                if rows[0]["status"] not in ("pending", "sending"):
                    break
                await asyncio.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 0, output.decode()
    [row] = await deliveries(engine)
    assert (row["kind"], row["status"], row["attempts"]) == ("nudge", "sent", 1), output.decode()
    [message] = server.messages(CHAT_BASE)
    assert message.text == nudge_screen().text
    assert row["telegram_message_id"] == message.message_id
    assert "ERROR" not in output.decode()
