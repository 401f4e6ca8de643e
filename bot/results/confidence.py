"""Confidence before and after (issue 16): the policy and the plain results the confidence and
report services return. No sqlalchemy here, so views load without the ORM.

Who sees what: a learner sees their own answers (/confidence); a lead sees, per statement, the
change from start to end over members who rated it both times, released in steps of five people
(`RELEASE_STEP`); an admin sees programme-wide counts and means in which every cell stands for at
least `K` people (smaller counts are shown as `SUPPRESSED`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from bot.core.states import ConfidencePhase

K: Final = 5  # the smallest group any aggregate a lead or admin sees may stand for
RELEASE_STEP: Final = 5  # a lead's figures change only when this many more pairs have come in
FOLLOW_UP_AFTER: Final = timedelta(weeks=6)
PREFER_NOT = 0  # "prefer not to say" as a button argument; stored as NULL
RATINGS: Final = (1, 2, 3, 4, 5)
SUPPRESSED: Final = "<5"  # a report cell standing for fewer than K people

PHASE_NAMES: Final = {
    ConfidencePhase.START: "At the start",
    ConfidencePhase.END: "At the end",
    ConfidencePhase.FOLLOW_UP: "Six weeks later",
}


@dataclass(frozen=True, slots=True)
class Step:
    """Where a learner is in one self-assessment after a press: the next statement to rate
    (None when every statement has an answer) and the answers so far (statement id -> rating,
    None for "prefer not to say")."""

    phase: ConfidencePhase
    next_statement: str | None
    answers: dict[str, int | None]
    recorded: bool = True  # False: nobody to record it for (no learner row)


@dataclass(frozen=True, slots=True)
class MyConfidence:
    """A learner's own answers: phase -> statement id -> rating (None: prefer not to say), and
    when the six-week follow-up is due (None: not queued)."""

    answers: dict[ConfidencePhase, dict[str, int | None]]
    follow_up_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConfidenceChange:
    """One statement's change for a cohort: mean rating at the start and at the end over the
    `pairs` members who rated it both times (always at least K), as released on `released_on`."""

    statement_id: str
    label: str  # the statement's short label (content), for the text and the chart
    pairs: int
    start_mean: float
    end_mean: float
    released_on: date

    @property
    def change(self) -> float:
        """End minus start."""
        return self.end_mean - self.start_mean
