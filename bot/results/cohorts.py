"""The cohort vocabulary: the policy (every limit, default and time the cohort services use, in
one place) and the plain results they return.

Views and handlers import from here, so this module imports no sqlalchemy and no module that
does (`bot.views.cohorts` must load without the ORM).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from bot.core.pattern import Pattern
from bot.core.schedule import WEEKDAYS
from bot.core.states import DeliveryKind
from bot.results.confidence import ConfidenceChange

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
        "rota",
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
    huddle_time: time | None = None  # the lead's own time for the card (None: HUDDLE_AT)
    pattern: Pattern | None = None  # the team's default pattern, offered to joiners


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
    # Start -> end per statement, as last released (K pairs or more; see bot.services.confidence).
    confidence: tuple[ConfidenceChange, ...] = ()


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
    # A newcomer's first lesson (UTC), decided as joining decides it; None when subscribed.
    first_lesson_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeadInvitePreview:
    """What the lead-invitation screen says."""

    token: str
    already_lead: bool


@dataclass(frozen=True, slots=True)
class InviteRefused:
    """The token did not work (expired, replaced, used up or made up), or too many tries."""

    throttled: bool = False
    # The link was a lead invitation, which only an admin makes: the reply points to them.
    from_admin: bool = False


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
    cohort_id: int = 0
    team_pattern: Pattern | None = None  # offered in one tap when the cohort has one


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
    huddle_time: time | None = None
    lead_name: str | None = None
    pattern: Pattern | None = None  # the team's default pattern (a rota)
    pattern_off: bool = False


class CohortNameProblem(ValueError):
    """A cohort name cannot be used; `reason` is empty | long | reserved | taken."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TeamPatternTaken:
    """A member took their team's pattern: when lessons now come."""

    cohort_name: str
    pattern: Pattern
    next_due_at: datetime | None
    timezone: str
