"""SQLAlchemy tables. Telegram ids are BigInteger; every timestamp is an aware UTC datetime.

Every table that refers to a learner does so through `learner_id` with ON DELETE CASCADE, so
erasing the learner row erases everything about them.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.engine import Base, BigIntPK, UTCDateTime

LESSON_ID = String(40)


class Learner(Base):
    """A person who has talked to the bot and consented to it storing their settings."""

    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the learner's next free-text message means (e.g. a reflection for a lesson); None
    # means free text is a search. Kept in the database so it survives restarts.
    pending_action: Mapped[str | None] = mapped_column(String(64))
    # The learner's own data key, wrapped (encrypted) by the master key; destroyed by /forget.
    wrapped_data_key: Mapped[bytes | None] = mapped_column(LargeBinary)


class Subscription(Base):
    """A learner's daily-lesson schedule and place in the course (one per learner)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_due", "state", "next_due_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), unique=True
    )
    # active | paused | stopped | inactive (Telegram refused delivery) | finished | setup
    # (consented, schedule not yet confirmed: nothing is delivered; see bot.services.enrolment)
    state: Mapped[str] = mapped_column(String(16))
    delivery_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    # Bit 0 = Monday ... bit 6 = Sunday.
    days: Mapped[int] = mapped_column(SmallInteger)
    # None: the reflective prompt comes with the lesson; otherwise later that local day.
    reflection_time: Mapped[time | None] = mapped_column(Time)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    # A shift pattern as JSON (bot.core.pattern: a rota, "ask me each week", own quiet hours);
    # None: lessons at delivery_time on `days`, quiet the 9 hours before (no migration of rows).
    pattern: Mapped[str | None] = mapped_column(Text)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last lesson delivered in this run; the next is the one after it in course order, so
    # lessons added later slot in by id without shifting anyone's place.
    last_lesson_id: Mapped[str | None] = mapped_column(LESSON_ID)
    # Which pass through the course this is (/restart starts a new run; history is kept).
    course_run: Mapped[int] = mapped_column(Integer, default=1)
    # Consecutive delivered lessons left unopened (three pause the subscription kindly).
    unopened_streak: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """The outbox: one row per (subscription, local date, kind), written by the tick."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "local_date", "kind"),
        Index("ix_deliveries_ready", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # lesson | reflection | reminder | nudge
    kind: Mapped[str] = mapped_column(String(16))
    local_date: Mapped[date] = mapped_column(Date)
    lesson_id: Mapped[str | None] = mapped_column(LESSON_ID)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending | sending | sent | uncertain | failed | cancelled | skipped
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An uncertain lesson is offered to the learner again once, at the next reply: when.
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LessonProgress(Base):
    """What happened to one lesson for one learner in one course run."""

    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("learner_id", "lesson_id", "course_run"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    lesson_id: Mapped[str] = mapped_column(LESSON_ID)
    course_run: Mapped[int] = mapped_column(Integer, default=1)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first "I need a moment" on this lesson: counted per lesson in the programme report (a
    # signal for content review), never shown per person.
    moment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckAnswer(Base):
    """One answer to a knowledge check (the learner's own; never shown to team leads)."""

    __tablename__ = "check_answers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), index=True
    )
    lesson_id: Mapped[str] = mapped_column(LESSON_ID)
    answer_index: Mapped[int] = mapped_column(SmallInteger)
    correct: Mapped[bool] = mapped_column(Boolean)
    is_review: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Review(Base):
    """Spaced review of a check answered wrongly: back after 2, 4, then 8 days."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("learner_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    lesson_id: Mapped[str] = mapped_column(LESSON_ID)
    interval_days: Mapped[int] = mapped_column(SmallInteger)
    due_on: Mapped[date] = mapped_column(Date)
    right_streak: Mapped[int] = mapped_column(SmallInteger, default=0)


class Reflection(Base):
    """A learner's private reflection, encrypted at rest and bound to its row."""

    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), index=True
    )
    lesson_id: Mapped[str | None] = mapped_column(LESSON_ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class CardView(Base):
    """How often a lookup card was shown, for "most used" in inline mode; nothing about who."""

    __tablename__ = "card_views"

    card_id: Mapped[str] = mapped_column(LESSON_ID, primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger, default=0)


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update changes nothing.

    Holds no personal data (just the id and when it was seen); old rows are pruned.
    """

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- Team leads and cohorts (issue 7) -------------------------------------------------------------
# Lead rights and cohort ownership are keyed by numeric Telegram id (an admin's grant, not learner
# data), so a lead need not take the course and a removed lead's cohorts wait for a handover.
# Everything about a member hangs off `learners.id` with ON DELETE CASCADE.


class Lead(Base):
    """A team lead, made one by an admin; rights come from the numeric Telegram id only."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Cohort(Base):
    """A team enrolled together: its lead, the schedule new members get, and its huddle day."""

    __tablename__ = "cohorts"
    __table_args__ = (Index("ix_cohorts_lead", "lead_telegram_id", "name_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # The name case-folded, for finding the cohort a lead names in a command.
    name_key: Mapped[str] = mapped_column(String(64))
    lead_telegram_id: Mapped[int] = mapped_column(BigInteger)
    # How the lead is named on the join screen: as the lead gave it (first name by default).
    lead_name: Mapped[str] = mapped_column(String(64))
    delivery_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    days: Mapped[int] = mapped_column(SmallInteger)  # bit 0 = Monday, as in subscriptions
    starts_on: Mapped[date] = mapped_column(Date)
    # Huddle settings: the weekday (0 = Monday) the lead gets the huddle card (None: off), and
    # the cohort-local date of the last card sent (one a week).
    huddle_day: Mapped[int | None] = mapped_column(SmallInteger)
    # The lead's own time for it, in the cohort's timezone (None: the default, 09:00).
    huddle_time: Mapped[time | None] = mapped_column(Time)
    # The team's default shift pattern, offered to joiners in one tap (JSON, as subscriptions).
    pattern: Mapped[str | None] = mapped_column(Text)
    huddle_sent_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invite(Base):
    """A cohort join link or a lead invitation; only the token's SHA-256 is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # cohort | lead
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CohortMember(Base):
    """A learner's membership of a cohort, under the name they chose to show their lead."""

    __tablename__ = "cohort_members"
    __table_args__ = (
        UniqueConstraint("cohort_id", "learner_id"),
        UniqueConstraint("cohort_id", "name_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The member's consent to their lead seeing when they were last active, and so their name
    # on the "not active for 7 days" list. Off unless they say yes.
    show_activity: Mapped[bool] = mapped_column(Boolean, default=False)


class CohortNudge(Base):
    """The nudge log: when a lead nudged a cohort and how many were nudged (never who)."""

    __tablename__ = "cohort_nudges"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    nudged: Mapped[int] = mapped_column(Integer)


# --- Confidence before and after (issue 16) -------------------------------------------------------


class ConfidenceAnswer(Base):
    """A learner's own rating of one self-assessment statement at one phase (start, end, follow-up).

    One row per (learner, phase, statement): pressing again changes the answer, never adds one.
    `rating` is 1-5, or None for "prefer not to say". Leads and admins see aggregates only.
    """

    __tablename__ = "confidence_answers"
    __table_args__ = (UniqueConstraint("learner_id", "phase", "statement_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(8))  # start | end | followup
    statement_id: Mapped[str] = mapped_column(LESSON_ID)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CohortConfidence(Base):
    """A confidence change released to a cohort's lead: the sums over `pairs` members who rated a
    statement at the start and the end. A new release is made only when five more pairs have
    come in, so comparing two releases never isolates one person (nothing about who)."""

    __tablename__ = "cohort_confidence"
    __table_args__ = (UniqueConstraint("cohort_id", "statement_id", "pairs"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    statement_id: Mapped[str] = mapped_column(LESSON_ID)
    pairs: Mapped[int] = mapped_column(Integer)
    start_total: Mapped[int] = mapped_column(Integer)
    end_total: Mapped[int] = mapped_column(Integer)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime)
