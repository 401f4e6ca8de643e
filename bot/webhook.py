"""Webhook mode: Telegram POSTs updates to us instead of us polling.

Our own small aiohttp endpoint (not PTB's built-in server) so the secret token is compared in
constant time and the presented value is never logged. A request without the right
`X-Telegram-Bot-Api-Secret-Token` header gets 403 and is not processed. Anyone can send those,
so they are counted and logged as a summary at most once a minute, not one line each.

Telegram is answered once the update has been handled (within `ANSWER_WITHIN_SECONDS`), not as
soon as it is queued. Telegram's Bot API server keeps one queue per chat (and one per person for
button presses and inline queries) and sends a queue's next update only after a 2xx for the one
before (tdlib/telegram-bot-api, WebhookActor), so answering after handling keeps a chat's updates
in order even when several bot processes share the URL, and an update a process took but never
finished (it was killed) is sent again rather than lost; the update-id record
(bot/services/updates.py) makes that second delivery change nothing if the first had.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update

from bot.app import ALLOWED_UPDATES, BotApplication, started
from bot.incoming import IncomingBot, parse_update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_UPDATE_BYTES = 1024 * 1024
# Telegram's server gives up on an answer after about a minute and sends the update again.
ANSWER_WITHIN_SECONDS = 30.0
# On SIGTERM, updates being handled get this long to finish; Telegram resends the rest.
SHUTDOWN_SECONDS = 10.0
SUMMARY_SECONDS = 60.0
Seconds = Callable[[], float]


class RefusalSummary:
    """Counts refused requests; logs the first at once, then a count at most once a minute."""

    def __init__(self, now: Seconds, every: float = SUMMARY_SECONDS) -> None:
        self._now = now
        self._every = every
        self._count = 0
        self._since: float | None = None  # when the last line was logged

    def refused(self) -> None:
        """Count one refused request; log the count when a minute has passed since the last."""
        self._count += 1
        if self._since is None or self._now() - self._since >= self._every:
            self.flush()

    def flush(self) -> None:
        """Log what was counted since the last line (nothing when nothing was)."""
        if not self._count:
            return
        now = self._now()
        window = f" in the last {now - self._since:.0f} s" if self._since is not None else ""
        log.warning("webhook requests refused (wrong secret token): %d%s", self._count, window)
        self._count, self._since = 0, now


async def handled(application: BotApplication, update: Update, *, within: float) -> None:
    """Handle the update in its person's turn (the update processor, as for long polling) and
    return when it is done, or after `within` seconds while it carries on."""
    processor = application.update_processor
    task = application.create_task(
        processor.process_update(update, application.process_update(update)), update=update
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), within)


def webhook_app(
    application: BotApplication,
    path: str,
    secret: str,
    refusals: RefusalSummary,
    answer_within: float = ANSWER_WITHIN_SECONDS,
) -> web.Application:
    """The aiohttp app that accepts Telegram's POSTs on `path`."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        presented = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(presented, expected):
            refusals.refused()
            return web.Response(status=403)
        try:
            data = json.loads(await request.read())
        except ValueError:
            log.warning("webhook request refused: not JSON")
            return web.Response(status=400)
        # An update the flood limit ignores, or the library cannot parse, is acknowledged (200)
        # and skipped (the latter logged by id and type only): refusing it would make Telegram
        # send it again and again.
        bot = application.bot
        update = await bot.admit(data) if isinstance(bot, IncomingBot) else parse_update(data, bot)
        if update is not None:
            await handled(application, update, within=answer_within)
        return web.Response(status=200)

    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app.router.add_post(path, receive)
    return app


@contextlib.asynccontextmanager
async def webhook_server(
    application: BotApplication,
    *,
    path: str,
    secret: str,
    host: str,
    port: int,
    now: Seconds = time.monotonic,
    answer_within: float = ANSWER_WITHIN_SECONDS,
) -> AsyncIterator[int]:
    """Serve the webhook endpoint; yields the bound port."""
    refusals = RefusalSummary(now)
    runner = web.AppRunner(
        webhook_app(application, path, secret, refusals, answer_within),
        access_log=None,
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
        refusals.flush()


async def run_webhook(
    application: BotApplication,
    *,
    url: str,
    secret: str,
    host: str,
    port: int,
    max_connections: int = 40,
) -> None:
    """Register the webhook with Telegram and serve it until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    path = urlsplit(url).path or "/"
    async with (
        started(application),
        webhook_server(application, path=path, secret=secret, host=host, port=port),
    ):
        await application.bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            max_connections=max_connections,  # for all processes behind the URL together
        )
        log.info("webhook mode: listening on %s:%s", host, port)
        await stop.wait()
    log.info("stopped")
