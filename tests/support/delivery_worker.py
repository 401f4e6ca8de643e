"""A delivery worker process for the kill tests.

Run as `python -m tests.support.delivery_worker URL BASE_URL`.

Runs one engine pass (tick + drain) against the given database and Bot API, on the real clock.
With `--die-after-claim` it claims the due subscriptions and then kills itself with SIGKILL, as a
crash between the tick and the sender would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from telegram import Bot

from bot.config import Settings
from bot.core.clock import SystemClock
from bot.db.engine import create_engine, create_sessions
from bot.services.outbox.service import DeliveryService
from bot.telegram_http import AiohttpRequest
from scheduler.engine import DeliveryEngine
from scheduler.sender import SendPolicy
from tests.support.factories import make_content

TOKEN = "123456:TEST-token"


async def main(database_url: str, base_url: str, rate: float, die_after_claim: bool) -> int:
    settings = Settings(_env_file=None, delivery_rate_per_second=rate)  # type: ignore[call-arg]
    content = make_content(3)
    engine = create_engine(database_url)
    clock = SystemClock()
    service = DeliveryService(create_sessions(engine), clock, content, settings)
    if die_after_claim:
        claimed = await service.claim_due()
        print(f"claimed {claimed}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    bot = Bot(TOKEN, base_url=base_url, request=AiohttpRequest(connection_pool_size=64))
    async with bot:
        delivery = DeliveryEngine(
            service, bot, content, settings, clock, policy=SendPolicy(per_chat_interval=0.05)
        )
        print("draining", flush=True)
        handled = await delivery.run_once()
    await engine.dispose()
    print(f"handled {handled}", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("base_url")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--die-after-claim", action="store_true")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.database_url, args.base_url, args.rate, args.die_after_claim)))
