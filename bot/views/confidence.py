"""Screens for the self-assessment of confidence (issue 16): the invitation at each phase, one
statement at a time, the thank-you, the learner's own answers (/confidence), and the lines a lead
sees on the cohort dashboard.

Pure functions of plain data. The statements are content (`lessons/confidence.yaml`); only the
wording around them lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.content.schema import SelfAssessment, Statement
from bot.core.dates import short_date, short_day
from bot.core.states import ConfidencePhase
from bot.results.confidence import (
    PHASE_NAMES,
    PREFER_NOT,
    RATINGS,
    RELEASE_STEP,
    ConfidenceChange,
    K,
    MyConfidence,
    Step,
)
from bot.views.callbacks import CONFIDENCE, encode
from bot.views.screen import Button, Screen, escape

WHO_SEES = (
    "<b>Who sees what:</b> you can see your own answers any time with /confidence. Team leads"
    f" and admins only ever see totals for groups of {K} or more people, never your answers."
)
_OPENING = {
    ConfidencePhase.START: (
        "<b>Before you begin: how confident do you feel?</b>",
        "The same statements come again after the last lesson and six weeks later, so you can"
        " see what changed.",
    ),
    ConfidencePhase.END: (
        "<b>You've reached the end of the course: how confident do you feel now?</b>",
        "The same statements as at the start, so you can see what changed.",
    ),
    ConfidencePhase.FOLLOW_UP: (
        "<b>Six weeks on from the course: how confident do you feel?</b>",
        "The same statements as before, one last time. Nothing else will follow.",
    ),
}
_NOT_ANSWERED = "–"


def _rating(value: int | None) -> str:
    return "prefer not to say" if value is None else str(value)


def invitation_screen(phase: ConfidencePhase) -> Screen:
    """The gentle invitation to rate the statements (the same for the outbox's follow-up)."""
    title, again = _OPENING[phase]
    return Screen(
        f"{title}\n\nA few short statements to rate from 1 to 5, about a minute. It's optional:"
        " pass over any statement with <i>Prefer not to say</i>, or all of it with"
        f" <i>Not now</i>. {again}\n\n{WHO_SEES}",
        (
            (
                Button("Begin", encode(CONFIDENCE, phase, "go")),
                Button("Not now", encode(CONFIDENCE, phase, "no")),
            ),
        ),
    )


def question_screen(
    phase: ConfidencePhase, assessment: SelfAssessment, statement: Statement
) -> Screen:
    """One statement with its five ratings, "prefer not to say" and a way to stop."""
    ids = [s.id for s in assessment.statements]
    number = ids.index(statement.id) + 1
    return Screen(
        f"<i>{PHASE_NAMES[phase]} · {number} of {len(ids)}</i>\n\n<b>{escape(statement.text)}</b>"
        f"\n\n1 = {escape(assessment.low)}, 5 = {escape(assessment.high)}",
        (
            tuple(
                Button(str(value), encode(CONFIDENCE, phase, statement.id, value))
                for value in RATINGS
            ),
            (Button("Prefer not to say", encode(CONFIDENCE, phase, statement.id, PREFER_NOT)),),
            (Button("Stop here", encode(CONFIDENCE, phase, "no")),),
        ),
    )


def thanks_screen(step: Step, assessment: SelfAssessment) -> Screen:
    """Every statement answered: thanks, and the answers as given."""
    lines = [f"<b>Thank you.</b> Your answers, {PHASE_NAMES[step.phase].lower()}:"]
    lines += [
        f"• {escape(s.short)}: {_rating(step.answers[s.id])}"
        for s in assessment.statements
        if s.id in step.answers
    ]
    lines += ["", "Only you see these. /confidence shows them any time."]
    return Screen("\n".join(lines))


def not_now_screen(step: Step) -> Screen:
    """Not now / Stop here: nothing more is asked now, and what was given is kept."""
    kept = (
        " The answers you gave are kept (/confidence shows them)."
        if step.answers
        else " Nothing was recorded."
    )
    return Screen(f"No problem, and no need to say why.{kept}")


def not_enrolled_screen() -> Screen:
    """A self-assessment button or /confidence from someone with nothing stored."""
    return Screen(
        "There is nothing to show yet: the self-assessment comes with the course. /start sets it"
        " up."
    )


def my_confidence_screen(mine: MyConfidence, assessment: SelfAssessment) -> Screen:
    """/confidence: the learner's own answers at each phase, side by side."""
    phases = list(ConfidencePhase)
    lines = [
        "<b>Your confidence self-assessment</b>",
        "1 = " + escape(assessment.low) + ", 5 = " + escape(assessment.high) + ".",
        "",
    ]
    if not mine.answers:
        lines.append(
            "You haven't rated any statements yet. They are offered when your lessons begin,"
            " after the last lesson and six weeks later; each time you can pass."
        )
    else:
        heading = " → ".join(PHASE_NAMES[phase].lower() for phase in phases)
        lines.append(f"<i>{heading}</i>")
        for statement in assessment.statements:
            cells = [_cell(mine.answers.get(phase, {}), statement.id) for phase in phases]
            lines.append(f"<b>{escape(statement.short)}</b>: " + " → ".join(cells))
        lines += [
            "",
            f"{_NOT_ANSWERED} not answered; n/s prefer not to say.",
        ]
    if mine.follow_up_due is not None:
        lines.append(f"The six-week question comes around {_date(mine.follow_up_due)}.")
    lines += ["", WHO_SEES]
    return Screen("\n".join(lines))


def _cell(answers: dict[str, int | None], statement_id: str) -> str:
    if statement_id not in answers:
        return _NOT_ANSWERED
    value = answers[statement_id]
    return "n/s" if value is None else str(value)


def _date(moment: datetime) -> str:
    return short_date(moment)


# --- the lead's dashboard -------------------------------------------------------------------------


def change_lines(changes: Sequence[ConfidenceChange]) -> list[str]:
    """The dashboard's confidence lines: start → end per statement, with how many people."""
    lines = [
        "<b>Confidence, start → end</b> (mean of 1-5, members who rated a statement both times)"
    ]
    if not changes:
        lines.append(f"Shown once {K} members have rated a statement at the start and at the end.")
        return lines
    for change in changes:
        lines.append(
            f"{escape(change.label)}: {change.start_mean:.1f} → {change.end_mean:.1f}"
            f" ({change.change:+.1f}, {change.pairs} people)"
        )
    newest = max(change.released_on for change in changes)
    lines.append(
        f"<i>Updated {short_day(newest)} and only when {RELEASE_STEP} more people have"
        " answered, so no one's answers can be picked out.</i>"
    )
    return lines


def change_caption(cohort_name: str, changes: Sequence[ConfidenceChange]) -> Screen:
    """Caption for the confidence chart: the same numbers as the text."""
    body = "; ".join(f"{escape(c.label)} {c.start_mean:.1f} → {c.end_mean:.1f}" for c in changes)
    return Screen(f"<b>{escape(cohort_name)}</b>: confidence at the start and the end. {body}")
