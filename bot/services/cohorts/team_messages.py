"""Messages to a whole team: the lead's weekly nudge to members away a week (written to the
delivery outbox as rows of kind `nudge`) and the weekly huddle card the scheduler sends the lead.

Neither says more than the roster does: the lead is never told how many members a nudge
reached, and the huddle card's lesson is a median of the Monday counts (`member_facts`).
Each public method is one transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.pattern import Pattern, waking
from bot.core.schedule import local_date, zone
from bot.core.states import DeliveryKind, SubscriptionState
from bot.db.models import Cohort, CohortNudge, Subscription
from bot.results.cohorts import (
    DEFAULT_TIMEZONE,
    HUDDLE_AT,
    INACTIVE_AFTER,
    NUDGE_EVERY,
    HuddleCard,
    NudgeResult,
)
from bot.services.base import TeamService
from bot.services.cohorts.dashboard import member_facts, week_start
from bot.services.outbox.sql import enqueue, pattern_of
from bot.services.outbox.types import NewDelivery


def nudge_due(now: datetime, pattern: Pattern, tz: ZoneInfo) -> datetime:
    """When a nudge may arrive for a member: now, or when their own quiet hours end (a night
    worker's sleep is in the day; see `bot.core.pattern.waking`)."""
    return waking(now, pattern, tz)


def huddle_due(now: datetime, cohort: Cohort) -> bool:
    """The cohort's huddle day, from the lead's own huddle time (HUDDLE_AT unless they chose
    one) in cohort time, and no card in the last seven days."""
    local = now.astimezone(zone(cohort.timezone))
    today = local.date()
    at = cohort.huddle_time if cohort.huddle_time is not None else HUDDLE_AT
    return (
        local.weekday() == cohort.huddle_day
        and local.time().replace(tzinfo=None) >= at
        and (cohort.huddle_sent_on is None or cohort.huddle_sent_on <= today - timedelta(days=7))
    )


async def _claim_week(session: AsyncSession, cohort_id: int, today: date) -> bool:
    """Mark this week's card as sent; False when another worker marked it first."""
    claimed = await session.execute(
        update(Cohort)
        .where(
            Cohort.id == cohort_id,
            or_(
                Cohort.huddle_sent_on.is_(None),
                Cohort.huddle_sent_on <= today - timedelta(days=7),
            ),
        )
        .values(huddle_sent_on=today)
    )
    return bool(getattr(claimed, "rowcount", 0))


class TeamMessageService(TeamService):
    """The lead's weekly nudge and the scheduler's weekly huddle cards."""

    async def nudge(self, caller: int, cohort_id: int) -> NudgeResult:
        """A gentle pre-written nudge to members away 7+ days; at most once a week per cohort.

        The week's nudge is used up whether or not anyone was away, so neither the reply nor the
        weekly limit tells the lead whether a member who keeps their activity private was away.
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await self._access.own_cohort(session, caller, cohort_id, lock=True)
            last = await session.scalar(
                select(func.max(CohortNudge.sent_at)).where(CohortNudge.cohort_id == cohort_id)
            )
            if last is not None and last > now - NUDGE_EVERY:
                return NudgeResult(0, sent=False, next_allowed_at=last + NUDGE_EVERY)
            members = await member_facts(session, cohort_id, now, self._course)
            away = [
                m
                for m in members
                if m.last_active <= now - INACTIVE_AFTER
                and m.state == SubscriptionState.ACTIVE
                and m.subscription_id is not None
            ]
            ids = [m.subscription_id for m in away if m.subscription_id is not None]
            subscriptions = {
                sub.id: sub
                for sub in await session.scalars(
                    select(Subscription).where(Subscription.id.in_(ids))
                )
            }
            nudges = []
            for member in away:
                assert member.subscription_id is not None  # filtered above
                sub = subscriptions[member.subscription_id]
                try:
                    tz, pattern = zone(member.timezone or DEFAULT_TIMEZONE), pattern_of(sub)
                except ValueError:
                    continue  # a schedule that cannot be read: no nudge rather than a guess
                due = nudge_due(now, pattern, tz)
                nudges.append(
                    NewDelivery(
                        subscription_id=member.subscription_id,
                        chat_id=member.chat_id,
                        kind=DeliveryKind.NUDGE,
                        local_date=local_date(due, tz),
                        due_at=due,
                    )
                )
            nudged = await enqueue(session, nudges, now)
            # Used up even when nobody was away, so the reply never reveals who was.
            session.add(CohortNudge(cohort_id=cohort_id, sent_at=now, nudged=nudged))
            return NudgeResult(nudged, sent=True)

    # --- the weekly huddle card (the scheduler asks) ---------------------------------------------

    async def claim_huddles(self) -> list[HuddleCard]:
        """Cards due now: each cohort's huddle day, from the lead's huddle time, once a week.

        Claiming marks the week as done first (at most once, even with several workers); a card
        that then fails to send is not retried: it is a weekly suggestion, not a lesson.
        """
        now = self._clock.now()
        cards: list[HuddleCard] = []
        async with self._sessions.begin() as session:
            cohorts = (
                await session.scalars(
                    select(Cohort).where(
                        Cohort.archived_at.is_(None), Cohort.huddle_day.is_not(None)
                    )
                )
            ).all()
            for cohort in cohorts:
                today = now.astimezone(zone(cohort.timezone)).date()
                if (
                    huddle_due(now, cohort)
                    and await self._access.is_lead(session, cohort.lead_telegram_id)
                    and await _claim_week(session, cohort.id, today)
                ):
                    card = await self._huddle(session, cohort, now)
                    if card is not None:
                        cards.append(card)
        return cards

    async def _huddle(
        self, session: AsyncSession, cohort: Cohort, now: datetime
    ) -> HuddleCard | None:
        """The card's lesson: as many lessons as at least half the cohort had done by Monday
        (the lower median of the roster's counts, at least the first), so the card says nothing
        the roster does not."""
        members = await member_facts(
            session, cohort.id, week_start(now, cohort.timezone), self._course
        )
        if not members:
            return None
        done = sorted((len(m.done) for m in members), reverse=True)
        position = min(max(done[(len(done) - 1) // 2], 1), len(self._content.lessons))
        lesson = self._content.lessons[position - 1]
        return HuddleCard(
            lead_telegram_id=cohort.lead_telegram_id,
            cohort_id=cohort.id,
            cohort_name=cohort.name,
            lesson_id=lesson.id,
            lesson_position=position,
            members=len(members),
            reached=sum(1 for value in done if value >= position),
        )
