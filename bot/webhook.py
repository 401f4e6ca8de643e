"""Webhook mode: Telegram POSTs updates to us instead of us polling.

Our own small aiohttp endpoint (not PTB's built-in server) so the secret token is compared in
constant time and the presented value is never logged. A request without the right
`X-Telegram-Bot-Api-Secret-Token` header gets 403 and is not processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web

from bot.app import ALLOWED_UPDATES, BotApplication, started
from bot.incoming import parse_update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_UPDATE_BYTES = 1024 * 1024


def webhook_app(application: BotApplication, path: str, secret: str) -> web.Application:
    """The aiohttp app that accepts Telegram's POSTs on `path`."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        presented = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(presented, expected):
            log.warning("webhook request refused: missing or wrong secret token")
            return web.Response(status=403)
        try:
            data = json.loads(await request.read())
        except ValueError:
            log.warning("webhook request refused: not JSON")
            return web.Response(status=400)
        # An update the library cannot parse is acknowledged (200) and skipped, by id and type
        # only: refusing it would make Telegram send it again and again.
        update = parse_update(data, application.bot)
        if update is not None:
            await application.update_queue.put(update)
        return web.Response(status=200)

    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app.router.add_post(path, receive)
    return app


@contextlib.asynccontextmanager
async def webhook_server(
    application: BotApplication, *, path: str, secret: str, host: str, port: int
) -> AsyncIterator[int]:
    """Serve the webhook endpoint; yields the bound port."""
    runner = web.AppRunner(webhook_app(application, path, secret), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def run_webhook(
    application: BotApplication, *, url: str, secret: str, host: str, port: int
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
            url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
        )
        log.info("webhook mode: listening on %s:%s", host, port)
        await stop.wait()
    log.info("stopped")
