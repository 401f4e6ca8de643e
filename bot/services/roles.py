"""Who may do what: admins from ADMIN_TELEGRAM_IDS, team leads from the `leads` table.

Rights come from numeric Telegram ids only, never usernames or names. Every lead and admin
use-case asks `Access` inside its own transaction, on every call, so a lead removed a moment ago
is refused at once. Anything refused raises `NotAvailable`, which handlers turn into one neutral
reply that does not say whether the cohort, the command or the right exists.

This module also owns invite tokens (cohort join links and lead invitations share one table):
at least 128 bits from `secrets`, URL-safe, and only their SHA-256 is stored.

The results, the role names and the `/start` payload helpers that handlers and views need are in
`bot.services.roles_types`, which loads no sqlalchemy.

A service module: no telegram import; each public method is one transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.db.engine import reading
from bot.db.models import Cohort, Invite, Lead
from bot.results.roles import (
    ADMIN,
    INVITE_PREFIX,
    LEAD,
    NONE,
    Handover,
    LeadInfo,
    LeadInvite,
    NotAvailable,
)

# --- invite tokens --------------------------------------------------------------------------------

TOKEN_BYTES = 24  # 192 bits of randomness; 32 URL-safe characters
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,60}")
COHORT_INVITE = "cohort"
LEAD_INVITE = "lead"
LEAD_INVITE_DAYS = 7
# How a cohort names its lead when no name is known (a handover to a lead with no cohort yet, or
# after the lead erased their data).
NEUTRAL_LEAD_NAME = "your team lead"


def mint_token() -> str:
    """A new invite token: 192 random bits, URL-safe (A-Z a-z 0-9 _ -)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What is stored for a token (hex SHA-256; the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_of(payload: str) -> str | None:
    """The token in an invite payload (or a bare token); None when it cannot be one."""
    token = payload.removeprefix(INVITE_PREFIX)
    return token if _TOKEN_RE.fullmatch(token) else None


def invite_usable(invite: Invite, now: datetime) -> bool:
    """Not revoked, not expired, not used up."""
    return (
        invite.revoked_at is None
        and invite.expires_at > now
        and (invite.max_uses is None or invite.uses < invite.max_uses)
    )


async def usable_invite(
    session: AsyncSession, token: str, now: datetime, kind: str | None = None
) -> Invite | None:
    """Repository query: the usable invite with this token (and kind), else None.

    Whatever reaches here (a typed link, a forged button) is checked against the token alphabet
    first, so a made-up token costs no query and nothing outside it is ever hashed.
    """
    if not _TOKEN_RE.fullmatch(token):
        return None
    invite: Invite | None = await session.scalar(
        select(Invite).where(Invite.token_hash == hash_token(token))
    )
    if invite is None or not invite_usable(invite, now):
        return None
    if kind is not None and invite.kind != kind:
        return None
    return invite


async def invite_kind(session: AsyncSession, token: str) -> str | None:
    """Repository query: the kind of invite this token was made as, usable or not (None: no
    such invite), so a refusal can point to whoever makes that kind of link."""
    if not _TOKEN_RE.fullmatch(token):
        return None
    kind: str | None = await session.scalar(
        select(Invite.kind).where(Invite.token_hash == hash_token(token))
    )
    return kind


async def use_invite(session: AsyncSession, invite_id: int, now: datetime) -> bool:
    """Count one use, atomically and only while the invite is still usable."""
    result = await session.execute(
        update(Invite)
        .where(
            Invite.id == invite_id,
            Invite.revoked_at.is_(None),
            Invite.expires_at > now,
            or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),
        )
        .values(uses=Invite.uses + 1)
    )
    return bool(getattr(result, "rowcount", 0))


class InviteThrottle:
    """Slows down someone trying invite tokens: after `limit` bad ones in `window`, no more checks.

    Kept in memory on purpose: it stores nothing about anyone in the database, and guessing a
    192-bit token is hopeless anyway; this only stops a person (or a script) hammering the bot
    with made-up links. With several webhook processes it counts per process (README, "Past one
    process"): N processes allow N times as many bad links, still nowhere near a guess.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        limit: int = 5,
        window: timedelta = timedelta(minutes=15),
        max_people: int = 10_000,
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._max_people = max_people
        self._failures: dict[int, list[datetime]] = {}

    def _recent(self, telegram_user_id: int) -> list[datetime]:
        since = self._clock.now() - self._window
        recent = [at for at in self._failures.get(telegram_user_id, []) if at > since]
        if recent:
            self._failures[telegram_user_id] = recent
        else:
            self._failures.pop(telegram_user_id, None)
        return recent

    def blocked(self, telegram_user_id: int) -> bool:
        """True while this person has had too many bad tokens recently."""
        return len(self._recent(telegram_user_id)) >= self._limit

    def failed(self, telegram_user_id: int) -> None:
        """Count one bad token."""
        if len(self._failures) >= self._max_people and telegram_user_id not in self._failures:
            # Bounded memory: forget whoever has been quiet longest.
            oldest = min(self._failures, key=lambda uid: self._failures[uid][-1])
            del self._failures[oldest]
        self._failures.setdefault(telegram_user_id, []).append(self._clock.now())


# --- authorisation --------------------------------------------------------------------------------


class Access:
    """Role checks. Admins come from settings; leads from the database, read on every call."""

    def __init__(self, admin_telegram_ids: frozenset[int]) -> None:
        self._admins = admin_telegram_ids

    @property
    def admins(self) -> frozenset[int]:
        """The admins' numeric ids (from ADMIN_TELEGRAM_IDS)."""
        return self._admins

    def is_admin(self, telegram_user_id: int) -> bool:
        """True for an id in ADMIN_TELEGRAM_IDS."""
        return telegram_user_id in self._admins

    async def is_lead(self, session: AsyncSession, telegram_user_id: int) -> bool:
        """True for a lead, or an admin (an admin may lead cohorts too)."""
        if self.is_admin(telegram_user_id):
            return True
        found = await session.scalar(
            select(Lead.id).where(Lead.telegram_user_id == telegram_user_id)
        )
        return found is not None

    def require_admin(self, telegram_user_id: int) -> None:
        """Raise NotAvailable unless the caller is an admin."""
        if not self.is_admin(telegram_user_id):
            raise NotAvailable

    async def require_lead(self, session: AsyncSession, telegram_user_id: int) -> None:
        """Raise NotAvailable unless the caller is a lead (or an admin)."""
        if not await self.is_lead(session, telegram_user_id):
            raise NotAvailable

    async def own_cohort(
        self, session: AsyncSession, telegram_user_id: int, cohort_id: int, *, lock: bool = False
    ) -> Cohort:
        """The caller's live cohort with this id; NotAvailable for anything else.

        The caller must be a lead now and lead this cohort; admins get no view of other
        leads' cohorts (their right is to manage leads, not to read teams' progress).
        """
        await self.require_lead(session, telegram_user_id)
        stmt = select(Cohort).where(
            Cohort.id == cohort_id,
            Cohort.lead_telegram_id == telegram_user_id,
            Cohort.archived_at.is_(None),
        )
        if lock:
            stmt = stmt.with_for_update()
        cohort: Cohort | None = await session.scalar(stmt)
        if cohort is None:
            raise NotAvailable
        return cohort


# --- managing leads (admins) ----------------------------------------------------------------------


async def _live_cohort_names(session: AsyncSession, telegram_user_id: int) -> tuple[str, ...]:
    names = await session.scalars(
        select(Cohort.name)
        .where(Cohort.lead_telegram_id == telegram_user_id, Cohort.archived_at.is_(None))
        .order_by(Cohort.name_key)
    )
    return tuple(names)


class LeadService:
    """Admins make and remove team leads; invited people accept a lead invitation."""

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

    def is_admin(self, telegram_user_id: int) -> bool:
        """True for an admin (from ADMIN_TELEGRAM_IDS; no database read)."""
        return self._access.is_admin(telegram_user_id)

    async def role(self, telegram_user_id: int) -> str:
        """ADMIN, LEAD or NONE, read now (for choosing which help to show)."""
        if self._access.is_admin(telegram_user_id):
            return ADMIN
        async with reading(self._sessions) as session:
            return LEAD if await self._access.is_lead(session, telegram_user_id) else NONE

    async def role_holders(self) -> list[tuple[int, str]]:
        """Every admin and lead with their role (for their command menus at start-up)."""
        async with reading(self._sessions) as session:
            leads = (await session.scalars(select(Lead.telegram_user_id))).all()
        holders = [(admin, ADMIN) for admin in sorted(self._access.admins)]
        holders += [(lead, LEAD) for lead in leads if not self._access.is_admin(lead)]
        return holders

    async def invite(self, caller: int) -> LeadInvite:
        """A one-time lead invitation link, valid for seven days."""
        self._access.require_admin(caller)
        now = self._clock.now()
        token = mint_token()
        expires = now + timedelta(days=LEAD_INVITE_DAYS)
        async with self._sessions.begin() as session:
            session.add(
                Invite(
                    kind=LEAD_INVITE,
                    cohort_id=None,
                    token_hash=hash_token(token),
                    created_at=now,
                    expires_at=expires,
                    max_uses=1,
                    uses=0,
                )
            )
        return LeadInvite(token, expires)

    async def add(self, caller: int, telegram_user_id: int) -> bool:
        """Make this numeric id a lead; False when it already was one."""
        self._access.require_admin(caller)
        async with self._sessions.begin() as session:
            return await self._grant(session, telegram_user_id)

    async def _grant(self, session: AsyncSession, telegram_user_id: int) -> bool:
        exists = await session.scalar(
            select(Lead.id).where(Lead.telegram_user_id == telegram_user_id)
        )
        if exists is not None:
            return False
        session.add(Lead(telegram_user_id=telegram_user_id, added_at=self._clock.now()))
        await session.flush()
        return True

    async def leads(self, caller: int) -> list[LeadInfo]:
        """Every lead, and every former lead whose cohorts still wait for a handover."""
        self._access.require_admin(caller)
        async with reading(self._sessions) as session:
            leads = (await session.execute(select(Lead).order_by(Lead.added_at))).scalars().all()
            result = [
                LeadInfo(
                    lead.telegram_user_id,
                    lead.added_at,
                    await _live_cohort_names(session, lead.telegram_user_id),
                )
                for lead in leads
            ]
            known = {lead.telegram_user_id for lead in leads}
            owners = (
                await session.scalars(
                    select(Cohort.lead_telegram_id)
                    .where(Cohort.archived_at.is_(None))
                    .group_by(Cohort.lead_telegram_id)
                    .order_by(func.min(Cohort.created_at))
                )
            ).all()
            for owner in owners:
                if owner in known:
                    continue
                result.append(
                    LeadInfo(
                        owner,
                        None,
                        await _live_cohort_names(session, owner),
                        is_lead=self._access.is_admin(owner),
                    )
                )
            return result

    async def lead(self, caller: int, telegram_user_id: int) -> LeadInfo:
        """One lead, for the removal confirmation; NotAvailable when they are not a lead."""
        self._access.require_admin(caller)
        async with reading(self._sessions) as session:
            row: Lead | None = await session.scalar(
                select(Lead).where(Lead.telegram_user_id == telegram_user_id)
            )
            if row is None:
                raise NotAvailable
            names = await _live_cohort_names(session, telegram_user_id)
            return LeadInfo(telegram_user_id, row.added_at, names)

    async def remove(self, caller: int, telegram_user_id: int) -> LeadInfo:
        """Take the lead role away at once; their cohorts stay, waiting for a handover."""
        self._access.require_admin(caller)
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Lead).where(Lead.telegram_user_id == telegram_user_id)
            )
            if not getattr(result, "rowcount", 0):
                raise NotAvailable
            names = await _live_cohort_names(session, telegram_user_id)
            return LeadInfo(telegram_user_id, None, names, is_lead=False)

    async def handover(self, caller: int, from_id: int, to_id: int) -> Handover:
        """Give every live cohort of one (usually removed) lead to another lead.

        `from_id` may be the placeholder (negative) a lead's /forget left on their cohorts. The
        cohorts then name the new lead as the new lead named themselves on their newest cohort,
        else neutrally; they can change it with /cohort myname.
        """
        self._access.require_admin(caller)
        async with self._sessions.begin() as session:
            if from_id == to_id or not await self._access.is_lead(session, to_id):
                raise NotAvailable
            cohorts = (
                await session.scalars(
                    select(Cohort)
                    .where(Cohort.lead_telegram_id == from_id, Cohort.archived_at.is_(None))
                    .order_by(Cohort.name_key)
                    .with_for_update()
                )
            ).all()
            if not cohorts:
                raise NotAvailable
            taken = set(
                await session.scalars(
                    select(Cohort.name_key).where(
                        Cohort.lead_telegram_id == to_id, Cohort.archived_at.is_(None)
                    )
                )
            )
            lead_name = await session.scalar(
                select(Cohort.lead_name)
                .where(Cohort.lead_telegram_id == to_id)
                .order_by(Cohort.created_at.desc(), Cohort.id.desc())
                .limit(1)
            )
            for cohort in cohorts:
                # Two cohorts of one lead never share a name: number a clash.
                name, number = cohort.name, 2
                while name.casefold() in taken:
                    suffix = f" ({number})"
                    name = cohort.name[: 64 - len(suffix)] + suffix
                    number += 1
                taken.add(name.casefold())
                cohort.name, cohort.name_key = name, name.casefold()
                cohort.lead_telegram_id = to_id
                cohort.lead_name = lead_name or NEUTRAL_LEAD_NAME
            return Handover(from_id, to_id, tuple(c.name for c in cohorts))

    async def accept(self, telegram_user_id: int, token: str) -> bool:
        """Become a lead with a usable lead invitation (used up at once); False otherwise."""
        if self._throttle.blocked(telegram_user_id):
            return False
        now = self._clock.now()
        async with self._sessions.begin() as session:
            invite = await usable_invite(session, token, now, LEAD_INVITE)
            if invite is not None and await use_invite(session, invite.id, now):
                await self._grant(session, telegram_user_id)
                return True
        self._throttle.failed(telegram_user_id)
        return False
