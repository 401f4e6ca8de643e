"""What the certificate service returns: whether the course is finished, and the record itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class NotFinished:
    """/certificate before the last lesson: how many lessons are still to come."""

    lessons_left: int  # lessons not yet reached, counting the last one if it is still open
    lessons_total: int


@dataclass(frozen=True, slots=True)
class CertificateOptions:
    """The choices offered before making the certificate (finished learners only)."""

    team_name: str | None  # the name the learner gave their newest cohort, if any
    reflected_lessons: int  # lessons with a reflection, so the option can say how many
    checks_mastered: int


@dataclass(frozen=True, slots=True)
class CompletedLesson:
    """A lesson completed (Done pressed), on the learner's local date."""

    title: str
    done_on: date


@dataclass(frozen=True, slots=True)
class ThemeRecord:
    """One learning theme: its lessons completed, and checks mastered (only when chosen)."""

    title: str
    lessons: int
    completed: int
    mastered: int


@dataclass(frozen=True, slots=True)
class LearningRecord:
    """The facts on a certificate and in its CPD summary, from what the bot records.

    `reflected` and `mastered` are None unless the learner chose to include them; `reflected`
    holds lesson titles only, never what was written.
    """

    course_title: str
    lessons_total: int
    completed: tuple[CompletedLesson, ...]  # in course order
    minutes_per_lesson: int | None
    themes: tuple[ThemeRecord, ...]
    issued_on: date
    reflected: tuple[str, ...] | None = None
    mastered: int | None = None  # lessons whose knowledge check is mastered

    @property
    def minutes(self) -> int | None:
        """Learning time as counted: the course's minutes per lesson times lessons completed."""
        if self.minutes_per_lesson is None:
            return None
        return self.minutes_per_lesson * len(self.completed)
