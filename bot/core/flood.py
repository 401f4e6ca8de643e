"""Per-person flood limit: someone sending faster than the limit is told once, then ignored.

Uses the `limits` library's moving window, in memory (per bot process): the check writes nothing to
the database, so a flood costs no more than a dictionary look-up. Other people are never affected.
An update is counted when it *arrives* (`arrive`, called by the update processor before the update
waits behind the person's earlier ones), not when its turn comes: replies to one chat are paced at
about one a second, so counting at the turn would let a burst of 1,000 through, one a second, for a
quarter of an hour. An update it will ignore is dropped there and then, before it is even parsed
(bot/incoming.py), so a flood costs a dictionary look-up per update; the guard asks `verdict` for
the decision on the rest. `/support` counts like anything else, except that a person's first
`/support` in any window is always answered, even when they are over the limit.
"""

from __future__ import annotations

from enum import Enum

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

_MAX_WAITING = 100_000


class Verdict(Enum):
    """What becomes of an update: handled, answered with "slow down" (once a spell), or ignored."""

    HANDLE = "handle"
    TELL = "tell"
    IGNORE = "ignore"


class FloodLimit:
    """Decides whether a person's update is handled, and whether to tell them they are limited."""

    def __init__(self, rate: str) -> None:
        self._item: RateLimitItem = parse(rate)
        # One /support per window gets through whatever else the person sent.
        self._support: RateLimitItem = parse(f"1/{self._item.get_expiry()} seconds")
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._told: set[int] = set()
        self._decided: dict[int, Verdict] = {}  # update id -> verdict on arrival

    def arrive(self, update_id: int, user_id: int, *, support: bool = False) -> Verdict:
        """Count an update as it arrives; the verdict is kept for `verdict` unless it is IGNORE
        (an ignored update goes no further)."""
        if len(self._decided) > _MAX_WAITING:  # bounded, even if a verdict is never asked for
            self._decided.clear()
        decided = self._decide(user_id, support)
        if decided is not Verdict.IGNORE:
            self._decided[update_id] = decided
        return decided

    def verdict(self, update_id: int, user_id: int, *, support: bool = False) -> Verdict:
        """The verdict given when this update arrived (decided now if it was not counted then)."""
        return self._decided.pop(update_id, None) or self._decide(user_id, support)

    def refused(self, update_id: int) -> bool:
        """True when this update arrived over the limit (it is only told to slow down)."""
        return self._decided.get(update_id) is Verdict.TELL

    def _decide(self, user_id: int, support: bool) -> Verdict:
        if self.allow(user_id, support=support):
            return Verdict.HANDLE
        return Verdict.TELL if self._should_tell(user_id) else Verdict.IGNORE

    def allow(self, user_id: int, *, support: bool = False) -> bool:
        """Count this update; False when the person is over the limit."""
        if self._limiter.hit(self._item, str(user_id)):
            self._told.discard(user_id)  # under the limit again: a new spell would be told
            return True
        return support and self._limiter.hit(self._support, str(user_id), "support")

    def _should_tell(self, user_id: int) -> bool:
        """True once per limited spell: the first refused update gets a reply, the rest none."""
        if user_id in self._told:
            return False
        self._told.add(user_id)
        return True
