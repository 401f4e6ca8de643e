"""Per-person flood limit: someone sending faster than the limit is told once, then ignored.

A moving window per person, in memory (per bot process): the check writes nothing to the database
and starts nothing, so a flood costs no more than a dictionary look-up; other people are never
affected. (The `limits` library parses the rate; its in-memory storage is not used because it
starts a timer thread to expire old hits on nearly every hit, about 1 ms of CPU each.)
An update is counted when it *arrives* (`arrive`, called by the update processor before the update
waits behind the person's earlier ones), not when its turn comes: replies to one chat are paced at
about one a second, so counting at the turn would let a burst of 1,000 through, one a second, for a
quarter of an hour. An update it will ignore is dropped there and then, before it is even parsed
(bot/incoming.py), so a flood costs a dictionary look-up per update; the guard asks `verdict` for
the decision on the rest. `/support` counts like anything else, except that a person's first
`/support` in any window is always answered, even when they are over the limit.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from enum import Enum

from limits import parse

_MAX_WAITING = 100_000
_MAX_PEOPLE = 10_000  # windows kept before the quiet ones are forgotten


class MovingWindow:
    """At most `amount` hits in any `seconds` per key; a refused hit does not count."""

    def __init__(self, amount: int, seconds: float, now: Callable[[], float]) -> None:
        self.amount, self.seconds, self._now = amount, seconds, now
        self._hits: dict[Hashable, deque[float]] = {}

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

    def __len__(self) -> int:
        return len(self._hits)

    def _forget_quiet(self, now: float) -> None:
        self._hits = {k: h for k, h in self._hits.items() if now - h[-1] < self.seconds}


class Verdict(Enum):
    """What becomes of an update: handled, answered with "slow down" (once a spell), or ignored."""

    HANDLE = "handle"
    TELL = "tell"
    IGNORE = "ignore"


class FloodLimit:
    """Decides whether a person's update is handled, and whether to tell them they are limited."""

    def __init__(self, rate: str, *, now: Callable[[], float] = time.monotonic) -> None:
        item = parse(rate)
        self._window = MovingWindow(item.amount, item.get_expiry(), now)
        # One /support per window gets through whatever else the person sent.
        self._support = MovingWindow(1, item.get_expiry(), now)
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
        if self._window.hit(user_id):
            self._told.discard(user_id)  # under the limit again: a new spell would be told
            return True
        return support and self._support.hit(user_id)

    def people(self) -> int:
        """How many people's windows are kept in memory."""
        return len(self._window)

    def _should_tell(self, user_id: int) -> bool:
        """True once per limited spell: the first refused update gets a reply, the rest none."""
        if user_id in self._told:
            return False
        self._told.add(user_id)
        return True
