"""The outbox and subscription vocabulary, in one place: each value is stored as text.

A StrEnum member compares equal to its text, so rows read back from the database, queries and
views all use these names; a renamed state is then a type error instead of a silent mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryKind(StrEnum):
    """What an outbox row sends (every kind has one renderer: `scheduler.render`)."""

    LESSON = "lesson"
    REFLECTION = "reflection"  # the reflective prompt, later that day when the learner asks
    REMINDER = "reminder"  # one gentle reminder when a lesson has not been opened after a while
    PAUSE_NOTE = "pause_note"  # the kind note sent when lessons pause after three left unopened
    NUDGE = "nudge"  # a team lead's pre-written nudge to members away for a week
    # "Ask me each week": Sunday's message with the coming week's days as toggles. Its row's
    # `lesson_id` carries the days shown (a days mask as text), so one renderer can draw it.
    WEEK_PROMPT = "week_prompt"
    # The gentle, skippable self-assessment six weeks after the course ends (issue 16).
    CONFIDENCE = "confidence"


class DeliveryStatus(StrEnum):
    """Where an outbox row is in its life (see `bot.services.outbox`)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    UNCERTAIN = "uncertain"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class SubscriptionState(StrEnum):
    """A learner's subscription (see `bot.services.enrolment`)."""

    SETUP = "setup"  # consented, schedule not yet confirmed: nothing is delivered
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    INACTIVE = "inactive"  # Telegram refused delivery
    FINISHED = "finished"


class ConfidencePhase(StrEnum):
    """When a self-assessment of confidence is asked (see `bot.services.confidence`)."""

    START = "start"  # when lessons begin
    END = "end"  # after the last lesson
    FOLLOW_UP = "followup"  # six weeks after the end, through the outbox
