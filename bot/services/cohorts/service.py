"""Cohorts: a team lead enrols their team with an invite link and follows it in aggregate.

What this service owns: creating and archiving cohorts and their settings, rotating invite links,
the join flow (consent, the name a member shows their lead, enrolment on the cohort's schedule),
the lead's dashboard and CSV roster, the weekly nudge (written to the delivery outbox as rows of
kind `nudge`), the weekly huddle card, and leaving a cohort.

What a lead can ever learn about a member is fixed here and nowhere else: the name the member
gave, when they joined, how many lessons they had completed by the start of this week (Monday
00:00, cohort time) and, only with the member's consent, when they were last active. Every other
figure a lead sees is computed from those facts alone, so comparing figures before and after
someone joins or leaves, or on two days, reveals nothing the lead is not shown anyway:

* lessons are counted up to the start of the week, so nothing a member does shows before the
  next Monday, and then only as a weekly count;
* the weekly chart counts a member's lessons only in whole weeks they were in the cohort (the sum
  of the changes in their Monday counts), so a newcomer's history before joining never shows;
* groups under five see the joined count and the lessons completed in total only;
* nothing is computed from check answers, subscription states (paused, stopped, unreachable) or
  non-consenting members' activity, and a nudge does not say how many it reached.

Reflections, check answers and journal text are never read by this module.

A service: each public method is one transaction; returns plain dataclasses; no telegram import.
Every lead method checks the caller's role and cohort ownership itself (`bot.roles.Access`).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.schedule import WEEKDAYS, local_date, local_instant, zone
from bot.core.states import DeliveryKind
from bot.core.textclean import RejectedText, clean
from bot.core.timeparse import is_usable_timezone
from bot.db.models import (
    CheckAnswer,
    Cohort,
    CohortMember,
    CohortNudge,
    Invite,
    Learner,
    LessonProgress,
    Subscription,
)
from bot.services.outbox.sql import enqueue, next_due_for
from bot.services.outbox.types import NewDelivery
from bot.services.roles import (
    COHORT_INVITE,
    LEAD_INVITE,
    NEUTRAL_LEAD_NAME,
    Access,
    InviteThrottle,
    NotAvailable,
    hash_token,
    invite_usable,
    mint_token,
    token_of,
    usable_invite,
    use_invite,
)

# --- policy ---------------------------------------------------------------------------------------

MAX_COHORT_NAME: Final = 48
MAX_DISPLAY_NAME: Final = 40
MAX_LEAD_NAME: Final = 48
DEFAULT_TIME: Final = time(8, 0)
DEFAULT_TIMEZONE: Final = "Europe/London"
DEFAULT_DAYS: Final = WEEKDAYS
DEFAULT_HUDDLE_DAY: Final = 0  # Monday
HUDDLE_AT: Final = time(9, 0)  # cohort-local time the huddle card is due
INVITE_DAYS: Final = 30
MAX_INVITE_DAYS: Final = 365
MAX_INVITE_USES: Final = 10_000
SMALL_GROUP: Final = 5  # below this, the dashboard shows counts only
INACTIVE_AFTER: Final = timedelta(days=7)
NUDGE_EVERY: Final = timedelta(days=7)
# Nudges arrive only between these member-local times: well inside 07:00-21:00 so a slow,
# rate-limited sender can never push one into the quiet hours.
NUDGE_FROM: Final = time(9, 0)
NUDGE_UNTIL: Final = time(20, 0)
CHART_WEEKS: Final = 8
NUDGE: Final = DeliveryKind.NUDGE  # outbox kind
PENDING_NAME: Final = "cohort_name"  # pending-action flow: the member's next text is their name
# Words that start a /cohort subcommand; a cohort name may not begin with one.
SUBCOMMANDS: Final = frozenset(
    {
        "new",
        "show",
        "invite",
        "export",
        "nudge",
        "remove",
        "archive",
        "settings",
        "time",
        "days",
        "timezone",
        "start",
        "huddle",
        "myname",
        "help",
    }
)

# --- plain results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InviteLink:
    """A live invite: the token (only ever returned when it is made), expiry and uses."""

    token: str
    expires_at: datetime
    max_uses: int | None


@dataclass(frozen=True, slots=True)
class CohortInfo:
    """A cohort as its lead sees it in lists and settings."""

    id: int
    name: str
    lead_name: str
    delivery_time: time
    timezone: str
    days: int
    starts_on: date
    huddle_day: int | None
    members: int
    invite_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedCohort:
    """A new cohort and its first invite link."""

    cohort: CohortInfo
    invite: InviteLink


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Aggregates for a lead, lessons counted up to `counted_until` (this week's Monday).

    For groups under five only `joined` and `lessons_done` are filled in.
    """

    cohort: CohortInfo
    joined: int
    lessons_done: int
    counted_until: date
    course_length: int
    small: bool
    distribution: tuple[tuple[str, int], ...] = ()
    median_done: float | None = None
    inactive_names: tuple[str, ...] = ()
    weekly: tuple[tuple[date, int], ...] = ()


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One member in the CSV roster; last_active is None without the member's consent.

    `lessons_done` counts lessons completed before this week's Monday (cohort time).
    """

    display_name: str
    joined_on: date
    lessons_done: int
    last_active: date | None


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A member as a lead may address them: the id and the name they gave."""

    id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class NudgeResult:
    """How a nudge went: sent (`nudged` is for logs and tests, never shown), or when next."""

    nudged: int
    sent: bool
    next_allowed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CohortInvitePreview:
    """What the join screen says: the cohort, its lead, its schedule, what the lead will see."""

    token: str
    cohort_name: str
    lead_name: str
    delivery_time: time
    timezone: str
    days: int
    starts_on: date
    already_member: bool
    subscribed: bool


@dataclass(frozen=True, slots=True)
class LeadInvitePreview:
    """What the lead-invitation screen says."""

    token: str
    already_lead: bool


@dataclass(frozen=True, slots=True)
class InviteRefused:
    """The token did not work (expired, replaced, used up or made up), or too many tries."""

    throttled: bool = False


InvitePreview = CohortInvitePreview | LeadInvitePreview | InviteRefused


@dataclass(frozen=True, slots=True)
class NamePrompt:
    """Join accepted: ask the member for the name their lead will see."""

    cohort_name: str


@dataclass(frozen=True, slots=True)
class AlreadyMember:
    """The person is in this cohort already."""

    cohort_name: str


@dataclass(frozen=True, slots=True)
class NameRejected:
    """The name cannot be used: empty, or someone in the cohort uses it already."""

    reason: str  # "empty" | "taken"


@dataclass(frozen=True, slots=True)
class Joined:
    """The member is in: where their lessons stand now."""

    member_id: int
    cohort_name: str
    lead_name: str
    display_name: str
    shortened: bool
    next_due_at: datetime | None
    timezone: str
    state: str
    kept_progress: bool


@dataclass(frozen=True, slots=True)
class Membership:
    """One of the caller's own memberships."""

    member_id: int
    cohort_id: int
    cohort_name: str
    lead_name: str
    display_name: str
    joined_at: datetime
    show_activity: bool


@dataclass(frozen=True, slots=True)
class HuddleCard:
    """A weekly discussion card for a lead, matched to where most of the cohort has got to."""

    lead_telegram_id: int
    cohort_id: int
    cohort_name: str
    lesson_id: str
    lesson_position: int
    members: int
    reached: int


@dataclass(frozen=True, slots=True)
class CohortChange:
    """Settings a lead may change; None leaves a setting as it is."""

    delivery_time: time | None = None
    timezone: str | None = None
    days: int | None = None
    starts_on: date | None = None
    huddle_day: int | None = None
    huddle_off: bool = False
    lead_name: str | None = None


class CohortNameProblem(ValueError):
    """A cohort name cannot be used; `reason` is empty | long | reserved | taken."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- pure helpers ---------------------------------------------------------------------------------


def name_key(name: str) -> str:
    """How names are compared: case-folded, single spaces."""
    return " ".join(name.casefold().split())


def clean_name(raw: str, limit: int) -> tuple[str, bool]:
    """A person's name made safe to store: one line, no control or bidi characters, limited.

    Returns the name and whether it had to be shortened.
    """
    try:
        text = clean(" ".join(raw.split()), max_chars=limit * 4).text
    except RejectedText:
        return "", False
    text = " ".join(text.split())
    shortened = clean(text, max_chars=limit).text
    return shortened, len(shortened) < len(text)


def cohort_name_of(raw: str) -> str:
    """A cohort name as a lead typed it, checked; raises CohortNameProblem."""
    name, shortened = clean_name(raw, MAX_COHORT_NAME)
    if not name:
        raise CohortNameProblem("empty")
    if shortened:
        raise CohortNameProblem("long")
    if name.split()[0].casefold() in SUBCOMMANDS:
        raise CohortNameProblem("reserved")
    return name


def split_cohort_name(text: str, names: Sequence[str]) -> tuple[str, str] | None:
    """Split "<cohort name> <rest>" using the longest of `names` the text starts with."""
    words = text.split()
    keys = {name_key(name): name for name in names}
    for count in range(len(words), 0, -1):
        found = keys.get(name_key(" ".join(words[:count])))
        if found is not None:
            return found, " ".join(words[count:])
    return None


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


def nudge_due(now: datetime, tz: ZoneInfo) -> datetime:
    """When a nudge may arrive for someone in this timezone: now, or their next 09:00."""
    local = now.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if NUDGE_FROM <= wall < NUDGE_UNTIL:
        return now
    day = local.date() if wall < NUDGE_FROM else local.date() + timedelta(days=1)
    return local_instant(day, NUDGE_FROM, tz)


def week_start(now: datetime, timezone: str) -> datetime:
    """This week's Monday 00:00 in the cohort's timezone, as an instant: lessons count up to it."""
    today = local_date(now, timezone)
    return local_instant(today - timedelta(days=today.weekday()), time(0), timezone)


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


def _info(cohort: Cohort, members: int, invite: Invite | None = None) -> CohortInfo:
    return CohortInfo(
        id=cohort.id,
        name=cohort.name,
        lead_name=cohort.lead_name,
        delivery_time=cohort.delivery_time,
        timezone=cohort.timezone,
        days=cohort.days,
        starts_on=cohort.starts_on,
        huddle_day=cohort.huddle_day,
        members=members,
        invite_expires_at=invite.expires_at if invite is not None else None,
    )


# --- per-member facts (what a lead may know, computed in one place) ------------------------------


@dataclass(slots=True)
class _Member:
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


class CohortService:
    """Everything a team lead does with cohorts, and everything a member does to join or leave."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        access: Access,
        throttle: InviteThrottle,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._content = content
        self._access = access
        self._throttle = throttle
        self._positions = {lesson.id: index for index, lesson in enumerate(content.lessons)}

    # --- the lead: cohorts -----------------------------------------------------------------------

    async def create(self, caller: int, raw_name: str, lead_name: str) -> CreatedCohort:
        """A new cohort on the default schedule, starting today, with a 30-day invite link."""
        name = cohort_name_of(raw_name)
        lead, _ = clean_name(lead_name, MAX_LEAD_NAME)
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await self._access.require_lead(session, caller)
            if name_key(name) in await self._live_keys(session, caller):
                raise CohortNameProblem("taken")
            cohort = Cohort(
                name=name,
                name_key=name_key(name),
                lead_telegram_id=caller,
                lead_name=lead or NEUTRAL_LEAD_NAME,
                delivery_time=DEFAULT_TIME,
                timezone=DEFAULT_TIMEZONE,
                days=DEFAULT_DAYS,
                starts_on=local_date(now, DEFAULT_TIMEZONE),
                huddle_day=DEFAULT_HUDDLE_DAY,
                created_at=now,
            )
            session.add(cohort)
            await session.flush()
            link = await self._new_invite(session, cohort.id, now, INVITE_DAYS, None)
            return CreatedCohort(_info(cohort, 0), link)

    async def _live_keys(self, session: AsyncSession, caller: int) -> set[str]:
        keys = await session.scalars(
            select(Cohort.name_key).where(
                Cohort.lead_telegram_id == caller, Cohort.archived_at.is_(None)
            )
        )
        return set(keys)

    async def _new_invite(
        self,
        session: AsyncSession,
        cohort_id: int,
        now: datetime,
        days: int,
        max_uses: int | None,
    ) -> InviteLink:
        await session.execute(
            update(Invite)
            .where(Invite.cohort_id == cohort_id, Invite.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        token = mint_token()
        expires = now + timedelta(days=days)
        session.add(
            Invite(
                kind=COHORT_INVITE,
                cohort_id=cohort_id,
                token_hash=hash_token(token),
                created_at=now,
                expires_at=expires,
                max_uses=max_uses,
                uses=0,
            )
        )
        return InviteLink(token, expires, max_uses)

    async def mine(self, caller: int) -> list[CohortInfo]:
        """The caller's live cohorts with member counts and invite expiry."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await self._access.require_lead(session, caller)
            cohorts = (
                await session.scalars(
                    select(Cohort)
                    .where(Cohort.lead_telegram_id == caller, Cohort.archived_at.is_(None))
                    .order_by(Cohort.name_key)
                )
            ).all()
            return [await self._describe(session, cohort, now) for cohort in cohorts]

    async def _describe(self, session: AsyncSession, cohort: Cohort, now: datetime) -> CohortInfo:
        members = await session.scalar(
            select(func.count())
            .select_from(CohortMember)
            .where(CohortMember.cohort_id == cohort.id)
        )
        invites = (
            await session.scalars(
                select(Invite).where(Invite.cohort_id == cohort.id, Invite.revoked_at.is_(None))
            )
        ).all()
        live = next((invite for invite in invites if invite_usable(invite, now)), None)
        return _info(cohort, int(members or 0), live)

    async def resolve(self, caller: int, text: str) -> tuple[CohortInfo, str]:
        """The caller's cohort named at the start of `text`, and the words after its name."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await self._access.require_lead(session, caller)
            cohorts = (
                await session.scalars(
                    select(Cohort).where(
                        Cohort.lead_telegram_id == caller, Cohort.archived_at.is_(None)
                    )
                )
            ).all()
            found = split_cohort_name(text, [cohort.name for cohort in cohorts])
            if found is None:
                raise NotAvailable
            name, rest = found
            cohort = next(c for c in cohorts if c.name == name)
            return await self._describe(session, cohort, now), rest

    async def info(self, caller: int, cohort_id: int) -> CohortInfo:
        """One of the caller's cohorts."""
        async with self._sessions.begin() as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id)
            return await self._describe(session, cohort, self._clock.now())

    async def rotate_invite(
        self, caller: int, cohort_id: int, *, days: int | None = None, max_uses: int | None = None
    ) -> InviteLink:
        """A new invite link; every earlier link of this cohort stops working at once."""
        days = INVITE_DAYS if days is None else days
        if not 1 <= days <= MAX_INVITE_DAYS or (
            max_uses is not None and not 1 <= max_uses <= MAX_INVITE_USES
        ):
            raise ValueError("invite limits out of range")
        async with self._sessions.begin() as session:
            await self._access.own_cohort(session, caller, cohort_id, lock=True)
            return await self._new_invite(session, cohort_id, self._clock.now(), days, max_uses)

    async def change(self, caller: int, cohort_id: int, change: CohortChange) -> CohortInfo:
        """Change the schedule new members get, the start date, the huddle day or the lead name."""
        async with self._sessions.begin() as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id, lock=True)
            if change.delivery_time is not None:
                cohort.delivery_time = change.delivery_time.replace(
                    second=0, microsecond=0, tzinfo=None
                )
            if change.timezone is not None:
                # Members' subscriptions copy it: the same IANA list learners choose from (host
                # files such as "localtime" load with zoneinfo but mean nothing to a person).
                if not is_usable_timezone(change.timezone):
                    raise ValueError("not a timezone")
                cohort.timezone = change.timezone
            if change.days is not None:
                cohort.days = change.days
            if change.starts_on is not None:
                if change.starts_on < local_date(self._clock.now(), cohort.timezone):
                    raise ValueError("the start date has passed")
                cohort.starts_on = change.starts_on
            if change.huddle_off:
                cohort.huddle_day = None
            elif change.huddle_day is not None:
                cohort.huddle_day = change.huddle_day
            if change.lead_name is not None:
                lead, _ = clean_name(change.lead_name, MAX_LEAD_NAME)
                if not lead:
                    raise ValueError("empty name")
                cohort.lead_name = lead
            return await self._describe(session, cohort, self._clock.now())

    async def archive(self, caller: int, cohort_id: int) -> str:
        """Close a cohort: links stop working, memberships end; members keep their lessons."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id, lock=True)
            cohort.archived_at = now
            await session.execute(
                update(Invite)
                .where(Invite.cohort_id == cohort_id, Invite.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await session.execute(delete(CohortMember).where(CohortMember.cohort_id == cohort_id))
            return cohort.name

    # --- the lead: members -----------------------------------------------------------------------

    async def members(self, caller: int, cohort_id: int) -> list[MemberRef]:
        """The roster by name, for choosing whom to remove."""
        async with self._sessions.begin() as session:
            await self._access.own_cohort(session, caller, cohort_id)
            rows = await session.execute(
                select(CohortMember.id, CohortMember.display_name)
                .where(CohortMember.cohort_id == cohort_id)
                .order_by(CohortMember.name_key)
            )
            return [MemberRef(row[0], row[1]) for row in rows]

    async def member(self, caller: int, cohort_id: int, ref: int | str) -> MemberRef:
        """One member of the caller's cohort, by id or by the name they gave."""
        async with self._sessions.begin() as session:
            await self._access.own_cohort(session, caller, cohort_id)
            stmt = select(CohortMember.id, CohortMember.display_name).where(
                CohortMember.cohort_id == cohort_id
            )
            if isinstance(ref, int):
                stmt = stmt.where(CohortMember.id == ref)
            else:
                stmt = stmt.where(CohortMember.name_key == name_key(ref))
            row = (await session.execute(stmt)).first()
            if row is None:
                raise NotAvailable
            return MemberRef(row[0], row[1])

    async def remove_member(self, caller: int, cohort_id: int, member_id: int) -> str:
        """Take a member out of the cohort (their own lessons carry on); returns their name."""
        async with self._sessions.begin() as session:
            await self._access.own_cohort(session, caller, cohort_id, lock=True)
            member: CohortMember | None = await session.scalar(
                select(CohortMember).where(
                    CohortMember.id == member_id, CohortMember.cohort_id == cohort_id
                )
            )
            if member is None:
                raise NotAvailable
            await session.delete(member)
            return member.display_name

    async def _facts(
        self, session: AsyncSession, cohort_id: int, counted_until: datetime
    ) -> list[_Member]:
        """Each member's facts: lessons done before `counted_until`, when they were last active."""
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
            _Member(
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
            if done_at is not None and done_at < counted_until and lesson_id in self._positions:
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

    async def dashboard(self, caller: int, cohort_id: int) -> Dashboard:
        """Aggregates for the lead, each a function of the facts the roster shows; small: counts."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id)
            info = await self._describe(session, cohort, now)
            until = week_start(now, cohort.timezone)
            members = await self._facts(session, cohort_id, until)
            length = len(self._content.lessons)
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
                weekly=await self._weekly(session, members, cohort.timezone, until),
            )

    async def _weekly(
        self, session: AsyncSession, members: list[_Member], timezone: str, until: datetime
    ) -> tuple[tuple[date, int], ...]:
        """Lessons completed in each of the whole weeks before `until` (Monday-based, cohort
        time), a member's counted only in weeks that began after they joined: the sum of the
        changes in the members' Monday counts, so it shows nothing the roster does not."""
        tz = zone(timezone)
        this_monday = local_date(until, tz)
        counts = {this_monday - timedelta(weeks=back): 0 for back in range(CHART_WEEKS, 0, -1)}
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
            if moment is None or lesson_id not in self._positions:
                continue
            day = local_date(moment, tz)
            monday = day - timedelta(days=day.weekday())
            if monday in counts and local_instant(monday, time(0), tz) >= joined[learner_id]:
                counts[monday] += 1
        return tuple(counts.items())

    async def roster(self, caller: int, cohort_id: int) -> tuple[str, list[RosterRow]]:
        """The cohort name and one row per member for the CSV export."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id)
            members = await self._facts(session, cohort_id, week_start(now, cohort.timezone))
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
            members = await self._facts(session, cohort_id, now)
            away = [
                m
                for m in members
                if m.last_active <= now - INACTIVE_AFTER
                and m.state == "active"
                and m.subscription_id is not None
            ]
            nudges = []
            for member in away:
                assert member.subscription_id is not None  # filtered above
                tz = zone(member.timezone or DEFAULT_TIMEZONE)
                due = nudge_due(now, tz)
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

    # --- joining, for anyone with a link ---------------------------------------------------------

    async def preview(self, telegram_user_id: int, payload: str) -> InvitePreview:
        """What a `/start` invite payload opens: a cohort or lead invitation, or a refusal."""
        if self._throttle.blocked(telegram_user_id):
            return InviteRefused(throttled=True)
        token = token_of(payload)
        now = self._clock.now()
        async with self._sessions.begin() as session:
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
                    )
        self._throttle.failed(telegram_user_id)
        return InviteRefused(throttled=self._throttle.blocked(telegram_user_id))

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
                learner = await self._learner(session, telegram_user_id)
                if learner is None:
                    learner = Learner(
                        telegram_user_id=telegram_user_id, chat_id=chat_id, created_at=now
                    )
                    session.add(learner)
                    await session.flush()
                elif await self._is_member(session, cohort.id, learner.id):
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
        if subscription is not None and subscription.state != "setup":
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
        subscription.state = "active"
        subscription.delivery_time = cohort.delivery_time
        subscription.timezone = cohort.timezone
        subscription.days = cohort.days
        subscription.paused_until = None
        subscription.updated_at = now
        await session.flush()
        opening = local_instant(cohort.starts_on, time(0), cohort.timezone)
        start = max(now, opening - timedelta(microseconds=1))
        subscription.next_due_at = await next_due_for(session, subscription, start)
        return subscription, False

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
        async with self._sessions.begin() as session:
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

    # --- the weekly huddle card (the scheduler asks) ---------------------------------------------

    async def claim_huddles(self) -> list[HuddleCard]:
        """Cards due now: each cohort's huddle day, from 09:00 cohort time, once a week.

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
                tz = zone(cohort.timezone)
                local = now.astimezone(tz)
                today = local.date()
                if (
                    local.weekday() != cohort.huddle_day
                    or local.time().replace(tzinfo=None) < HUDDLE_AT
                    or (
                        cohort.huddle_sent_on is not None
                        and cohort.huddle_sent_on > today - timedelta(days=7)
                    )
                    or not await self._access.is_lead(session, cohort.lead_telegram_id)
                ):
                    continue
                claimed = await session.execute(
                    update(Cohort)
                    .where(
                        Cohort.id == cohort.id,
                        or_(
                            Cohort.huddle_sent_on.is_(None),
                            Cohort.huddle_sent_on <= today - timedelta(days=7),
                        ),
                    )
                    .values(huddle_sent_on=today)
                )
                if not getattr(claimed, "rowcount", 0):
                    continue
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
        members = await self._facts(session, cohort.id, week_start(now, cohort.timezone))
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
