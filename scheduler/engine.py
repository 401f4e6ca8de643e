"""The delivery engine: a repeating JobQueue tick claims who is due; a bounded sender drains.

PTB's JobQueue only triggers the tick; the database is the source of truth (see `bot.delivery`).
Each tick reaps rows whose worker died mid-send, claims every due subscription into the outbox in
batches, and makes sure a drain is running. The drain leases exactly what the rate limit and the
concurrency bound let it send right now, sends those concurrently, records their outcomes in
batches, and repeats until nothing is ready.

Several processes may run an engine against one PostgreSQL database (only one of them polls
Telegram for updates): claims and leases skip rows another process holds, so each delivery is
made by exactly one of them. The global rate limit is per process, so give each process its share
(`DELIVERY_RATE_PER_SECOND`).

Stopping (SIGTERM): `stop()` stops claiming and leasing, waits a bounded time for sends in
flight, then records what it knows: a send cut short before its request started goes back to
pending, one cut short during its request is uncertain.

This module never imports sqlalchemy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from typing import Any

from telegram import Bot
from telegram.ext import Job, JobQueue

from bot.clock import Clock
from bot.config import Settings
from bot.content import Content
from bot.delivery import CLAIM_BATCH, DeliveryService, OutboxItem, Outcome, Result
from scheduler.sender import LessonRenderer, Pause, RateLimiter, Renderer, Sender, SendPolicy

log = logging.getLogger(__name__)

TICK_JOB_NAME = "delivery-tick"
DEFAULT_LEASE_SECONDS = 60.0  # > the longest a send can take (timeouts + one fallback)
DEFAULT_STOP_SECONDS = 10.0
MAX_LEASE_BATCH = 500


def default_concurrency(rate: float) -> int:
    """Sends in flight: enough for the rate at ~0.5 s Telegram latency, within PTB's pool."""
    return max(4, min(200, math.ceil(rate / 2)))


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
            render or LessonRenderer(content),
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

    # --- wiring ----------------------------------------------------------------------------------

    def start(self, job_queue: JobQueue[Any] | None) -> None:
        """Register the repeating tick (from post_init); a no-op without a JobQueue."""
        if job_queue is None:
            log.warning("no JobQueue: scheduled lessons will not be delivered")
            return
        self._stopping = False
        self._job = job_queue.run_repeating(
            self._tick_job,
            interval=self.settings.delivery_tick_seconds,
            first=1.0,
            name=TICK_JOB_NAME,
            job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )

    async def _tick_job(self, context: Any) -> None:
        del context
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

    # --- the work --------------------------------------------------------------------------------

    async def tick(self) -> int:
        """Reap dead workers' leases and claim every due subscription; returns how many."""
        await self.service.reap_expired_leases()
        claimed = 0
        while not self._stopping:
            count = await self.service.claim_due(self.claim_batch)
            claimed += count
            if count < self.claim_batch:
                break
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
        in_flight: dict[asyncio.Task[Outcome], OutboxItem] = {}
        outcomes: list[Outcome] = []
        handled = 0
        low_water = max(1, self.concurrency // 4)
        minimum = max(1, min(low_water, int(self.rate / 10)))
        try:
            while not self._stopping:
                if outcomes:
                    batch, outcomes = outcomes, []
                    await self._record(batch)
                if self.pause.remaining() > 0:
                    await self._wait_some(in_flight, outcomes, at_most=self.pause.remaining())
                    continue
                free = self.concurrency - len(in_flight)
                if free < low_water and in_flight:
                    await self._wait_some(in_flight, outcomes)
                    continue
                wanted = min(free, MAX_LEASE_BATCH)
                granted = await self.limiter.acquire(wanted, minimum)
                items = await self.service.lease_batch(granted, self.lease_seconds)
                self.limiter.refund(granted - len(items))
                if not items:
                    if not in_flight:
                        break
                    await self._wait_some(in_flight, outcomes)
                    continue
                handled += len(items)
                for item in items:
                    task = asyncio.create_task(self.sender.send(item))
                    in_flight[task] = item
        finally:
            await self._finish(in_flight, outcomes)
        return handled

    async def _wait_some(
        self,
        in_flight: dict[asyncio.Task[Outcome], OutboxItem],
        outcomes: list[Outcome],
        at_most: float | None = None,
    ) -> None:
        """Wait until at least one send finishes (or `at_most` seconds); collect outcomes."""
        if not in_flight:
            if at_most:
                await asyncio.sleep(at_most)
            return
        done, _ = await asyncio.wait(
            in_flight, timeout=at_most, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            outcomes.append(self._outcome(task, in_flight.pop(task)))

    def _outcome(self, task: asyncio.Task[Outcome], item: OutboxItem) -> Outcome:
        started = item.delivery_id in self.sender.started
        self.sender.started.discard(item.delivery_id)
        if task.cancelled():
            if started:
                return Outcome(item, Result.UNCERTAIN, error="stopped while sending")
            return Outcome(item, Result.RELEASE, error="stopped before sending")
        exc = task.exception()
        if exc is not None:  # a bug in the sender: do not guess whether it was sent
            log.error("delivery %s: unexpected error", item.delivery_id, exc_info=exc)
            result = Result.UNCERTAIN if started else Result.RELEASE
            return Outcome(item, result, error=f"internal error: {type(exc).__name__}")
        outcome = task.result()
        if outcome.result is Result.SENT:
            self.sent_total += 1
        return outcome

    async def _finish(
        self, in_flight: dict[asyncio.Task[Outcome], OutboxItem], outcomes: list[Outcome]
    ) -> None:
        """Wait for sends in flight (bounded when stopping), then record every outcome."""
        if in_flight:
            timeout = self._stop_seconds if self._stopping else None
            done, pending = await asyncio.wait(in_flight, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
            for task in [*done, *pending]:
                outcomes.append(self._outcome(task, in_flight.pop(task)))
        if outcomes:
            await self._record(outcomes)

    async def _record(self, outcomes: list[Outcome]) -> None:
        try:
            await self.service.record_outcomes(outcomes)
        except Exception:
            # The rows stay `sending`; the reaper marks them uncertain when their lease expires,
            # so nothing is sent twice.
            log.exception("could not record %d delivery outcomes", len(outcomes))
            raise

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
