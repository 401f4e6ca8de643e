"""The delivery engine: a repeating JobQueue tick claims who is due; a bounded sender drains.

PTB's JobQueue only triggers the tick; the database is the source of truth (see
`bot.services.outbox`). Each tick reaps rows whose worker died mid-send, claims every due
subscription into the outbox in batches, and makes sure a drain is running. The drain keeps
`concurrency` workers sending from a small buffer of leased rows (at most half a second of sends,
taken as rate-limit tokens allow); one transaction per batch records the finished sends and leases
the next ones, until nothing is ready.

Several processes may run an engine against one PostgreSQL database (only one of them polls
Telegram for updates): claims and leases skip rows another process holds, so each delivery is made
by exactly one of them. The global rate limit is per process, so give each process its share
(`DELIVERY_RATE_PER_SECOND`).

Stopping (SIGTERM): `stop()` stops claiming and leasing, waits a bounded time for sends in flight,
then records what it knows: a send cut short before its request started goes back to pending, one
cut short during its request is uncertain.

This module never imports sqlalchemy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import deque
from typing import Any

from telegram import Bot
from telegram.ext import Job, JobQueue

from bot import metrics
from bot.config import Settings
from bot.content.schema import Content
from bot.core.clock import Clock
from bot.monitoring import Probe
from bot.services.outbox.service import DeliveryService
from bot.services.outbox.types import CLAIM_BATCH, OutboxItem, Outcome, Result
from scheduler.render import OutboxRenderer, Renderer
from scheduler.repeat import repeat
from scheduler.sender import Pause, RateLimiter, Sender, SendPolicy

log = logging.getLogger(__name__)

TICK_JOB_NAME = "delivery-tick"
DEFAULT_LEASE_SECONDS = 60.0  # > the longest a send can take (timeouts + one fallback)
DEFAULT_STOP_SECONDS = 10.0
# Leased items waiting for a worker: what the workers start in BUFFER_SECONDS at their current
# throughput, at most BUFFER_FACTOR x concurrency. Refilled at half, so each database round trip
# records and leases a batch whose fixed cost is a small fraction of the Telegram calls'.
BUFFER_FACTOR = 8
BUFFER_SECONDS = 0.5
# Attempts for a row whose send raised unexpectedly (a bug, such as a view that raises) before
# its request started. Such a bug rarely fixes itself, so retrying longer only repeats the
# traceback; three leave room for a one-off glitch, then the row is failed and logged once.
MAX_UNEXPECTED_ATTEMPTS = 3
# How each final result is counted in the metrics (a retry or a release is not final).
METRIC_OUTCOMES = {
    Result.SENT: "sent",
    Result.UNCERTAIN: "uncertain",
    Result.FAILED: "failed",
    Result.DEACTIVATE: "deactivated",
}


def default_concurrency(rate: float) -> int:
    """Sends in flight: the rate at ~200 ms Telegram latency, 8 to 100 (PTB's pool has 256)."""
    return max(8, min(100, math.ceil(rate * 0.2)))


class DeliveryEngine:
    """Tick + drain, driven by PTB's JobQueue in production and by `run_once()` in the sandbox."""

    def __init__(
        self,
        service: DeliveryService,
        bot: Bot,
        content: Content,
        settings: Settings,
        clock: Clock,
        *,
        concurrency: int | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        claim_batch: int = CLAIM_BATCH,
        policy: SendPolicy | None = None,
        render: Renderer | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.rate = settings.delivery_rate_per_second
        self.concurrency = concurrency or default_concurrency(self.rate)
        self.lease_seconds = lease_seconds
        self.claim_batch = claim_batch
        self.limiter = RateLimiter(self.rate)
        self.pause = Pause()
        self.sender = Sender(
            bot,
            render or OutboxRenderer(content),
            clock,
            self.limiter,
            self.pause,
            policy=policy,
            rng=rng,
        )
        self._drain_lock = asyncio.Lock()
        self._drain_task: asyncio.Task[int] | None = None
        self._stopping = False
        self._stop_seconds = DEFAULT_STOP_SECONDS
        self._more = False
        self._job: Job[Any] | None = None
        self.sent_total = 0
        # Event-loop time (monotonic) when a tick last finished; None before the first.
        self.last_tick: float | None = None

    # --- wiring ----------------------------------------------------------------------------------

    def start(self, job_queue: JobQueue[Any] | None) -> None:
        """Register the repeating tick (from post_init); a no-op without a JobQueue."""
        if job_queue is None:
            log.warning("no JobQueue: scheduled lessons will not be delivered")
            return
        self._stopping = False
        self._job = repeat(
            job_queue, TICK_JOB_NAME, self.settings.delivery_tick_seconds, self.on_tick
        )

    async def on_tick(self) -> None:
        """What each tick does: claim what is due, then make sure a drain is sending it."""
        if self._stopping:
            return
        try:
            await self.tick()
        except Exception:
            log.exception("delivery tick failed; the next tick will try again")
            return
        self._ensure_draining()

    def _ensure_draining(self) -> None:
        if self._stopping:
            return
        if self._drain_task is not None and not self._drain_task.done():
            self._more = True  # the running drain looks again before it finishes
            return
        self._drain_task = asyncio.create_task(self._background_drain(), name="delivery-drain")

    async def _background_drain(self) -> int:
        try:
            return await self.drain()
        except Exception:
            log.exception("delivery drain failed; the next tick will try again")
            return 0

    def probe(self) -> Probe:
        """What /healthz and /metrics read about this engine (bot.monitoring)."""
        return Probe(
            backlog=self.service.backlog,
            last_tick=lambda: self.last_tick,
            tick_seconds=self.settings.delivery_tick_seconds,
        )

    # --- the work --------------------------------------------------------------------------------

    async def tick(self) -> int:
        """Reap dead workers' leases and claim every due subscription; returns how many."""
        metrics.delivered("uncertain", await self.service.reap_expired_leases())
        claimed = 0
        while not self._stopping:
            count = await self.service.claim_due(self.claim_batch)
            claimed += count
            if count < self.claim_batch:
                break
        self.last_tick = asyncio.get_running_loop().time()
        metrics.delivery_ticked()
        return claimed

    async def run_once(self) -> int:
        """One tick, then send until nothing is ready (the sandbox calls this after moving time)."""
        await self.tick()
        return await self.drain()

    async def drain(self) -> int:
        """Send until nothing is ready; returns how many items were handled."""
        async with self._drain_lock:
            handled = 0
            while True:
                self._more = False
                handled += await self._drain_pass()
                if not self._more or self._stopping:
                    return handled

    async def _drain_pass(self) -> int:
        return await _Drain(self).run()

    async def _exchange(self, outcomes: list[Outcome], limit: int) -> list[OutboxItem]:
        try:
            items = await self.service.exchange(outcomes, limit, self.lease_seconds)
        except Exception:
            log.exception("could not record %d delivery outcomes", len(outcomes))
            raise
        _count_recorded(outcomes)
        return items

    async def _record(self, outcomes: list[Outcome]) -> None:
        try:
            await self.service.record_outcomes(outcomes)
        except Exception:
            # The rows stay `sending`; the reaper marks them uncertain when their lease expires,
            # so nothing is sent twice.
            log.exception("could not record %d delivery outcomes", len(outcomes))
            raise
        _count_recorded(outcomes)

    def _count(self, outcome: Outcome) -> Outcome:
        if outcome.result is Result.SENT:
            self.sent_total += 1
        return outcome

    # --- stopping --------------------------------------------------------------------------------

    async def stop(self, grace_seconds: float = DEFAULT_STOP_SECONDS) -> None:
        """Stop claiming and leasing; finish or release sends in flight within grace_seconds."""
        self._stopping = True
        self._stop_seconds = grace_seconds
        if self._job is not None:
            # Already gone when the Application stopped its JobQueue first (JobLookupError).
            with contextlib.suppress(LookupError):
                self._job.schedule_removal()
            self._job = None
        task = self._drain_task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), grace_seconds + 1.0)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # A drain started by run_once (not a background task) finishes under the lock.
        async with self._drain_lock:
            pass


def _count_recorded(outcomes: list[Outcome]) -> None:
    """Count the final outcomes just recorded (for /metrics)."""
    for outcome in outcomes:
        if (label := METRIC_OUTCOMES.get(outcome.result)) is not None:
            metrics.delivered(label)


class _Drain:
    """One drain: `concurrency` workers send from a small buffer of leased items.

    Each database round trip records the finished sends and leases the next batch; the workers
    take from the buffer and never wait for the database. The buffer is sized to what the
    workers will start within `BUFFER_SECONDS` at the throughput they are achieving (at least
    the idle workers, at most `BUFFER_FACTOR` x concurrency), and refilled at half, so a batch
    is large when sends flow and nothing is leased ahead when they stall. Under the rate cap
    the feeder leases only as tokens arrive. On a graceful stop buffered items are released
    untouched; if the process is killed they become uncertain, like those on the wire.
    """

    def __init__(self, engine: DeliveryEngine) -> None:
        self.engine = engine
        self.workers = engine.concurrency
        self.size = BUFFER_FACTOR * engine.concurrency
        self.buffer: deque[OutboxItem] = deque()
        self.outcomes: list[Outcome] = []
        self.current: dict[int, OutboxItem] = {}  # worker -> the item it is sending
        self.item_ready = asyncio.Event()
        self.progress = asyncio.Event()
        # A finished send wakes the feeder only when the buffer is at or below this (set by
        # `_wait`): waking it after every send would cost a scheduling round for nothing.
        self.wake_at: float = math.inf
        self.closing = False
        self.completed = 0
        self.throughput = 0.0  # sends finished per second, smoothed

    def _target(self, loop_time: float, mark: tuple[float, int]) -> tuple[int, tuple[float, int]]:
        """How many leased items to hold now; updates the throughput estimate."""
        elapsed = loop_time - mark[0]
        if elapsed >= 0.05:
            rate = (self.completed - mark[1]) / elapsed
            self.throughput = 0.6 * self.throughput + 0.4 * rate
            mark = (loop_time, self.completed)
        idle = self.workers - len(self.current)
        return min(self.size, max(idle, int(self.throughput * BUFFER_SECONDS))), mark

    async def run(self) -> int:
        engine = self.engine
        loop = asyncio.get_running_loop()
        workers = [asyncio.create_task(self._worker(n)) for n in range(self.workers)]
        minimum = max(1, min(self.workers, int(engine.rate / 10)))
        handled = 0
        mark = (loop.time(), 0)
        idle_since_empty = False
        try:
            while not engine._stopping:
                if engine.pause.remaining() > 0:
                    if self.outcomes:
                        await engine._exchange(self._take_outcomes(), 0)
                    await self._wait(engine.pause.remaining())
                    continue
                target, mark = self._target(loop.time(), mark)
                room = target - len(self.buffer)
                if (
                    room <= 0
                    or (self.buffer and room < target // 2)
                    or (idle_since_empty and self.current)
                ):
                    # Enough buffered, all busy, or nothing was ready last time: let sends finish
                    # (until the buffer is down to its refill mark, after every send when idle).
                    if idle_since_empty:
                        await self._wait(0.5)
                    else:
                        await self._wait(1.0, wake_at=target - target // 2)
                    idle_since_empty = False
                    continue
                granted = await engine.limiter.acquire(room, minimum)
                items = await engine._exchange(self._take_outcomes(), granted)
                engine.limiter.refund(granted - len(items))
                if items:
                    handled += len(items)
                    self.buffer.extend(items)
                    self.item_ready.set()
                    continue
                if not self.buffer and not self.current and not self.outcomes:
                    break  # nothing ready, nothing in flight, everything recorded
                idle_since_empty = True
        finally:
            await self._close(workers)
        return handled

    def _take_outcomes(self) -> list[Outcome]:
        taken, self.outcomes = self.outcomes, []
        return taken

    async def _wait(self, at_most: float | None, wake_at: float = math.inf) -> None:
        """Until a worker finishes a send leaving at most `wake_at` items buffered (any send
        by default), or at_most seconds pass."""
        self.wake_at = wake_at
        self.progress.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await self.progress.wait()

    async def _worker(self, number: int) -> None:
        sender = self.engine.sender
        while True:
            while not self.buffer:
                if self.closing:
                    return
                self.item_ready.clear()
                await self.item_ready.wait()
            item = self.buffer.popleft()
            self.current[number] = item
            try:
                outcome = await sender.send(item)
            except Exception as exc:  # a bug in the sender or a renderer
                outcome = self._unexpected(item, exc)
            finally:
                del self.current[number]
                sender.started.discard(item.delivery_id)
            self.outcomes.append(self.engine._count(outcome))
            self.completed += 1
            if len(self.buffer) <= self.wake_at:
                self.progress.set()

    def _unexpected(self, item: OutboxItem, exc: Exception) -> Outcome:
        """An exception instead of an outcome: it counts as an attempt, and is logged once.

        Released uncounted, the row would be leased again at once, forever. If the request had
        started it may have arrived, so it is uncertain (never resent); otherwise it is retried
        at once up to MAX_UNEXPECTED_ATTEMPTS, then failed with one log line and its traceback.
        """
        error = f"internal error: {type(exc).__name__}"
        if item.delivery_id in self.engine.sender.started:
            log.error("delivery %s: unexpected error while sending", item.delivery_id, exc_info=exc)
            return Outcome(item, Result.UNCERTAIN, error=error)
        if item.attempts < MAX_UNEXPECTED_ATTEMPTS:
            return Outcome(item, Result.RETRY, error=error)  # due again now
        log.error(
            "delivery %s failed after %d attempts: unexpected error",
            item.delivery_id,
            item.attempts,
            exc_info=exc,
        )
        return Outcome(item, Result.FAILED, error=error)

    def _interrupted(self, item: OutboxItem, error: str) -> Outcome:
        if item.delivery_id in self.engine.sender.started:
            return Outcome(item, Result.UNCERTAIN, error=error)
        return Outcome(item, Result.RELEASE, error=error)

    async def _close(self, workers: list[asyncio.Task[None]]) -> None:
        """Release what was never started, let sends in flight finish (bounded when stopping)."""
        engine = self.engine
        if engine._stopping:
            self.outcomes += [
                Outcome(item, Result.RELEASE, error="stopped before sending")
                for item in self.buffer
            ]
            self.buffer.clear()
        self.closing = True
        self.item_ready.set()
        timeout = engine._stop_seconds if engine._stopping else None
        _, pending = await asyncio.wait(workers, timeout=timeout)
        if pending:
            # Decide before cancelling: a send whose request had started may have arrived.
            self.outcomes += [
                self._interrupted(item, "stopped while sending") for item in self.current.values()
            ]
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)
        if self.outcomes:
            await engine._record(self._take_outcomes())
