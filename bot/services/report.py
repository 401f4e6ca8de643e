"""The programme report for admins (issue 16): across all cohorts and self-enrolled learners.

Enrolments, completions, the median time to complete, each lesson's completions, skips, "I need
a moment" and check mastery (never per person), and confidence before, after and six weeks later
per statement. Every figure is aggregated in the database or from per-lesson counts, then passed
through one rule (`_figure`): a figure that stands for fewer than K people is SUPPRESSED, count
and value alike. Where two shown parts add up to a shown whole (in a cohort + self-enrolled =
enrolled), both parts are suppressed when either is, so neither can be worked out from the other.

A service: one transaction, admins only (NotAvailable for anyone else); no telegram here.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.states import ConfidencePhase
from bot.db.models import CheckAnswer, CohortMember, ConfidenceAnswer, LessonProgress, Subscription
from bot.results.confidence import PHASE_NAMES, SUPPRESSED, K
from bot.results.report import Cell, ProgrammeReport, ReportRow
from bot.services.base import TeamService

ENROLMENT, COMPLETION, LESSONS, CONFIDENCE = "enrolment", "completion", "lessons", "confidence"
SECTIONS = (ENROLMENT, COMPLETION, LESSONS, CONFIDENCE)


def _figure(
    section: str, item: str, measure: str, people: int, value: Cell | None = None
) -> ReportRow:
    """One row under the k rule: a count (value None) or a figure over `people` people."""
    if people < K:
        return ReportRow(section, item, measure, SUPPRESSED, SUPPRESSED)
    return ReportRow(section, item, measure, people, people if value is None else value)


class ReportService(TeamService):
    """The admin's programme report."""

    async def programme(self, caller: int) -> ProgrammeReport:
        """Every figure of the programme report; NotAvailable unless the caller is an admin."""
        self._access.require_admin(caller)
        async with self._sessions.begin() as session:
            rows = [
                *await self._enrolment(session),
                *await self._completion(session),
                *await self._lessons(session),
                *await self._confidence(session),
            ]
        return ProgrammeReport(self._clock.now(), self._content.course.title, tuple(rows))

    async def _enrolment(self, session: AsyncSession) -> list[ReportRow]:
        enrolled = int(await session.scalar(select(func.count()).select_from(Subscription)) or 0)
        in_cohort = int(
            await session.scalar(
                select(func.count(distinct(CohortMember.learner_id))).join(
                    Subscription, Subscription.learner_id == CohortMember.learner_id
                )
            )
            or 0
        )
        alone = enrolled - in_cohort
        rows = [_figure(ENROLMENT, "all learners", "enrolled (people)", enrolled)]
        if min(in_cohort, alone) < K:  # one part would give the other away
            in_cohort = alone = 0
        rows += [
            _figure(ENROLMENT, "in a team cohort", "enrolled (people)", in_cohort),
            _figure(ENROLMENT, "self-enrolled", "enrolled (people)", alone),
        ]
        return rows

    async def _completion(self, session: AsyncSession) -> list[ReportRow]:
        """Who reached the end (the last lesson done or skipped) and how long it took them, from
        their first lesson delivered, in days."""
        last = self._content.lessons[-1].id if self._content.lessons else None
        p = LessonProgress
        finished = (
            select(
                p.learner_id,
                func.min(func.coalesce(p.done_at, p.skipped_at)).label("finished_at"),
            )
            .where(p.lesson_id == last, func.coalesce(p.done_at, p.skipped_at).is_not(None))
            .group_by(p.learner_id)
            .subquery()
        )
        started = (
            select(p.learner_id, func.min(p.delivered_at).label("started_at"))
            .group_by(p.learner_id)
            .subquery()
        )
        rows = (
            await session.execute(
                select(started.c.started_at, finished.c.finished_at).join(
                    finished, finished.c.learner_id == started.c.learner_id
                )
            )
        ).all()
        days = [
            max(0.0, (_aware(end) - _aware(begin)).total_seconds() / 86400) for begin, end in rows
        ]
        median = round(statistics.median(days), 1) if days else 0.0
        return [
            _figure(COMPLETION, "whole course", "reached the end (people)", len(days)),
            _figure(
                COMPLETION,
                "whole course",
                "median days from first lesson to end",
                len(days),
                median,
            ),
        ]

    async def _lessons(self, session: AsyncSession) -> list[ReportRow]:
        p = LessonProgress
        counts = {
            row.lesson_id: row
            for row in (
                await session.execute(
                    select(
                        p.lesson_id,
                        func.count(distinct(p.learner_id)).label("delivered"),
                        func.count(distinct(case((p.done_at.is_not(None), p.learner_id)))).label(
                            "done"
                        ),
                        func.count(distinct(case((p.skipped_at.is_not(None), p.learner_id)))).label(
                            "skipped"
                        ),
                        func.count(distinct(case((p.moment_at.is_not(None), p.learner_id)))).label(
                            "moment"
                        ),
                    ).group_by(p.lesson_id)
                )
            ).all()
        }
        a = CheckAnswer
        first_ids = (
            select(func.min(a.id).label("id"))
            .where(a.is_review.is_(False))
            .group_by(a.learner_id, a.lesson_id)
            .subquery()
        )
        first = {
            lesson_id: (int(answered), int(right or 0))
            for lesson_id, answered, right in (
                await session.execute(
                    select(a.lesson_id, func.count(), func.sum(case((a.correct, 1), else_=0)))
                    .join(first_ids, first_ids.c.id == a.id)
                    .group_by(a.lesson_id)
                )
            ).all()
        }
        mastered = {
            lesson_id: int(n)
            for lesson_id, n in (
                await session.execute(
                    select(a.lesson_id, func.count(distinct(a.learner_id)))
                    .where(a.correct)
                    .group_by(a.lesson_id)
                )
            ).all()
        }
        rows: list[ReportRow] = []
        for index, lesson in enumerate(self._content.lessons, start=1):
            item = f"{index:02d} {lesson.title}"
            found = counts.get(lesson.id)
            delivered, done, skipped, moment = (
                (found.delivered, found.done, found.skipped, found.moment)
                if found
                else (0, 0, 0, 0)
            )
            answered, right = first.get(lesson.id, (0, 0))
            rows += [
                _figure(LESSONS, item, "sent or opened (people)", int(delivered)),
                _figure(LESSONS, item, "done (people)", int(done)),
                _figure(LESSONS, item, "skipped (people)", int(skipped)),
                _figure(LESSONS, item, '"I need a moment" (people)', int(moment)),
                _figure(LESSONS, item, "answered the check (people)", answered),
                _figure(
                    LESSONS,
                    item,
                    "right first time (%)",
                    answered,
                    round(100 * right / answered, 1) if answered else 0.0,
                ),
                _figure(LESSONS, item, "mastered the check (people)", mastered.get(lesson.id, 0)),
            ]
        return rows

    async def _confidence(self, session: AsyncSession) -> list[ReportRow]:
        confidence = self._content.confidence
        if confidence is None:
            return []
        c = ConfidenceAnswer
        rated: dict[tuple[str, str], tuple[int, int]] = {}
        for phase, statement_id, n, total in (
            await session.execute(
                select(c.phase, c.statement_id, func.count(c.rating), func.sum(c.rating)).group_by(
                    c.phase, c.statement_id
                )
            )
        ).all():
            rated[(phase, statement_id)] = (int(n), int(total or 0))
        declined: dict[tuple[str, str], int] = defaultdict(int)
        for phase, statement_id, n in (
            await session.execute(
                select(c.phase, c.statement_id, func.count())
                .where(c.rating.is_(None))
                .group_by(c.phase, c.statement_id)
            )
        ).all():
            declined[(phase, statement_id)] = int(n)
        before, after = aliased(ConfidenceAnswer), aliased(ConfidenceAnswer)
        paired: dict[tuple[str, str], tuple[int, int]] = {}
        for phase, statement_id, n, change in (
            await session.execute(
                select(
                    after.phase,
                    after.statement_id,
                    func.count(),
                    func.sum(after.rating - before.rating),
                )
                .join(
                    before,
                    and_(
                        before.learner_id == after.learner_id,
                        before.statement_id == after.statement_id,
                        before.phase == ConfidencePhase.START,
                    ),
                )
                .where(
                    after.phase.in_([ConfidencePhase.END, ConfidencePhase.FOLLOW_UP]),
                    after.rating.is_not(None),
                    before.rating.is_not(None),
                )
                .group_by(after.phase, after.statement_id)
            )
        ).all():
            paired[(phase, statement_id)] = (int(n), int(change or 0))
        rows: list[ReportRow] = []
        for statement in confidence.statements:
            item = statement.short
            for phase in ConfidencePhase:
                name = PHASE_NAMES[phase].lower()
                n, total = rated.get((phase, statement.id), (0, 0))
                rows.append(
                    _figure(
                        CONFIDENCE,
                        item,
                        f"mean rating 1-5, {name}",
                        n,
                        round(total / n, 2) if n else 0.0,
                    )
                )
                rows.append(
                    _figure(
                        CONFIDENCE,
                        item,
                        f'"prefer not to say", {name} (people)',
                        declined[(phase, statement.id)],
                    )
                )
            for phase in (ConfidencePhase.END, ConfidencePhase.FOLLOW_UP):
                n, change = paired.get((phase, statement.id), (0, 0))
                rows.append(
                    _figure(
                        CONFIDENCE,
                        item,
                        f"mean change from the start, {PHASE_NAMES[phase].lower()}",
                        n,
                        round(change / n, 2) if n else 0.0,
                    )
                )
        return rows


def _aware(moment: datetime) -> datetime:
    """A timestamp from an aggregate as an aware UTC datetime (SQLite may hand it back naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
