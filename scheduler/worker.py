"""A delivery-only process: the engine without update polling, to scale out on one PostgreSQL.

Telegram lets exactly one process poll for a bot's updates (`python -m bot run`); every other
process sharing the database can still deliver lessons. Claims and leases skip rows another
process holds, so each lesson goes out once whichever process sends it. Give each process its
share of the rate budget (`DELIVERY_RATE_PER_SECOND`): the limit is per process.

Run: `python -m scheduler.worker` (same environment as the bot). SIGTERM stops it gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from bot.config import Settings, SettingsError, load_settings
from bot.content.schema import Content
from bot.core.clock import Clock, SystemClock
from bot.db.engine import create_engine, create_sessions
from bot.incoming import CountedRequest
from bot.logs import configure_logging
from bot.monitoring import Monitor
from bot.services.outbox.service import DeliveryService
from bot.telegram_http import ClosesClientsIfStartFails
from bot.views.checks import load_course
from scheduler.engine import DeliveryEngine
from scheduler.render import OutboxRenderer

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings,
    clock: Clock,
    stop: asyncio.Event,
    *,
    content: Content | None = None,
    token: str | None = None,
) -> None:
    """Tick every DELIVERY_TICK_SECONDS and send what is due until `stop` is set."""
    content = content or load_course(settings.lessons_dir, settings.support_file)
    secret = token or (
        settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else None
    )
    if not secret:
        raise ValueError("a bot token is needed to deliver lessons")
    engine = create_engine(settings.database_url)
    service = DeliveryService(create_sessions(engine), clock, content, settings)
    try:
        request = CountedRequest(connection_pool_size=256)  # counts Bot API calls for /metrics
        async with ClosesClientsIfStartFails(
            secret, base_url=settings.telegram_api_base_url, request=request
        ) as bot:
            delivery = DeliveryEngine(
                service, bot, content, settings, clock, render=OutboxRenderer(content)
            )
            # /healthz and /metrics when METRICS_PORT is set (bot/monitoring.py).
            monitor = Monitor(
                delivery.probe(), host=settings.metrics_listen, port=settings.metrics_port
            )
            async with monitor:
                log.info("delivery worker started")
                while not stop.is_set():
                    await delivery.on_tick()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), settings.delivery_tick_seconds)
                await delivery.stop()
    finally:
        await engine.dispose()
    log.info("delivery worker stopped")


def main() -> int:
    """Entry point for `python -m scheduler.worker`."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    configure_logging(settings.log_level, secrets=[token], fmt=settings.log_format)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, SystemClock(), stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
