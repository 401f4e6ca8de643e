"""The outbox's vocabulary and the plain values it hands out: no sqlalchemy here.

The module-level names are the vocabulary of `bot.core.states`, kept short for the queries.
`OutboxItem`, `Outcome` and `Result` are what the sender and the renderers see; `NewDelivery`
is what another service asks `enqueue` for; `UncertainDelivery` and `DeliveryCounts` are what
/today, health checks and the benchmark read. A view or the scheduler can import any of them
without loading the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from bot.core.pattern import Pattern, waking
from bot.core.states import DeliveryKind, DeliveryStatus, SubscriptionState

LESSON = DeliveryKind.LESSON
REFLECTION = DeliveryKind.REFLECTION
REMINDER = DeliveryKind.REMINDER
PAUSE_NOTE = DeliveryKind.PAUSE_NOTE
NUDGE = DeliveryKind.NUDGE

PENDING = DeliveryStatus.PENDING
SENDING = DeliveryStatus.SENDING
SENT = DeliveryStatus.SENT
UNCERTAIN = DeliveryStatus.UNCERTAIN
FAILED = DeliveryStatus.FAILED
CANCELLED = DeliveryStatus.CANCELLED
SKIPPED = DeliveryStatus.SKIPPED

ACTIVE = SubscriptionState.ACTIVE
PAUSED = SubscriptionState.PAUSED
FINISHED = SubscriptionState.FINISHED
INACTIVE = SubscriptionState.INACTIVE
STOPPED = SubscriptionState.STOPPED
# States whose queued rows are still sent (a finished learner's last lesson was claimed before
# the course ended).
SENDABLE_STATES = frozenset({ACTIVE, FINISHED})
# Rows that stand for "this local date had its delivery" (a date is never delivered twice).
DATE_TAKEN = frozenset({SENT, SENDING, UNCERTAIN, FAILED, PENDING})
# Terminal states of a lesson row, after which that day's reflection row is decided.
LESSON_DONE = (SENT, UNCERTAIN, FAILED, CANCELLED, SKIPPED)

# Lessons left unopened in a row before the bot pauses itself (kindly, with how to resume).
UNOPENED_PAUSE_AFTER = 3

MAX_ERROR_CHARS = 200
CLAIM_BATCH = 5000  # subscriptions per claim transaction (keeps SQLite's write lock short)
IN_CHUNK = 5000  # ids per IN (...) list (SQLite and asyncpg both allow 32k parameters)


class Result(StrEnum):
    """What the sender learnt about one leased row."""

    SENT = "sent"  # Telegram accepted it: message id known
    UNCERTAIN = "uncertain"  # it may or may not have arrived (read timeout): never resent
    RETRY = "retry"  # certainly not sent (connect error, 5xx): pending again at retry_at
    RELEASE = "release"  # never attempted (429 pause, shutdown): pending, attempt not counted
    FAILED = "failed"  # gave up (a 400 after the plain-text fallback, attempts exhausted)
    DEACTIVATE = "deactivate"  # 403 / chat not found: the learner is unreachable


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One leased row, as the sender needs it (a plain value, never an ORM row)."""

    delivery_id: int
    subscription_id: int
    learner_id: int
    chat_id: int
    kind: str
    local_date: date
    lesson_id: str | None
    course_run: int
    attempts: int  # including the attempt this lease is for
    due_at: datetime
    # A lesson carrying another that may not have arrived, offered below it (marked offered
    # when this one is sent): see `DeliveryService.take_uncertain_offer`.
    offer: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of sending one item, recorded in batches by `record_outcomes`."""

    item: OutboxItem
    result: Result
    message_id: int | None = None
    error_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    # For FAILED: True when the failure says nothing about the lesson (e.g. the network stayed
    # down through every attempt), so the learner gets it with their next slot instead.
    give_back: bool = False


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An outbox row to queue (a claimed lesson, a reminder, a lead's nudge): see `enqueue`."""

    subscription_id: int
    chat_id: int
    kind: DeliveryKind
    local_date: date
    due_at: datetime
    lesson_id: str | None = None


@dataclass(frozen=True, slots=True)
class UncertainDelivery:
    """A send that may not have arrived: /today offers it again."""

    delivery_id: int
    kind: str
    lesson_id: str | None
    local_date: date
    due_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Rows by status (for the sandbox, health checks and the benchmark)."""

    by_status: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits to be sent: pending rows due now, and how long the oldest has waited."""

    pending: int
    oldest_seconds: float  # 0 when nothing is waiting


@dataclass(frozen=True, slots=True)
class CourseOrder:
    """The course's lesson ids in order and each one's place, for moving a learner's place."""

    ids: tuple[str, ...]
    position: dict[str, int]

    @classmethod
    def of(cls, lesson_ids: Iterable[str]) -> CourseOrder:
        """The order of these lesson ids."""
        ids = tuple(lesson_ids)
        return cls(ids, {lesson_id: index for index, lesson_id in enumerate(ids)})


def reminder_time(
    remind_at: datetime, pattern: Pattern, tz: str, next_lesson_at: datetime | None
) -> datetime | None:
    """When a lesson's reminder goes: `remind_at`, or the end of the learner's quiet hours it
    falls in; None when that is at or after their next lesson (it belongs to that lesson's day)."""
    at = waking(remind_at, pattern, tz)
    if next_lesson_at is not None and at >= next_lesson_at:
        return None
    return at
