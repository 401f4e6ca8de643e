"""The lead's view of a cohort: the dashboard's aggregates and the CSV roster.

What a lead can ever learn about a member is fixed here and nowhere else (`member_facts`): the
name the member gave, when they joined, how many lessons they had completed by the start of this
week (Monday 00:00, cohort time) and, only with the member's consent, when they were last active.
Every other figure a lead sees is computed from those facts alone, so comparing figures before
and after someone joins or leaves, or on two days, reveals nothing the lead is not shown anyway:

* lessons are counted up to the start of the week, so nothing a member does shows before the
  next Monday, and then only as a weekly count;
* the weekly chart counts a member's lessons only in whole weeks they were in the cohort (the sum
  of the changes in their Monday counts), so a newcomer's history before joining never shows;
* groups under five see the joined count and the lessons completed in total only;
* the confidence change (start -> end per statement) comes from members' self-assessments only
  as a release of five or more pairs, renewed only when five more pairs have come in
  (`bot.services.confidence.cohort_confidence`), so a member leaving or finishing moves nothing;
* nothing is computed from check answers, subscription states (paused, stopped, unreachable) or
  non-consenting members' activity, and a nudge does not say how many it reached.

Reflections, check answers and journal text are never read by the cohort services.

A service: each public method is one transaction and checks the caller owns the cohort.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.schedule import local_date, local_instant, zone
from bot.db.engine import reading
from bot.db.models import CheckAnswer, CohortMember, Learner, LessonProgress, Subscription
from bot.results.cohorts import CHART_WEEKS, INACTIVE_AFTER, SMALL_GROUP, Dashboard, RosterRow
from bot.services.base import TeamService
from bot.services.cohorts.manage import describe_cohort
from bot.services.confidence import cohort_confidence
from bot.services.roles import Access

# --- pure helpers ---------------------------------------------------------------------------------


def completion_buckets(done: Sequence[int], course_length: int) -> tuple[tuple[str, int], ...]:
    """Members by lessons done: none, four quarter bands, and the whole course."""
    if course_length <= 0:
        return ()
    bounds: list[tuple[str, int, int]] = [("0", 0, 0)]
    low = 1
    for quarter in (1, 2, 3):
        high = max(low, math.ceil(course_length * quarter / 4))
        if high >= course_length:
            break
        bounds.append((f"{low}–{high}" if high > low else str(low), low, high))
        low = high + 1
    if low <= course_length - 1:
        upper = course_length - 1
        bounds.append((f"{low}–{upper}" if upper > low else str(low), low, upper))
    bounds.append((f"all {course_length}", course_length, course_length))
    return tuple(
        (label, sum(1 for value in done if low_ <= value <= high_)) for label, low_, high_ in bounds
    )


def week_start(now: datetime, timezone: str) -> datetime:
    """This week's Monday 00:00 in the cohort's timezone, as an instant: lessons count up to it."""
    today = local_date(now, timezone)
    return local_instant(today - timedelta(days=today.weekday()), time(0), timezone)


def first_week(created_at: datetime, timezone: str) -> date:
    """The Monday of a cohort's first whole week: the first Monday 00:00 (cohort time) at or
    after it was made. No member can count in a week before it."""
    day = local_date(created_at, timezone)
    monday = day - timedelta(days=day.weekday())
    while local_instant(monday, time(0), timezone) < created_at:
        monday += timedelta(weeks=1)
    return monday


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: str) -> str:
    """A cell a spreadsheet will show as text: a leading formula character is quoted away."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def roster_csv(rows: Sequence[RosterRow]) -> bytes:
    """The roster as UTF-8 CSV (with a BOM so spreadsheets read names correctly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["display name", "joined", "lessons done by Monday", "last active"])
    for row in rows:
        writer.writerow(
            [
                csv_cell(row.display_name),
                row.joined_on.isoformat(),
                str(row.lessons_done),
                row.last_active.isoformat() if row.last_active else "not shared",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- per-member facts (what a lead may know, computed in one place) ------------------------------


@dataclass(slots=True)
class MemberFacts:
    """One member as the cohort services see them; only some of it ever reaches the lead."""

    id: int
    learner_id: int
    display_name: str
    joined_at: datetime
    show_activity: bool
    subscription_id: int | None
    state: str | None
    timezone: str | None
    chat_id: int
    last_active: datetime
    done: set[str] = field(default_factory=set)


async def member_facts(
    session: AsyncSession, cohort_id: int, counted_until: datetime, course: Collection[str]
) -> list[MemberFacts]:
    """Each member's facts: lessons of the `course` done before `counted_until`, when they were
    last active."""
    rows = (
        await session.execute(
            select(
                CohortMember.id,
                CohortMember.learner_id,
                CohortMember.display_name,
                CohortMember.joined_at,
                CohortMember.show_activity,
                Subscription.id,
                Subscription.state,
                Subscription.timezone,
                Learner.chat_id,
                Learner.last_active_at,
            )
            .join(Learner, Learner.id == CohortMember.learner_id)
            .outerjoin(Subscription, Subscription.learner_id == CohortMember.learner_id)
            .where(CohortMember.cohort_id == cohort_id)
            .order_by(CohortMember.name_key)
        )
    ).all()
    members = [
        MemberFacts(
            id=row[0],
            learner_id=row[1],
            display_name=row[2],
            joined_at=row[3],
            show_activity=row[4],
            subscription_id=row[5],
            state=row[6],
            timezone=row[7],
            chat_id=row[8],
            last_active=max(row[3], row[9]) if row[9] is not None else row[3],
        )
        for row in rows
    ]
    if not members:
        return members
    by_learner = {member.learner_id: member for member in members}
    ids = list(by_learner)
    p = LessonProgress
    progress = await session.execute(
        select(
            p.learner_id,
            p.lesson_id,
            p.done_at,
            func.coalesce(p.done_at, p.opened_at, p.skipped_at),
            p.opened_at,
            p.skipped_at,
        ).where(p.learner_id.in_(ids))
    )
    for learner_id, lesson_id, done_at, _, opened_at, skipped_at in progress:
        member = by_learner[learner_id]
        if done_at is not None and done_at < counted_until and lesson_id in course:
            member.done.add(lesson_id)
        for moment in (done_at, opened_at, skipped_at):
            if moment is not None and moment > member.last_active:
                member.last_active = moment
    answered = await session.execute(
        select(CheckAnswer.learner_id, func.max(CheckAnswer.answered_at))
        .where(CheckAnswer.learner_id.in_(ids))
        .group_by(CheckAnswer.learner_id)
    )
    for learner_id, moment in answered:
        member = by_learner[learner_id]
        if moment is not None and moment > member.last_active:
            member.last_active = moment
    return members


class DashboardService(TeamService):
    """The lead's dashboard and roster: aggregates of the member facts, never more."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        access: Access,
    ) -> None:
        super().__init__(sessions, clock, content, access)
        assessment = content.confidence
        self._statements = (
            tuple((s.id, s.short) for s in assessment.statements) if assessment else ()
        )

    async def dashboard(self, caller: int, cohort_id: int) -> Dashboard:
        """Aggregates for the lead, each a function of the facts the roster shows; small: counts."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id)
            info = await describe_cohort(session, cohort, now)
            until = week_start(now, cohort.timezone)
            members = await member_facts(session, cohort_id, until, self._course)
            length = len(self._content.lessons)
            tz = cohort.timezone
            done = [len(m.done) for m in members]
            base = Dashboard(
                cohort=info,
                joined=len(members),
                lessons_done=sum(done),
                counted_until=local_date(until, cohort.timezone),
                course_length=length,
                small=len(members) < SMALL_GROUP,
            )
            if base.small:
                return base
            inactive = tuple(
                m.display_name
                for m in members
                if m.show_activity and m.last_active <= now - INACTIVE_AFTER
            )
            return Dashboard(
                cohort=info,
                joined=base.joined,
                lessons_done=base.lessons_done,
                counted_until=base.counted_until,
                course_length=length,
                small=False,
                distribution=completion_buckets(done, length),
                median_done=float(statistics.median(done)),
                inactive_names=inactive,
                weekly=await self._weekly(
                    session, members, cohort.timezone, until, first_week(cohort.created_at, tz)
                ),
                confidence=await cohort_confidence(
                    session,
                    cohort_id,
                    [m.learner_id for m in members],
                    until,
                    self._statements,
                    now,
                ),
            )

    async def _weekly(
        self,
        session: AsyncSession,
        members: list[MemberFacts],
        timezone: str,
        until: datetime,
        first: date,
    ) -> tuple[tuple[date, int], ...]:
        """Lessons completed in each of the whole weeks before `until` (Monday-based, cohort
        time) from the cohort's `first` whole week on, a member's counted only in weeks that
        began after they joined: the sum of the changes in the members' Monday counts, so it
        shows nothing the roster does not. Weeks before the cohort began are left out (no one
        could count in them); a cohort younger than a whole week has none."""
        tz = zone(timezone)
        this_monday = local_date(until, tz)
        weeks = (this_monday - timedelta(weeks=back) for back in range(CHART_WEEKS, 0, -1))
        counts = {monday: 0 for monday in weeks if monday >= first}
        if not counts:
            return ()
        joined = {m.learner_id: m.joined_at for m in members}
        p = LessonProgress
        rows = await session.execute(
            select(p.learner_id, p.done_at, p.lesson_id).where(
                p.learner_id.in_(list(joined)),
                p.done_at >= local_instant(min(counts), time(0), tz),
                p.done_at < until,
            )
        )
        for learner_id, moment, lesson_id in rows:
            if moment is None or lesson_id not in self._course:
                continue
            day = local_date(moment, tz)
            monday = day - timedelta(days=day.weekday())
            if monday in counts and local_instant(monday, time(0), tz) >= joined[learner_id]:
                counts[monday] += 1
        return tuple(counts.items())

    async def roster(self, caller: int, cohort_id: int) -> tuple[str, list[RosterRow]]:
        """The cohort name and one row per member for the CSV export."""
        now = self._clock.now()
        async with reading(self._sessions) as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id)
            members = await member_facts(
                session, cohort_id, week_start(now, cohort.timezone), self._course
            )
            tz = zone(cohort.timezone)
            return cohort.name, [
                RosterRow(
                    display_name=m.display_name,
                    joined_on=local_date(m.joined_at, tz),
                    lessons_done=len(m.done),
                    last_active=local_date(m.last_active, tz) if m.show_activity else None,
                )
                for m in members
            ]
