"""Fault injection for the fake Telegram server: the faults it can serve (429, 403, 400, 5xx, late
answers, dropped connections), the record of each fault served, and the mixin that decides which
call gets one (per method, per chat, or at random from a seed).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from bot.sandbox.fake_telegram.records import JSON


@dataclass(frozen=True, slots=True)
class TooManyRequests:
    """429 with ``parameters.retry_after`` (PTB raises RetryAfter)."""

    retry_after: int = 1


@dataclass(frozen=True, slots=True)
class Forbidden:
    """403, e.g. the user blocked the bot (PTB raises Forbidden)."""

    description: str = "Forbidden: bot was blocked by the user"


@dataclass(frozen=True, slots=True)
class BadRequest:
    """400 with an arbitrary description (PTB raises BadRequest)."""

    description: str = "Bad Request: chat not found"


@dataclass(frozen=True, slots=True)
class ServerError:
    """A 5xx answer (PTB raises NetworkError)."""

    status: int = 502
    description: str = "Bad Gateway"


@dataclass(frozen=True, slots=True)
class Delay:
    """Process the call, then answer only after ``seconds``: the uncertain read-timeout case."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Drop the connection without processing the call (PTB raises NetworkError)."""


Fault: TypeAlias = TooManyRequests | Forbidden | BadRequest | ServerError | Delay | Disconnect


@dataclass(frozen=True, slots=True)
class ServedFault:
    """An injected fault that was served."""

    method: str
    chat_id: int | str | None
    fault: Fault


@dataclass(slots=True)
class _Injection:
    method: str | None
    chat_id: int | None
    remaining: int | None
    fault: Fault


class FaultInjection:
    """The fault-injection part of FakeBotAPI: ``inject``, ``fail_ratio``, ``clear_faults``."""

    def __init__(self) -> None:
        self.faults_served: list[ServedFault] = []
        self._injections: list[_Injection] = []
        self._random: tuple[float, random.Random, tuple[Fault, ...], frozenset[str] | None] | None
        self._random = None

    def inject(
        self,
        method: str | None = None,
        *,
        chat_id: int | None = None,
        times: int | None = 1,
        fault: Fault,
    ) -> None:
        """Serve ``fault`` to the next ``times`` matching calls (None: until cleared).

        ``method=None`` matches every method except getUpdates (name it to fault polling).
        """
        self._injections.append(_Injection(method, chat_id, times, fault))

    def fail_ratio(
        self,
        ratio: float,
        seed: int,
        *,
        faults: Sequence[Fault] | None = None,
        methods: Sequence[str] | None = None,
    ) -> None:
        """Fail about ``ratio`` of calls at random (reproducibly from ``seed``).

        By default only calls addressed to a chat are eligible, and the faults are 429, 502 and
        a dropped connection. ``ratio=0`` switches it off.
        """
        if ratio <= 0:
            self._random = None
            return
        chosen = tuple(faults or (TooManyRequests(1), ServerError(502), Disconnect()))
        names = frozenset(m.lower() for m in methods) if methods is not None else None
        self._random = (ratio, random.Random(seed), chosen, names)  # noqa: S311 - not crypto

    def clear_faults(self) -> None:
        """Forget every injected and random fault."""
        self._injections.clear()
        self._random = None

    def _take_fault(self, method: str, chat_id: int | str | None) -> Fault | None:
        for injection in self._injections:
            if injection.method is None and method == "getupdates":
                continue
            if injection.method is not None and injection.method.lower() != method:
                continue
            if injection.chat_id is not None and injection.chat_id != chat_id:
                continue
            if injection.remaining is not None:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
            return injection.fault
        if self._random is not None:
            ratio, rng, faults, names = self._random
            eligible = method in names if names is not None else chat_id is not None
            if eligible and rng.random() < ratio:
                return rng.choice(faults)
        return None


def fault_error(fault: Fault) -> tuple[int, str, JSON | None] | None:
    """The error (code, description, parameters) a fault answers in place of the call; None for
    Delay and Disconnect, which are not answers."""
    if isinstance(fault, TooManyRequests):
        return (
            429,
            f"Too Many Requests: retry after {fault.retry_after}",
            {"retry_after": fault.retry_after},
        )
    if isinstance(fault, Forbidden):
        return 403, fault.description, None
    if isinstance(fault, BadRequest):
        return 400, fault.description, None
    if isinstance(fault, ServerError):
        return fault.status, fault.description, None
    return None
