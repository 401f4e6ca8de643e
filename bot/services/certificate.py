"""The learner's record of learning: whether the course is finished, and the facts for the
certificate and its CPD summary, all from what the bot records.

Only the learner's own rows are read. Reflections are never decrypted here: the certificate can
name the lessons a learner reflected on (if they choose), never what they wrote. Nothing about
the certificate is stored; the name on it is chosen each time and never kept.

A service: each public method is one transaction and returns plain dataclasses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import SubscriptionState
from bot.db.models import CohortMember, Learner, LessonProgress, Reflection, Subscription
from bot.results.certificate import (
    CertificateOptions,
    CompletedLesson,
    LearningRecord,
    NotFinished,
    ThemeRecord,
)
from bot.services.base import CourseService
from bot.services.learners import learner_by_telegram_id
from bot.services.learning import mastered_checks, zone_or_default


class CertificateService(CourseService):
    """/certificate: finished or not, the options, and the learning record."""

    async def options(self, telegram_user_id: int) -> CertificateOptions | NotFinished | None:
        """What can go on the certificate, or how many lessons are left; None: not a learner."""
        async with self._sessions.begin() as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is None:
                return None
            learner.last_active_at = self._clock.now()
            left = await self._not_finished(session, learner)
            if left is not None:
                return left
            team_name = await session.scalar(
                select(CohortMember.display_name)
                .where(CohortMember.learner_id == learner.id)
                .order_by(CohortMember.joined_at.desc(), CohortMember.id.desc())
                .limit(1)
            )
            return CertificateOptions(
                team_name=team_name,
                reflected_lessons=len(await self._reflected(session, learner.id)),
                checks_mastered=len(await mastered_checks(session, learner.id, self._course)),
            )

    async def record(
        self, telegram_user_id: int, *, reflected: bool, mastered: bool
    ) -> LearningRecord | NotFinished | None:
        """The facts for the certificate (with the parts the learner chose), and the end of a
        waiting name step; NotFinished before the last lesson, None when not a learner."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is None:
                return None
            learner.last_active_at = now
            left = await self._not_finished(session, learner)
            if left is not None:
                return left
            sub = await self._subscription(session, learner)
            tz = zone_or_default(sub.timezone if sub is not None else None)
            first_done: dict[str, datetime] = {}
            rows = await session.execute(
                select(LessonProgress.lesson_id, LessonProgress.done_at).where(
                    LessonProgress.learner_id == learner.id, LessonProgress.done_at.is_not(None)
                )
            )
            for lesson_id, done_at in rows:
                if lesson_id in self._course and done_at is not None:
                    first_done[lesson_id] = min(done_at, first_done.get(lesson_id, done_at))
            lessons = self._content.lessons
            completed = tuple(
                CompletedLesson(lesson.title, first_done[lesson.id].astimezone(tz).date())
                for lesson in lessons
                if lesson.id in first_done
            )
            checks = await mastered_checks(session, learner.id, self._course)
            themes = tuple(
                ThemeRecord(
                    title=theme.title,
                    lessons=len(theme.lessons),
                    completed=sum(1 for lesson in theme.lessons if lesson in first_done),
                    mastered=sum(1 for lesson in theme.lessons if lesson in checks),
                )
                for theme in self._content.course.themes
            )
            titles: tuple[str, ...] | None = None
            if reflected:
                ids = await self._reflected(session, learner.id)
                titles = tuple(lesson.title for lesson in lessons if lesson.id in ids)
            return LearningRecord(
                course_title=self._content.course.title,
                lessons_total=len(lessons),
                completed=completed,
                minutes_per_lesson=self._content.course.minutes_per_lesson,
                themes=themes,
                issued_on=now.astimezone(tz).date(),
                reflected=titles,
                mastered=len(checks) if mastered else None,
            )

    # --- internals --------------------------------------------------------------------------------

    @staticmethod
    async def _subscription(session: AsyncSession, learner: Learner) -> Subscription | None:
        sub: Subscription | None = await session.scalar(
            select(Subscription).where(Subscription.learner_id == learner.id)
        )
        return sub

    async def _not_finished(self, session: AsyncSession, learner: Learner) -> NotFinished | None:
        """None once the last lesson was done or skipped (in any run), else lessons left."""
        lessons = self._content.lessons
        last = lessons[-1].id
        closed = await session.scalar(
            select(LessonProgress.id)
            .where(
                LessonProgress.learner_id == learner.id,
                LessonProgress.lesson_id == last,
                (LessonProgress.done_at.is_not(None)) | (LessonProgress.skipped_at.is_not(None)),
            )
            .limit(1)
        )
        sub = await self._subscription(session, learner)
        if closed is not None or (sub is not None and sub.state == SubscriptionState.FINISHED):
            return None
        place = sub.last_lesson_id if sub is not None else None
        reached = (
            self._content.lesson_index(place) + 1
            if place is not None and place in self._course
            else 0
        )
        # The last lesson reached but still open counts as one to go.
        return NotFinished(lessons_left=max(len(lessons) - reached, 1), lessons_total=len(lessons))

    async def _reflected(self, session: AsyncSession, learner_id: int) -> set[str]:
        """Ids of the course's lessons the learner wrote a reflection on (never the text)."""
        ids = await session.scalars(
            select(Reflection.lesson_id)
            .where(Reflection.learner_id == learner_id, Reflection.lesson_id.is_not(None))
            .distinct()
        )
        return {lesson for lesson in ids if lesson in self._course}
