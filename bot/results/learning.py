"""What the learning service returns: a touched lesson, an answer, a review, a reflection, progress
and the journal, as views see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.core.pattern import Pattern


@dataclass(frozen=True, slots=True)
class Touch:
    """The outcome of pressing Done, Skip or another lesson button."""

    recorded: bool  # False: nobody to record it for (no learner row)
    already: bool = False  # Done/Skip: it had been recorded before
    reviews_waiting: int = 0  # Done: review questions that can ride along now (0-2)
    # Done and Skip on an active subscription: when the next daily lesson comes (UTC), in which
    # timezone and pattern, so the footer can say it in the pattern's words.
    next_lesson_at: datetime | None = None
    timezone: str = "UTC"
    pattern: Pattern | None = None


class ReflectionStop(StrEnum):
    """What a Cancel on a reflection prompt found: the prompt open (now cancelled), the
    reflection on that lesson already saved, or no prompt open at all."""

    CANCELLED = "cancelled"
    ALREADY_SAVED = "already_saved"
    NOTHING_OPEN = "nothing_open"


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """The outcome of answering a check (a lesson's own, or a review)."""

    correct: bool
    recorded: bool
    counted_as_review: bool = False  # it moved a due review on
    comes_back_in_days: int | None = None  # when this check comes back (None: it does not)
    retired: bool = False  # answered right twice in a row: no more reviews of it
    reviews_left_today: int = 0  # further review questions that can follow right now


@dataclass(frozen=True, slots=True)
class ReviewQuestion:
    """The next review question to ask now: its lesson, and its place in today's reviews."""

    lesson_id: str
    number: int  # 1-based among today's reviews
    of: int  # how many reviews today, including those already answered


@dataclass(frozen=True, slots=True)
class SavedReflection:
    """A reflection was stored; `truncated` when the text was longer than can be kept."""

    reflection_id: int
    truncated: bool
    kept_chars: int


@dataclass(frozen=True, slots=True)
class Progress:
    """What /progress shows; nothing here compares the learner with anyone else."""

    state: str | None  # the subscription state; None when not subscribed
    lessons_done: int
    lessons_total: int
    streak_days: int
    checks_mastered: int
    reviews_waiting: int
    reflections: int
    timezone: str
    next_delivery: datetime | None  # in the learner's local time
    paused_until: datetime | None  # in the learner's local time
    # The learner's shift pattern, so the next lesson reads in its words (None: not subscribed).
    pattern: Pattern | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One reflection, decrypted; `text` is None when it cannot be decrypted."""

    reflection_id: int
    written: datetime  # in the learner's local time
    lesson_id: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class JournalPage:
    """A page of the journal, newest first; `page` is 0-based."""

    entries: tuple[JournalEntry, ...]
    page: int
    pages: int
    total: int
