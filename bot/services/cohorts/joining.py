"""Joining a cohort, for anyone with a link, and a member's own memberships.

An invite payload opens a preview (a cohort, or a lead invitation, or a refusal); Join asks for
the name the member shows their lead; the name enrols them on the cohort's schedule (someone
already learning keeps everything). A member chooses whether their lead sees when they were last
active, lists their cohorts and leaves. Made-up tokens are throttled per person
(`InviteThrottle`). Each public method is one transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.pattern import PatternKind, fixed_days, next_lesson, to_column
from bot.core.schedule import local_instant
from bot.core.states import SubscriptionState
from bot.db.engine import reading
from bot.db.models import Cohort, CohortMember, Invite, Learner, Subscription
from bot.results.cohorts import (
    MAX_DISPLAY_NAME,
    PENDING_NAME,
    AlreadyMember,
    CohortInvitePreview,
    InvitePreview,
    InviteRefused,
    Joined,
    LeadInvitePreview,
    Membership,
    NamePrompt,
    NameRejected,
    TeamPatternTaken,
)
from bot.services.cohorts.manage import clean_name, name_key, team_pattern
from bot.services.learners import learner_row
from bot.services.outbox.sql import next_due_for, pattern_of
from bot.services.roles import (
    COHORT_INVITE,
    LEAD_INVITE,
    Access,
    InviteThrottle,
    invite_kind,
    invite_usable,
    token_of,
    usable_invite,
    use_invite,
)


class JoiningService:
    """Everything a person does to join a cohort, and a member does with their memberships."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        access: Access,
        throttle: InviteThrottle,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._access = access
        self._throttle = throttle

    async def preview(self, telegram_user_id: int, payload: str) -> InvitePreview:
        """What a `/start` invite payload opens: a cohort or lead invitation, or a refusal."""
        if self._throttle.blocked(telegram_user_id):
            return InviteRefused(throttled=True)
        token = token_of(payload)
        now = self._clock.now()
        async with reading(self._sessions) as session:
            invite = await usable_invite(session, token, now) if token else None
            if invite is not None and token is not None:
                if invite.kind == LEAD_INVITE:
                    is_lead = await self._access.is_lead(session, telegram_user_id)
                    return LeadInvitePreview(token, already_lead=is_lead)
                cohort = await self._live_cohort(session, invite)
                if cohort is not None:
                    learner = await self._learner(session, telegram_user_id)
                    member = learner is not None and await self._is_member(
                        session, cohort.id, learner.id
                    )
                    subscribed = learner is not None and (
                        await session.scalar(
                            select(Subscription.id).where(Subscription.learner_id == learner.id)
                        )
                        is not None
                    )
                    return CohortInvitePreview(
                        token=token,
                        cohort_name=cohort.name,
                        lead_name=cohort.lead_name,
                        delivery_time=cohort.delivery_time,
                        timezone=cohort.timezone,
                        days=cohort.days,
                        starts_on=cohort.starts_on,
                        already_member=member,
                        subscribed=subscribed,
                        first_lesson_at=None if subscribed else first_lesson(cohort, now),
                    )
            from_admin = token is not None and await invite_kind(session, token) == LEAD_INVITE
        self._throttle.failed(telegram_user_id)
        return InviteRefused(
            throttled=self._throttle.blocked(telegram_user_id), from_admin=from_admin
        )

    async def _live_cohort(self, session: AsyncSession, invite: Invite) -> Cohort | None:
        if invite.kind != COHORT_INVITE or invite.cohort_id is None:
            return None
        cohort: Cohort | None = await session.scalar(
            select(Cohort).where(Cohort.id == invite.cohort_id, Cohort.archived_at.is_(None))
        )
        if cohort is None:
            return None
        # A cohort whose lead was removed takes no one new until it is handed over.
        if not await self._access.is_lead(session, cohort.lead_telegram_id):
            return None
        return cohort

    @staticmethod
    async def _learner(session: AsyncSession, telegram_user_id: int) -> Learner | None:
        learner: Learner | None = await session.scalar(
            select(Learner).where(Learner.telegram_user_id == telegram_user_id)
        )
        return learner

    @staticmethod
    async def _is_member(session: AsyncSession, cohort_id: int, learner_id: int) -> bool:
        found = await session.scalar(
            select(CohortMember.id).where(
                CohortMember.cohort_id == cohort_id, CohortMember.learner_id == learner_id
            )
        )
        return found is not None

    async def accept(
        self, telegram_user_id: int, chat_id: int, token: str
    ) -> NamePrompt | AlreadyMember | InviteRefused:
        """The person pressed Join: check the link again and ask for their name.

        The invite's id (never the token) is kept as the learner's pending action until the
        name arrives; a person new to the bot gets a bare learner row for that, without consent
        recorded, which `cancel_join` removes again.
        """
        if self._throttle.blocked(telegram_user_id):
            return InviteRefused(throttled=True)
        now = self._clock.now()
        async with self._sessions.begin() as session:
            invite = await usable_invite(session, token, now, COHORT_INVITE)
            cohort = await self._live_cohort(session, invite) if invite is not None else None
            if invite is not None and cohort is not None:
                learner = await learner_row(session, telegram_user_id, chat_id, now)
                if await self._is_member(session, cohort.id, learner.id):
                    return AlreadyMember(cohort.name)
                learner.pending_action = f"{PENDING_NAME}:{invite.id}"
                learner.last_active_at = now
                return NamePrompt(cohort.name)
        self._throttle.failed(telegram_user_id)
        return InviteRefused(throttled=self._throttle.blocked(telegram_user_id))

    async def cancel_join(self, telegram_user_id: int) -> None:
        """Stop joining; a person new to the bot leaves nothing stored behind."""
        async with self._sessions.begin() as session:
            learner = await self._learner(session, telegram_user_id)
            if learner is None:
                return
            if learner.pending_action and learner.pending_action.startswith(PENDING_NAME + ":"):
                learner.pending_action = None
            if learner.consented_at is None:
                has_subscription = await session.scalar(
                    select(Subscription.id).where(Subscription.learner_id == learner.id)
                )
                if has_subscription is None:
                    await session.delete(learner)

    async def join(
        self, telegram_user_id: int, invite_id: int, raw_name: str
    ) -> Joined | NameRejected | InviteRefused:
        """The member gave their name: join the cohort and enrol on its schedule."""
        name, shortened = clean_name(raw_name, MAX_DISPLAY_NAME)
        if not name:
            return NameRejected("empty")
        now = self._clock.now()
        try:
            async with self._sessions.begin() as session:
                return await self._join(session, telegram_user_id, invite_id, name, shortened, now)
        except IntegrityError:
            # Someone took the name (or joined twice) at the same moment.
            return NameRejected("taken")

    async def _join(
        self,
        session: AsyncSession,
        telegram_user_id: int,
        invite_id: int,
        name: str,
        shortened: bool,
        now: datetime,
    ) -> Joined | NameRejected | InviteRefused:
        learner = await self._learner(session, telegram_user_id)
        if learner is None:
            return InviteRefused()
        invite: Invite | None = await session.get(Invite, invite_id)
        cohort = (
            await self._live_cohort(session, invite)
            if invite is not None and invite_usable(invite, now)
            else None
        )
        if invite is None or cohort is None:
            learner.pending_action = None
            return InviteRefused()
        taken = await session.scalar(
            select(CohortMember.id).where(
                CohortMember.cohort_id == cohort.id, CohortMember.name_key == name_key(name)
            )
        )
        if taken is not None:
            return NameRejected("taken")
        if await self._is_member(session, cohort.id, learner.id) or not await use_invite(
            session, invite.id, now
        ):
            learner.pending_action = None
            return InviteRefused()
        learner.pending_action = None
        learner.last_active_at = now
        if learner.consented_at is None:
            learner.consented_at = now
        member = CohortMember(
            cohort_id=cohort.id,
            learner_id=learner.id,
            display_name=name,
            name_key=name_key(name),
            joined_at=now,
            show_activity=False,
        )
        session.add(member)
        subscription, kept = await self._enrol(session, learner, cohort, now)
        await session.flush()
        return Joined(
            member_id=member.id,
            cohort_name=cohort.name,
            lead_name=cohort.lead_name,
            display_name=name,
            shortened=shortened,
            next_due_at=subscription.next_due_at,
            timezone=subscription.timezone,
            state=subscription.state,
            kept_progress=kept,
            cohort_id=cohort.id,
            team_pattern=team_pattern(cohort),
        )

    async def _enrol(
        self, session: AsyncSession, learner: Learner, cohort: Cohort, now: datetime
    ) -> tuple[Subscription, bool]:
        """Start lessons on the cohort's schedule; an existing subscriber keeps everything.

        Someone already learning keeps their progress, their own lesson time and their state
        (a pause they chose is theirs); only a newcomer, or someone who never finished setting
        up, takes the cohort's schedule, from the cohort's start date.
        """
        subscription: Subscription | None = await session.scalar(
            select(Subscription).where(Subscription.learner_id == learner.id)
        )
        if subscription is not None and subscription.state != SubscriptionState.SETUP:
            return subscription, True
        if subscription is None:
            subscription = Subscription(
                learner_id=learner.id,
                reflection_time=None,
                reminders=True,
                last_lesson_id=None,
                course_run=1,
                unopened_streak=0,
                created_at=now,
            )
            session.add(subscription)
        subscription.state = SubscriptionState.ACTIVE
        subscription.delivery_time = cohort.delivery_time
        subscription.timezone = cohort.timezone
        subscription.days = cohort.days
        subscription.paused_until = None
        subscription.updated_at = now
        await session.flush()
        subscription.next_due_at = await next_due_for(
            session, subscription, joining_from(cohort, now)
        )
        return subscription, False

    async def use_team_pattern(
        self, telegram_user_id: int, cohort_id: int
    ) -> TeamPatternTaken | None:
        """A member takes their team's default pattern in one tap (their lesson days and times
        then follow it; /settings still changes it). None when they are not a member of that
        live cohort, it has no pattern, or they have no lessons to schedule."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            learner = await self._learner(session, telegram_user_id)
            cohort = await session.get(Cohort, cohort_id)
            if (
                learner is None
                or cohort is None
                or cohort.archived_at is not None
                or not await self._is_member(session, cohort.id, learner.id)
            ):
                return None
            pattern = team_pattern(cohort)
            subscription: Subscription | None = await session.scalar(
                select(Subscription).where(Subscription.learner_id == learner.id).with_for_update()
            )
            if pattern is None or subscription is None:
                return None
            # The rota keeps the member's own quiet hours, if they set any.
            own = pattern_of(subscription)
            pattern = replace(pattern, quiet_from=own.quiet_from, quiet_until=own.quiet_until)
            try:
                pattern = pattern.checked()
            except ValueError:
                pattern = replace(pattern, quiet_from=None, quiet_until=None)
            if pattern.kind != PatternKind.ROTA and pattern.lesson_time is not None:
                subscription.days, subscription.delivery_time = pattern.days, pattern.lesson_time
            subscription.pattern = to_column(pattern)
            subscription.updated_at = now
            if subscription.state == SubscriptionState.ACTIVE:
                opening = local_instant(cohort.starts_on, time(0), subscription.timezone)
                start = max(now, opening - timedelta(microseconds=1))
                subscription.next_due_at = await next_due_for(session, subscription, start)
            learner.last_active_at = now
            return TeamPatternTaken(
                cohort.name, pattern, subscription.next_due_at, subscription.timezone
            )

    async def set_show_activity(self, telegram_user_id: int, member_id: int, show: bool) -> bool:
        """The member's own choice about showing their lead when they were last active."""
        async with self._sessions.begin() as session:
            learner = await self._learner(session, telegram_user_id)
            if learner is None:
                return False
            result = await session.execute(
                update(CohortMember)
                .where(CohortMember.id == member_id, CohortMember.learner_id == learner.id)
                .values(show_activity=show)
            )
            return bool(getattr(result, "rowcount", 0))

    async def memberships(self, telegram_user_id: int) -> list[Membership]:
        """The caller's own cohorts."""
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(CohortMember, Cohort)
                .join(Cohort, Cohort.id == CohortMember.cohort_id)
                .join(Learner, Learner.id == CohortMember.learner_id)
                .where(Learner.telegram_user_id == telegram_user_id)
                .order_by(CohortMember.joined_at)
            )
            return [
                Membership(
                    member_id=member.id,
                    cohort_id=cohort.id,
                    cohort_name=cohort.name,
                    lead_name=cohort.lead_name,
                    display_name=member.display_name,
                    joined_at=member.joined_at,
                    show_activity=member.show_activity,
                )
                for member, cohort in rows.tuples()
            ]

    async def leave(self, telegram_user_id: int, cohort_id: int) -> str | None:
        """Leave a cohort (lessons carry on as they are); the cohort's name, or None."""
        async with self._sessions.begin() as session:
            learner = await self._learner(session, telegram_user_id)
            if learner is None:
                return None
            row = (
                await session.execute(
                    select(CohortMember, Cohort.name)
                    .join(Cohort, Cohort.id == CohortMember.cohort_id)
                    .where(
                        CohortMember.cohort_id == cohort_id,
                        CohortMember.learner_id == learner.id,
                    )
                )
            ).first()
            if row is None:
                return None
            member, name = row
            await session.delete(member)
            return str(name)


def joining_from(cohort: Cohort, now: datetime) -> datetime:
    """The instant a newcomer's lessons are counted from: now, or the cohort's start date."""
    opening = local_instant(cohort.starts_on, time(0), cohort.timezone)
    return max(now, opening - timedelta(microseconds=1))


def first_lesson(cohort: Cohort, now: datetime) -> datetime:
    """A newcomer's first lesson: the cohort's first slot after `joining_from` (the same rule
    `_enrol` gives next_due_for, so the join screen and the joined screen agree)."""
    return next_lesson(
        joining_from(cohort, now), fixed_days(cohort.days, cohort.delivery_time), cohort.timezone
    )
