"""Managing cohorts, for their lead: create, list, find by name, change settings, rotate the
invite link, archive, and the member list (by name, to remove someone).

Cohort names are checked here (`cohort_name_of`), and so are the names people give (`clean_name`,
`name_key`), which joining uses too. Every method checks the caller's role and cohort ownership
itself (`bot.services.roles.Access`); each public method is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.pattern import Pattern, stored, to_column
from bot.core.schedule import local_date
from bot.core.textclean import RejectedText, clean
from bot.core.timeparse import is_usable_timezone
from bot.db.engine import reading
from bot.db.models import Cohort, CohortMember, Invite
from bot.results.cohorts import (
    DEFAULT_DAYS,
    DEFAULT_HUDDLE_DAY,
    DEFAULT_TIME,
    DEFAULT_TIMEZONE,
    INVITE_DAYS,
    MAX_COHORT_NAME,
    MAX_INVITE_DAYS,
    MAX_INVITE_USES,
    MAX_LEAD_NAME,
    SUBCOMMANDS,
    CohortChange,
    CohortInfo,
    CohortNameProblem,
    CreatedCohort,
    InviteLink,
    MemberRef,
)
from bot.results.roles import NotAvailable
from bot.services.roles import (
    COHORT_INVITE,
    NEUTRAL_LEAD_NAME,
    Access,
    hash_token,
    invite_usable,
    mint_token,
)

# --- names ----------------------------------------------------------------------------------------


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
        huddle_time=cohort.huddle_time,
        pattern=team_pattern(cohort),
    )


def team_pattern(cohort: Cohort) -> Pattern | None:
    """A cohort's default pattern (None: none set, or one that no longer reads)."""
    if cohort.pattern is None:
        return None
    try:
        return stored(cohort.pattern, cohort.days, cohort.delivery_time)
    except ValueError:
        return None


async def describe_cohort(session: AsyncSession, cohort: Cohort, now: datetime) -> CohortInfo:
    """A cohort with its member count and the expiry of its live invite link, if any."""
    members = await session.scalar(
        select(func.count()).select_from(CohortMember).where(CohortMember.cohort_id == cohort.id)
    )
    invites = (
        await session.scalars(
            select(Invite).where(Invite.cohort_id == cohort.id, Invite.revoked_at.is_(None))
        )
    ).all()
    live = next((invite for invite in invites if invite_usable(invite, now)), None)
    return _info(cohort, int(members or 0), live)


class CohortService:
    """Everything a team lead does to their cohorts and their member lists."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, access: Access
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._access = access

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
        async with reading(self._sessions) as session:
            await self._access.require_lead(session, caller)
            cohorts = (
                await session.scalars(
                    select(Cohort)
                    .where(Cohort.lead_telegram_id == caller, Cohort.archived_at.is_(None))
                    .order_by(Cohort.name_key)
                )
            ).all()
            return [await describe_cohort(session, cohort, now) for cohort in cohorts]

    async def resolve(self, caller: int, text: str) -> tuple[CohortInfo, str]:
        """The caller's cohort named at the start of `text`, and the words after its name."""
        now = self._clock.now()
        async with reading(self._sessions) as session:
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
            return await describe_cohort(session, cohort, now), rest

    async def info(self, caller: int, cohort_id: int) -> CohortInfo:
        """One of the caller's cohorts."""
        async with reading(self._sessions) as session:
            cohort = await self._access.own_cohort(session, caller, cohort_id)
            return await describe_cohort(session, cohort, self._clock.now())

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
            if change.huddle_time is not None:
                cohort.huddle_time = change.huddle_time.replace(
                    second=0, microsecond=0, tzinfo=None
                )
            if change.pattern_off:
                cohort.pattern = None
            elif change.pattern is not None:
                cohort.pattern = to_column(change.pattern.checked())
            if change.lead_name is not None:
                lead, _ = clean_name(change.lead_name, MAX_LEAD_NAME)
                if not lead:
                    raise ValueError("empty name")
                cohort.lead_name = lead
            return await describe_cohort(session, cohort, self._clock.now())

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
        async with reading(self._sessions) as session:
            await self._access.own_cohort(session, caller, cohort_id)
            rows = await session.execute(
                select(CohortMember.id, CohortMember.display_name)
                .where(CohortMember.cohort_id == cohort_id)
                .order_by(CohortMember.name_key)
            )
            return [MemberRef(row[0], row[1]) for row in rows]

    async def member(self, caller: int, cohort_id: int, ref: int | str) -> MemberRef:
        """One member of the caller's cohort, by id or by the name they gave."""
        async with reading(self._sessions) as session:
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
