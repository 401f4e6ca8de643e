"""What handlers and views need from roles, without the ORM: role names, the refusal, the
`/start` invite payload, and the results of managing leads.

`bot.services.roles` holds the queries; this module imports no sqlalchemy, so
`bot.views.cohorts` can show a lead list without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

INVITE_PREFIX = "inv-"
# Roles, as LeadService.role reports them.
ADMIN = "admin"
LEAD = "lead"
NONE = "none"


def invite_payload(token: str) -> str:
    """The `/start` payload that carries a token (fits Telegram's 64 characters)."""
    return INVITE_PREFIX + token


def looks_like_invite(payload: str | None) -> bool:
    """True when a `/start` payload is meant as an invite (valid or not)."""
    return bool(payload) and str(payload).startswith(INVITE_PREFIX)


class NotAvailable(Exception):
    """Refused: not allowed, or no such thing; callers must not be told which."""


@dataclass(frozen=True, slots=True)
class LeadInvite:
    """A one-time lead invitation just made: the token goes into the link, once."""

    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LeadInfo:
    """A lead as admins see them: numeric id, since when, and the cohorts they lead."""

    telegram_user_id: int
    added_at: datetime | None
    cohorts: tuple[str, ...]
    is_lead: bool = True


@dataclass(frozen=True, slots=True)
class Handover:
    """Cohorts moved from one lead to another."""

    from_id: int
    to_id: int
    cohorts: tuple[str, ...]
