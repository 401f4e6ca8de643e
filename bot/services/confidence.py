"""Confidence before and after (issue 16): the learner's self-assessment and what a lead may see.

A learner rates each statement of `lessons/confidence.yaml` from 1 to 5, or "prefer not to say",
when lessons begin, after the last lesson and once more six weeks after the end (a message queued
in the outbox when they reach the end: `DeliveryKind.CONFIDENCE`). Every part is optional. One row
per (learner, phase, statement): a second press of the same button, or a press on an old message,
changes that answer and never adds another.

A lead sees, per statement, the mean rating at the start and at the end over members who rated it
both times, and only as a *release* (`cohort_confidence`): the first when at least five pairs
exist, the next only when five more have come in. Between releases the figures do not move, so a
member who joins, leaves, finishes or erases their data changes nothing a lead can compare; two
releases differ by at least five people's answers. Answers count up to Monday 00:00 (cohort time),
as every other dashboard figure.

A service: each public method is one transaction; no telegram here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.schedule import local_date
from bot.core.states import ConfidencePhase, DeliveryKind, DeliveryStatus
from bot.db.engine import reading
from bot.db.models import CohortConfidence, ConfidenceAnswer, Delivery, Learner, Subscription
from bot.results.confidence import (
    FOLLOW_UP_AFTER,
    RATINGS,
    RELEASE_STEP,
    ConfidenceChange,
    K,
    MyConfidence,
    Step,
)
from bot.services.base import CourseService
from bot.services.learners import learner_by_telegram_id
from bot.services.outbox.sql import enqueue, insert_ignore
from bot.services.outbox.types import NewDelivery

Answers = dict[str, int | None]


class ConfidenceService(CourseService):
    """The learner's self-assessment: offer, record, show their own, queue the follow-up."""

    @property
    def statement_ids(self) -> tuple[str, ...]:
        """The statements in order (none when the content has no self-assessment)."""
        confidence = self._content.confidence
        return tuple(s.id for s in confidence.statements) if confidence is not None else ()

    async def should_offer(self, telegram_user_id: int, phase: ConfidencePhase) -> bool:
        """True when this learner has not answered anything for this phase yet."""
        if not self.statement_ids:
            return False
        async with reading(self._sessions) as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is None:
                return False
            return not await _answers(session, learner.id, phase)

    async def step(self, telegram_user_id: int, phase: ConfidencePhase) -> Step:
        """Where the learner is in this phase's self-assessment (for Begin)."""
        async with self._sessions.begin() as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is None:
                return Step(phase, None, {}, recorded=False)
            return self._step(phase, await _answers(session, learner.id, phase))

    async def answer(
        self, telegram_user_id: int, phase: ConfidencePhase, statement_id: str, rating: int | None
    ) -> Step:
        """Record one rating (None: prefer not to say), replacing any earlier one for the same
        statement and phase; returns the next statement to rate. ValueError for an unknown
        statement or a rating outside 1-5."""
        if statement_id not in self.statement_ids or (rating is not None and rating not in RATINGS):
            raise ValueError("not a statement or rating of this self-assessment")
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is None:
                return Step(phase, None, {}, recorded=False)
            learner.last_active_at = now
            table = _table(ConfidenceAnswer)
            values = {
                "learner_id": learner.id,
                "phase": str(phase),
                "statement_id": statement_id,
                "rating": rating,
                "answered_at": now,
            }
            # Insert or replace in one statement: two presses at the same moment leave one row.
            await session.execute(
                _upsert(session, table)
                .values(**values)
                .on_conflict_do_update(
                    index_elements=["learner_id", "phase", "statement_id"],
                    set_={"rating": rating, "answered_at": now},
                )
            )
            return self._step(phase, await _answers(session, learner.id, phase))

    async def reached_end(self, telegram_user_id: int) -> bool:
        """The learner finished the last lesson: queue the six-week follow-up (once) and say
        whether to offer the end self-assessment (not answered yet). Only when their place in
        the course is that lesson: the last lesson opened from a card is not the end."""
        if not self.statement_ids or not self._content.lessons:
            return False
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = (
                await session.execute(
                    select(Learner.id, Learner.chat_id, Subscription.id, Subscription.timezone)
                    .join(Subscription, Subscription.learner_id == Learner.id)
                    .where(
                        Learner.telegram_user_id == telegram_user_id,
                        Subscription.last_lesson_id == self._content.lessons[-1].id,
                    )
                )
            ).first()
            if found is None:
                return False
            learner_id, chat_id, subscription_id, timezone = found
            queued = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.subscription_id == subscription_id,
                    Delivery.kind == DeliveryKind.CONFIDENCE,
                )
            )
            if not queued and not await _answers(session, learner_id, ConfidencePhase.FOLLOW_UP):
                due = now + FOLLOW_UP_AFTER
                try:
                    day = local_date(due, timezone)
                except ValueError:
                    day = due.date()
                await enqueue(
                    session,
                    [NewDelivery(subscription_id, chat_id, DeliveryKind.CONFIDENCE, day, due)],
                    now,
                )
            return not await _answers(session, learner_id, ConfidencePhase.END)

    async def mine(self, telegram_user_id: int) -> MyConfidence | None:
        """The learner's own answers, by phase, and when the follow-up is due (None: no learner)."""
        async with self._sessions.begin() as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is None:
                return None
            rows = (
                await session.execute(
                    select(
                        ConfidenceAnswer.phase,
                        ConfidenceAnswer.statement_id,
                        ConfidenceAnswer.rating,
                    ).where(ConfidenceAnswer.learner_id == learner.id)
                )
            ).all()
            follow_up = await session.scalar(
                select(func.min(Delivery.due_at))
                .join(Subscription, Subscription.id == Delivery.subscription_id)
                .where(
                    Subscription.learner_id == learner.id,
                    Delivery.kind == DeliveryKind.CONFIDENCE,
                    Delivery.status == DeliveryStatus.PENDING,
                )
            )
        answers: dict[ConfidencePhase, Answers] = defaultdict(dict)
        for phase_name, statement_id, rating in rows:
            answers[ConfidencePhase(phase_name)][statement_id] = rating
        return MyConfidence(answers=dict(answers), follow_up_due=follow_up)

    def _step(self, phase: ConfidencePhase, answers: Answers) -> Step:
        remaining = [s for s in self.statement_ids if s not in answers]
        return Step(phase, remaining[0] if remaining else None, answers)


async def _answers(session: AsyncSession, learner_id: int, phase: ConfidencePhase) -> Answers:
    rows = await session.execute(
        select(ConfidenceAnswer.statement_id, ConfidenceAnswer.rating).where(
            ConfidenceAnswer.learner_id == learner_id, ConfidenceAnswer.phase == phase
        )
    )
    return {statement_id: rating for statement_id, rating in rows}


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _upsert(session: AsyncSession, table: Table) -> Any:
    """The dialect's INSERT for this table, which can say ON CONFLICT DO UPDATE."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


# --- what a lead may see --------------------------------------------------------------------------


async def cohort_confidence(
    session: AsyncSession,
    cohort_id: int,
    member_learner_ids: Collection[int],
    counted_until: datetime,
    statements: Sequence[tuple[str, str]],
    now: datetime,
) -> tuple[ConfidenceChange, ...]:
    """The cohort's released confidence changes, one per statement that has a release; a new
    release is made (inside the caller's transaction) when the members' pairs up to
    `counted_until` have grown by RELEASE_STEP since the last (the first at K). `statements`
    are (id, short label) pairs in order."""
    pairs: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    if member_learner_ids:
        a = ConfidenceAnswer
        rows = await session.execute(
            select(a.learner_id, a.statement_id, a.phase, a.rating).where(
                a.learner_id.in_(list(member_learner_ids)),
                a.phase.in_([ConfidencePhase.START, ConfidencePhase.END]),
                a.rating.is_not(None),
                a.answered_at < counted_until,
            )
        )
        for learner_id, statement_id, phase, rating in rows:
            pairs[statement_id][learner_id][phase] = rating
    c = CohortConfidence
    latest: dict[str, CohortConfidence] = {}
    for row in await session.scalars(
        select(c).where(c.cohort_id == cohort_id).order_by(c.pairs, c.id)
    ):
        latest[row.statement_id] = row  # the last one wins: the newest release
    changes: list[ConfidenceChange] = []
    for statement_id, label in statements:
        both = [
            ratings
            for ratings in pairs[statement_id].values()
            if ConfidencePhase.START in ratings and ConfidencePhase.END in ratings
        ]
        last = latest.get(statement_id)
        needed = K if last is None else last.pairs + RELEASE_STEP
        if len(both) >= needed:
            await session.execute(
                insert_ignore(session, _table(CohortConfidence)).values(
                    cohort_id=cohort_id,
                    statement_id=statement_id,
                    pairs=len(both),
                    start_total=sum(r[ConfidencePhase.START] for r in both),
                    end_total=sum(r[ConfidencePhase.END] for r in both),
                    released_at=now,
                )
            )
            last = await session.scalar(
                select(c).where(
                    c.cohort_id == cohort_id, c.statement_id == statement_id, c.pairs == len(both)
                )
            )
        if last is not None:
            changes.append(
                ConfidenceChange(
                    statement_id=statement_id,
                    label=label,
                    pairs=last.pairs,
                    start_mean=last.start_total / last.pairs,
                    end_mean=last.end_total / last.pairs,
                    released_on=last.released_at.date(),
                )
            )
    return tuple(changes)
