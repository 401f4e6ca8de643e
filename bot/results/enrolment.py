"""What the enrolment service returns: a learner's schedule and subscription, as views see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from bot.core.pattern import Pattern


@dataclass(frozen=True, slots=True)
class Schedule:
    """When lessons come: local time, IANA timezone, days (bit 0 = Monday) and the rest."""

    delivery_time: time
    timezone: str
    days: int
    reflection_time: time | None  # None: the reflective prompt comes with the lesson
    reminders: bool
    # The shift pattern the days and time above are part of (bot.core.pattern): fixed days, a
    # rota (whose own times replace delivery_time and days), or ask each week; and quiet hours.
    pattern: Pattern


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A learner's subscription as handlers and views may see it."""

    learner_id: int
    state: str
    schedule: Schedule
    # When the next daily lesson comes: the stored slot when active, what it would be when in
    # setup or paused until a date; None when none is coming (stopped, finished, paused open-ended).
    next_lesson_at: datetime | None
    paused_until: datetime | None
    last_lesson_id: str | None
    course_run: int
    lessons_had: int  # lessons delivered in this run
    lessons_done: int = 0  # of those, the ones the learner marked done


@dataclass(frozen=True, slots=True)
class LessonResult:
    """A lesson to show now (lesson_id), or None with the enrolment saying why."""

    enrolment: Enrolment
    lesson_id: str | None = None
