"""Injected time: code asks a Clock for `now()` so schedules, DST and catch-up are testable."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Current time, aware, in UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (tests and the sandbox)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The simulated current time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by delta and return the new time."""
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to an absolute (aware) time."""
        if when.tzinfo is None:
            raise ValueError("FakeClock.set needs an aware datetime")
        self._now = when.astimezone(UTC)
        return self._now


class Interval:
    """Says when `seconds` have passed since it last said so (on a monotonic clock): what is
    written behind, in batches, is written at most that often."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self._monotonic = seconds, monotonic
        self._last = monotonic()

    def due(self) -> bool:
        """True (and the interval starts again) when `seconds` have passed."""
        now = self._monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now
        return True

    def restart(self) -> None:
        """Start the interval again now (a batch was just written)."""
        self._last = self._monotonic()
