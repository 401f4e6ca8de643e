"""Per-person flood limit: someone sending faster than the limit is told once, then ignored.

Uses the `limits` library's moving window. An update is counted when it *arrives* (`arrive`,
called by `IncomingBot.admit` before the update waits behind the person's earlier ones), not when
its turn comes: replies to one chat are paced at about one a second, so counting at the turn would
let a burst of 1,000 through, one a second, for a quarter of an hour. An update it will ignore is
dropped there and then, before it is even parsed (bot/incoming.py); the guard asks `verdict` for
the decision on the rest. `/support` counts like anything else, except that a person's first
`/support` in any window is always answered, even when they are over the limit.

Where it counts (`FLOOD_STORAGE_URL`):

- `memory://` (the default): in this process only. The check writes nothing anywhere and starts
  nothing, so a flood costs a dictionary look-up per update. (`LocalWindows` keeps the windows;
  the library's own in-memory storage is not used because it starts a timer thread to expire old
  hits on nearly every hit, about 1 ms of CPU each.)
- `redis://host:port/db`: in Redis, shared by every bot process behind one webhook URL, through the
  library's asyncio Redis storage (so the event loop never waits on a socket). The "told once"
  mark is shared too, so a person is told once whichever process refuses them. This process keeps
  a mirror of the hits Redis accepted from it: once the mirror alone reaches the limit the person
  is over it everywhere, so the rest of a flood is refused here without asking Redis (a flood of
  1,000 costs about as many Redis round trips as the limit lets through, per process).

Redis unreachable (refused, timed out): it fails open and degrades safely. The first failure is
logged once; then this process counts on its own (the mirror) for `RETRY_SECONDS` before asking
Redis again, so a person can get up to the limit once per process in that time, and their first
`/support` a window always gets through. Nothing here ever raises for the storage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from enum import Enum

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as SharedWindow
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

_MAX_WAITING = 100_000
MEMORY = "memory://"
# A Redis call waits at most this long (connect or answer); an arrival never waits longer.
REDIS_TIMEOUT_SECONDS = 0.25
# After a failure this process counts alone for this long before asking Redis again.
RETRY_SECONDS = 10.0
_UNREACHABLE = (StorageError, RedisError, OSError, TimeoutError)
_MAX_PEOPLE = 10_000  # windows kept before the quiet ones are forgotten


class MovingWindow:
    """At most `amount` hits in any `seconds` per key; a refused hit does not count."""

    def __init__(self, amount: int, seconds: float, now: Callable[[], float]) -> None:
        self.amount, self.seconds, self._now = amount, seconds, now
        self._hits: dict[Hashable, deque[float]] = {}

    def test(self, key: Hashable) -> bool:
        """True when a hit for `key` now would be accepted (nothing is counted)."""
        hits = self._hits.get(key)
        return not hits or len(hits) < self.amount or self._now() - hits[0] >= self.seconds

    def hit(self, key: Hashable) -> bool:
        """Count a hit for `key` now; False (and not counted) when its window is full."""
        now = self._now()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= _MAX_PEOPLE:
                self._forget_quiet(now)
            hits = self._hits[key] = deque(maxlen=self.amount)
        if len(hits) == self.amount and now - hits[0] < self.seconds:
            return False
        hits.append(now)  # the oldest falls out of the full deque
        return True

    def clear(self, key: Hashable) -> None:
        """Forget the key's hits."""
        self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)

    def _forget_quiet(self, now: float) -> None:
        self._hits = {k: h for k, h in self._hits.items() if now - h[-1] < self.seconds}


class LocalWindows:
    """The `limits` moving-window calls used here (test, hit, clear), in this process's memory,
    one `MovingWindow` per rate."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._windows: dict[tuple[int, int], MovingWindow] = {}

    def window(self, item: RateLimitItem) -> MovingWindow:
        """The window that counts hits at this rate."""
        key = (item.amount, item.get_expiry())
        if key not in self._windows:
            self._windows[key] = MovingWindow(item.amount, item.get_expiry(), self._now)
        return self._windows[key]

    def test(self, item: RateLimitItem, *ids: str) -> bool:
        """True when a hit now would be accepted."""
        return self.window(item).test(ids)

    def hit(self, item: RateLimitItem, *ids: str) -> bool:
        """Count a hit; False (not counted) when the window is full."""
        return self.window(item).hit(ids)

    def clear(self, item: RateLimitItem, *ids: str) -> None:
        """Forget the hits."""
        self.window(item).clear(ids)


class Verdict(Enum):
    """What becomes of an update: handled, answered with "slow down" (once a spell), or ignored."""

    HANDLE = "handle"
    TELL = "tell"
    IGNORE = "ignore"


class SharedCounts:
    """The moving windows in Redis, shared by every process; None from a call means unreachable
    (logged once per outage, then not asked again for `RETRY_SECONDS`)."""

    def __init__(self, url: str, *, now: Callable[[], float] = time.monotonic) -> None:
        # No retries: a down Redis must cost an arrival one short timeout, not seconds of backoff.
        self._pool = ConnectionPool.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        storage = RedisStorage(
            f"async+{url}",
            implementation="redispy",
            connection_pool=self._pool,  # type: ignore[arg-type]
            wrap_exceptions=True,
            key_prefix="flood",
        )
        self._window = SharedWindow(storage)
        self._now = now
        self._down_until: float | None = None

    def usable(self) -> bool:
        """False while this process is counting alone after a failure."""
        return self._down_until is None or self._now() >= self._down_until

    async def hit(self, item: RateLimitItem, *ids: str) -> bool | None:
        """Count a hit; None when Redis did not answer."""
        try:
            async with asyncio.timeout(2 * REDIS_TIMEOUT_SECONDS):
                accepted = await self._window.hit(item, *ids)
        except _UNREACHABLE as exc:
            self._failed(exc)
            return None
        self._answered()
        return accepted

    async def clear(self, item: RateLimitItem, *ids: str) -> None:
        """Forget a window (best effort)."""
        try:
            async with asyncio.timeout(2 * REDIS_TIMEOUT_SECONDS):
                await self._window.clear(item, *ids)
        except _UNREACHABLE as exc:
            self._failed(exc)

    async def close(self) -> None:
        """Close the connections to Redis."""
        await self._pool.aclose()

    def _failed(self, exc: BaseException) -> None:
        if self._down_until is None:  # once per outage; never the URL (it may hold a password)
            log.warning(
                "flood limit storage unreachable (%s): counting in this process alone until it "
                "answers (asking again every %.0f s)",
                type(exc.__cause__ or exc).__name__,
                RETRY_SECONDS,
            )
        self._down_until = self._now() + RETRY_SECONDS

    def _answered(self) -> None:
        if self._down_until is not None:
            log.warning("flood limit storage answering again: counting is shared once more")
            self._down_until = None


class FloodLimit:
    """Decides whether a person's update is handled, and whether to tell them they are limited."""

    def __init__(
        self, rate: str, storage_url: str = MEMORY, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._item: RateLimitItem = parse(rate)
        window = self._item.get_expiry()
        # One /support per window gets through whatever else the person sent.
        self._support: RateLimitItem = parse(f"1/{window} seconds")
        # Told once a spell: the mark outlives any spell (one ends within a window of the last
        # update let through) and is cleared when the person is let through again.
        self._told: RateLimitItem = parse(f"1/{window} seconds")
        self._here = LocalWindows(now)
        self._shared = None if storage_url == MEMORY else SharedCounts(storage_url)
        self._decided: dict[int, Verdict] = {}  # update id -> verdict on arrival

    def people(self) -> int:
        """How many people's windows this process keeps in memory."""
        return len(self._here.window(self._item))

    @property
    def shared(self) -> bool:
        """True when the counts are shared with other processes (through Redis)."""
        return self._shared is not None

    async def arrive(self, update_id: int, user_id: int, *, support: bool = False) -> Verdict:
        """Count an update as it arrives; the verdict is kept for `verdict` unless it is IGNORE
        (an ignored update goes no further)."""
        if len(self._decided) > _MAX_WAITING:  # bounded, even if a verdict is never asked for
            self._decided.clear()
        decided = await self._decide(user_id, support)
        if decided is not Verdict.IGNORE:
            self._decided[update_id] = decided
        return decided

    async def verdict(self, update_id: int, user_id: int, *, support: bool = False) -> Verdict:
        """The verdict given when this update arrived (decided now if it was not counted then)."""
        return self._decided.pop(update_id, None) or await self._decide(user_id, support)

    def refused(self, update_id: int) -> bool:
        """True when this update arrived over the limit (it is only told to slow down)."""
        return self._decided.get(update_id) is Verdict.TELL

    async def close(self) -> None:
        """Release the shared storage's connections (nothing to do in memory)."""
        if self._shared is not None:
            await self._shared.close()

    async def _decide(self, user_id: int, support: bool) -> Verdict:
        if await self.allow(user_id, support=support):
            return Verdict.HANDLE
        told = await self._hit(self._told, str(user_id), "told", remember_refusal=True)
        return Verdict.TELL if told else Verdict.IGNORE

    async def allow(self, user_id: int, *, support: bool = False) -> bool:
        """Count this update; False when the person is over the limit."""
        person = str(user_id)
        if await self._hit(self._item, person):
            if not self._here.test(self._told, person, "told"):  # a spell ends: a new one is told
                self._here.clear(self._told, person, "told")
                if self._shared is not None and self._shared.usable():
                    await self._shared.clear(self._told, person, "told")
            return True
        return support and await self._hit(self._support, person, "support")

    async def _hit(self, item: RateLimitItem, *ids: str, remember_refusal: bool = False) -> bool:
        """One hit, counted in the shared storage when there is one (mirrored here), else here.

        The mirror holds only hits the shared storage accepted, so when it alone is full the
        person is over the limit everywhere and Redis need not be asked. `remember_refusal`
        (for a limit of one, the "told" mark) fills the mirror when the shared storage refuses.
        """
        if not self._here.test(item, *ids):
            return False
        if self._shared is not None and self._shared.usable():
            accepted = await self._shared.hit(item, *ids)
            if accepted is not None:
                if accepted or remember_refusal:
                    self._here.hit(item, *ids)
                return accepted
        return self._here.hit(item, *ids)
