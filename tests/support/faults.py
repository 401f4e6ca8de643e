"""Fault runs: a burst of due lessons sent through faults, and a tally of what arrived.

A burst is N learners whose lesson falls due in the same minute (seeded in bulk with
tests/support/factories.py, chat ids CHAT_BASE + i). After the fault, `tally` compares what each
chat received at the fake Bot API server with what the outbox recorded:

* delivered once: the target for everyone;
* lost: nothing arrived and the outbox does not say "uncertain" (target 0);
* sent twice: two or more lessons arrived in one chat (target 0);
* uncertain: the outbox could not know whether Telegram got it (a timeout, or a process killed
  mid-send); never resent automatically (/today serves it). Counted apart, split into those that
  did arrive and those that did not.

Used by tests/test_fault_telegram.py and the bench/fault_*.py benchmarks.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.config import Settings
from bot.core.clock import FakeClock
from bot.db.engine import create_engine, create_sessions
from bot.sandbox.fake_telegram.faults import Delay, Fault, ServerError, TooManyRequests
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.services.outbox.service import DeliveryService
from bot.services.outbox.sql import DELIVERIES
from bot.services.outbox.types import LESSON
from bot.telegram_http import AiohttpRequest
from scheduler.engine import DeliveryEngine
from tests.support.factories import CHAT_BASE, make_content, seed_subscribers

TOKEN = "123456:FAULT-token"


@dataclass
class Tally:
    """What N learners received, against what the outbox says."""

    learners: int
    delivered_once: int = 0
    lost: int = 0
    twice: int = 0
    uncertain_arrived: int = 0
    uncertain_missing: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    lost_chats: list[int] = field(default_factory=list)

    @property
    def uncertain(self) -> int:
        """Outbox rows marked uncertain (whether or not the message arrived)."""
        return self.uncertain_arrived + self.uncertain_missing

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing doubled."""
        return self.lost == 0 and self.twice == 0

    def line(self) -> str:
        """One line of figures."""
        return (
            f"{self.learners} learners: delivered once {self.delivered_once}, lost {self.lost},"
            f" sent twice {self.twice}, uncertain {self.uncertain}"
            f" ({self.uncertain_arrived} arrived, {self.uncertain_missing} did not);"
            f" outbox {dict(sorted(self.statuses.items()))}"
        )

    def add(self, other: Tally) -> None:
        """Accumulate another run's figures."""
        self.learners += other.learners
        self.delivered_once += other.delivered_once
        self.lost += other.lost
        self.twice += other.twice
        self.uncertain_arrived += other.uncertain_arrived
        self.uncertain_missing += other.uncertain_missing
        self.statuses.update(other.statuses)
        self.lost_chats += other.lost_chats


async def tally(engine: AsyncEngine, server: FakeBotAPI, learners: int) -> Tally:
    """Compare each chat's received lessons with its outbox row."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(DELIVERIES.c.chat_id, DELIVERIES.c.status).where(DELIVERIES.c.kind == LESSON)
            )
        ).all()
    status_of: dict[int, str] = {}
    for chat_id, status in rows:
        status_of[int(chat_id)] = status
    result = Tally(learners, statuses=Counter(status for _, status in rows))
    for chat in range(CHAT_BASE, CHAT_BASE + learners):
        received = len(server.messages(chat))
        status = status_of.get(chat)
        if received >= 2:
            result.twice += 1
        elif status == "uncertain":
            if received:
                result.uncertain_arrived += 1
            else:
                result.uncertain_missing += 1
        elif received == 1:
            result.delivered_once += 1
        else:
            result.lost += 1
            result.lost_chats.append(chat)
    return result


# --- Telegram faults ------------------------------------------------------------------------------


@dataclass
class FaultRun:
    """One burst sent through faults: what arrived, how long it took, what was served."""

    tally: Tally
    seconds: float
    passes: int
    calls: int
    faults: Counter[str]


def telegram_faults(read_timeout: float) -> tuple[Fault, ...]:
    """429, 5xx, and a timeout (processed, but answered after the client gave up)."""
    return (
        TooManyRequests(1),
        ServerError(500, "Internal Server Error"),
        ServerError(502),
        ServerError(503, "Service Unavailable"),
        Delay(read_timeout + 1.0),
    )


def fault_name(fault: Fault) -> str:
    """429, 5xx or timeout."""
    if isinstance(fault, TooManyRequests):
        return "429"
    if isinstance(fault, ServerError):
        return str(fault.status)
    return "timeout" if isinstance(fault, Delay) else type(fault).__name__


async def burst_through_telegram_faults(
    database_url: str,
    learners: int,
    *,
    ratio: float,
    seed: int,
    read_timeout: float = 5.0,
    rate: float = 25.0,
    latency: float = 0.0,
    first: tuple[Fault, ...] = (),
) -> FaultRun:
    """Deliver a burst while about `ratio` of sendMessage calls fail; returns the tally.

    The engine runs with the production send policy (1 message a second per chat, retries after
    30 s doubling, the rate cap given); between passes the injected clock moves on half an
    hour so retries fall due without waiting. `first` faults are served to the first calls.
    """
    engine = create_engine(database_url)
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    await seed_subscribers(engine, learners, next_due_at=clock.now() - timedelta(minutes=1))
    content = make_content(3)
    settings = Settings(_env_file=None, delivery_rate_per_second=rate)  # type: ignore[call-arg]
    service = DeliveryService(create_sessions(engine), clock, content, settings)
    try:
        async with FakeBotAPI() as server:
            server.latency = latency
            for fault in first:
                server.inject("sendMessage", fault=fault)
            server.fail_ratio(ratio, seed, faults=telegram_faults(read_timeout))
            request = AiohttpRequest(connection_pool_size=256, read_timeout=read_timeout)
            loop = asyncio.get_running_loop()
            started, passes = loop.time(), 0
            async with Bot(TOKEN, base_url=server.base_url, request=request) as bot:
                delivery = DeliveryEngine(service, bot, content, settings, clock)
                while True:
                    await delivery.run_once()
                    passes += 1
                    counts = await service.counts()
                    if not counts["pending"] and not counts["sending"]:
                        break
                    clock.advance(timedelta(minutes=30))  # retries' backoff has elapsed
            seconds = loop.time() - started
            server.clear_faults()
            served = Counter(fault_name(f.fault) for f in server.faults_served)
            result = await tally(engine, server, learners)
            calls = len(server.calls("sendMessage"))
    finally:
        await engine.dispose()
    return FaultRun(result, seconds, passes, calls, served)
