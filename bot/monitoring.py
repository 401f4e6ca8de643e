"""/healthz and /metrics: a small aiohttp server on its own port, for the people who run the bot.

Off unless METRICS_PORT is set; it listens on METRICS_LISTEN (127.0.0.1 by default: put it on
another address only on a network you trust, as neither endpoint asks who is calling). The bot
(polling and webhook mode alike) starts it in `post_init`, and `python -m scheduler.worker` around
its loop; it runs in the same asyncio loop, and every request awaits the database, never blocks.

- `GET /healthz`: 200 and a small JSON body when the process is healthy; 503 and the reasons
  when the database does not answer, the delivery tick has not run for a while, or the oldest
  due delivery has waited more than an hour.
- `GET /metrics`: Prometheus text format (bot.metrics), the outbox gauges read afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from bot import metrics
from bot.services.outbox.types import Backlog

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 5.0  # seconds: a database slower than this counts as not answering
# The tick is late when it has not finished for three intervals (and at least this long).
MIN_TICK_LATE_SECONDS = 90.0
# A due delivery waiting longer than this means sending is stuck (a morning's backlog for ten
# thousand learners at 25 a second takes under ten minutes).
BACKLOG_LATE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Probe:
    """What the endpoints read: the outbox backlog (reading it proves the database answers) and
    when the delivery tick last finished (event-loop time, None before the first)."""

    backlog: Callable[[], Awaitable[Backlog]]
    last_tick: Callable[[], float | None]
    tick_seconds: float


async def _read_backlog(probe: Probe) -> Backlog | None:
    """The backlog, or None when the database does not answer in time (recorded as a metric)."""
    try:
        found = await asyncio.wait_for(probe.backlog(), DATABASE_TIMEOUT)
    except Exception as exc:  # any failure to read means the database is not usable
        log.warning("health: the database did not answer (%s)", type(exc).__name__)
        metrics.backlog(None, None)
        return None
    metrics.backlog(found.pending, found.oldest_seconds)
    return found


async def health(probe: Probe, started: float) -> tuple[bool, dict[str, Any]]:
    """Healthy or not, and the JSON body saying why (counts and seconds only)."""
    now = asyncio.get_running_loop().time()
    problems: list[str] = []
    found = await _read_backlog(probe)
    body: dict[str, Any] = {"database": "ok" if found is not None else "unreachable"}
    if found is None:
        problems.append("the database does not answer")
    else:
        body["outbox_backlog"] = found.pending
        body["oldest_pending_seconds"] = round(found.oldest_seconds)
        if found.oldest_seconds > BACKLOG_LATE_SECONDS:
            problems.append(f"a due delivery has waited {found.oldest_seconds:.0f} s")
    last = probe.last_tick()
    since = now - (last if last is not None else started)
    body["last_tick_seconds_ago"] = round(since, 1) if last is not None else None
    late = max(3 * probe.tick_seconds, MIN_TICK_LATE_SECONDS)
    if since > late:
        problems.append(f"no delivery tick has finished for {since:.0f} s")
    body["status"] = "unhealthy" if problems else "ok"
    if problems:
        body["problems"] = problems
    return not problems, body


def monitoring_app(probe: Probe) -> web.Application:
    """The aiohttp app serving /healthz and /metrics."""
    started = asyncio.get_running_loop().time()

    async def healthz(request: web.Request) -> web.Response:
        healthy, body = await health(probe, started)
        return web.json_response(body, status=200 if healthy else 503)

    async def scrape(request: web.Request) -> web.Response:
        await _read_backlog(probe)
        response = web.Response(body=generate_latest(REGISTRY))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
    return app


class Monitor:
    """The server for one process: `start` (a no-op when no port is configured) and `stop`."""

    def __init__(self, probe: Probe, *, host: str, port: int | None) -> None:
        self._probe, self._host, self._wanted = probe, host, port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # the bound port while serving

    async def start(self) -> None:
        """Listen on host:port (0: a free port); nothing when no port is configured."""
        if self._wanted is None or self._runner is not None:
            return
        runner = web.AppRunner(monitoring_app(self._probe), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._wanted).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner, self.port = runner, int(runner.addresses[0][1])
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self._host, self.port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner, self.port = None, None

    async def __aenter__(self) -> Monitor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
