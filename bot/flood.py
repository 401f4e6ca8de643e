"""Per-person flood limit: someone sending faster than the limit is told once, then ignored.

Uses the `limits` library's moving window, in memory (per bot process). Other people are never
affected, and /support is never limited (the guard handler checks that before asking here).
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class FloodLimit:
    """Decides whether a person's update is handled, and whether to tell them they are limited."""

    def __init__(self, rate: str) -> None:
        self._item: RateLimitItem = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._told: set[int] = set()

    def allow(self, user_id: int) -> bool:
        """Count this update; False when the person is over the limit."""
        allowed = self._limiter.hit(self._item, str(user_id))
        if allowed:
            self._told.discard(user_id)
        return allowed

    def should_tell(self, user_id: int) -> bool:
        """True once per limited spell: the first refused update gets a reply, the rest none."""
        if user_id in self._told:
            return False
        self._told.add(user_id)
        return True
