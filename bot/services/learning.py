"""The learner's own learning: lesson buttons, reflections, knowledge checks, spaced review,
progress and the journal.

A service: each public method is one transaction (`async with sessions.begin()`), takes the
person's Telegram user id, and returns plain dataclasses, never ORM rows. Someone who has no
learner row (never consented, or erased with /forget) can still press a lesson's buttons (lessons
are also shown by lookups): nothing is stored for them and the methods say so (`recorded=False`).

Spaced review (the spaced-education method): the first answer to a lesson's check after the lesson
was delivered decides. A wrong one schedules a review 2 days later (in the learner's local dates);
every review answer moves the next one further out, 2 -> 4 -> 8 days (8 at most), until the check
is answered right twice in a row, when it is retired. Reviews ride along with the daily lesson
(offered after Done), at most two a day, never as extra messages.

Reflections are encrypted with the learner's own data key (bot.core.crypto), each bound to its row,
and stored only after `bot.core.textclean.clean`. This module never logs anything a person wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.crypto import DecryptionError, Keyring, decrypt, encrypt, reflection_ad
from bot.core.states import SubscriptionState
from bot.core.textclean import clean
from bot.db.models import CheckAnswer, Learner, LessonProgress, Reflection, Review, Subscription
from bot.results.learning import (
    AnswerResult,
    JournalEntry,
    JournalPage,
    Progress,
    ReflectionStop,
    ReviewQuestion,
    SavedReflection,
    Touch,
)
from bot.services.learners import learner_by_telegram_id
from bot.services.outbox.sql import pattern_of

DEFAULT_TIMEZONE = "Europe/London"
FIRST_REVIEW_DAYS = 2
LONGEST_REVIEW_DAYS = 8
RIGHT_IN_A_ROW_TO_RETIRE = 2
MAX_REVIEWS_PER_DAY = 2
JOURNAL_PAGE_SIZE = 5
# The free-text flow name under which a started reflection waits for the learner's text.
REFLECT_FLOW = "reflect"


# --- Pure helpers ---------------------------------------------------------------------------------


def zone_or_default(name: str | None) -> ZoneInfo:
    """The learner's timezone, or the default when it is missing or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def next_review_interval(current_days: int) -> int:
    """The gap before the next review after one is answered: 2 -> 4 -> 8, then 8."""
    return min(current_days * 2, LONGEST_REVIEW_DAYS)


def current_streak(done_days: Iterable[date], missed_days: Iterable[date], today: date) -> int:
    """Days in a row with a lesson done, counting back from today.

    A day with a lesson done counts. A day when a lesson was delivered and neither done nor
    skipped ends the streak, except today (there is still time). Every other day, including
    days without a delivery (rest days, pauses) and days whose lesson was skipped, is neutral.
    """
    done = set(done_days)
    missed = set(missed_days) - done
    if not done:
        return 0
    earliest = min(done)
    streak = 0
    day = today
    while day >= earliest:
        if day in done:
            streak += 1
        elif day in missed and day != today:
            break
        day -= timedelta(days=1)
    return streak


async def mastered_checks(
    session: AsyncSession, learner_id: int, course: Collection[str]
) -> set[str]:
    """Repository query: lessons of `course` whose check the learner has mastered, that is
    answered right at least once and with no review of it still open."""
    right = set(
        await session.scalars(
            select(CheckAnswer.lesson_id)
            .where(CheckAnswer.learner_id == learner_id, CheckAnswer.correct)
            .distinct()
        )
    )
    reviewing = set(
        await session.scalars(select(Review.lesson_id).where(Review.learner_id == learner_id))
    )
    return {lesson for lesson in right - reviewing if lesson in course}


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


# --- The service ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Who:
    learner: Learner
    subscription: Subscription | None
    tz: ZoneInfo
    today: date

    @property
    def course_run(self) -> int:
        return self.subscription.course_run if self.subscription is not None else 1


class LearningService:
    """Lesson interactions, reviews, progress and the journal, one transaction per method."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        keyring: Keyring,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._content = content
        self._keyring = keyring

    # --- lesson buttons ---------------------------------------------------------------------------

    async def open_lesson(self, telegram_user_id: int, lesson_id: str) -> Touch:
        """Any press on a lesson: mark it opened and reset the unopened count."""
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return Touch(recorded=False)
            await self._opened(session, who, lesson_id, create=False)
            return Touch(recorded=True)

    async def mark_done(self, telegram_user_id: int, lesson_id: str) -> Touch:
        """Done: record it (once) and say how many review questions can follow now."""
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return Touch(recorded=False)
            row = await self._opened(session, who, lesson_id, create=True)
            assert row is not None
            already = row.done_at is not None
            if not already:
                row.done_at = self._clock.now()
            due = await self._due_reviews(session, who)
            return replace(self._next(who), already=already, reviews_waiting=len(due))

    async def skip(self, telegram_user_id: int, lesson_id: str) -> Touch:
        """Skip: no reason asked, no penalty; a lesson already done stays done."""
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return Touch(recorded=False)
            row = await self._opened(session, who, lesson_id, create=True)
            assert row is not None
            already = row.done_at is not None or row.skipped_at is not None
            if not already:
                row.skipped_at = self._clock.now()
            return replace(self._next(who), already=already)

    async def take_a_moment(self, telegram_user_id: int, lesson_id: str | None) -> Touch:
        """I need a moment: the lesson counts as opened (no reminder comes for it) and a started
        reflection is let go (the next text is not captured)."""
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return Touch(recorded=False)
            if lesson_id is not None:
                row = await self._opened(session, who, lesson_id, create=False)
                if row is not None and row.moment_at is None:
                    row.moment_at = self._clock.now()  # counted per lesson, never per person
            if _is_reflecting(who.learner.pending_action):
                who.learner.pending_action = None
            return Touch(recorded=True)

    # --- reflections ------------------------------------------------------------------------------

    async def start_reflection(
        self, telegram_user_id: int, lesson_id: str, pending_action: str
    ) -> bool:
        """Reflect: mark the lesson opened and route the learner's next text to the reflection.

        `pending_action` is the router's value for the reflect flow (handlers own its format).
        False when there is no learner to keep a reflection for.
        """
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return False
            await self._opened(session, who, lesson_id, create=False)
            who.learner.pending_action = pending_action
            return True

    async def stop_reflection(
        self, telegram_user_id: int, lesson_id: str | None = None
    ) -> ReflectionStop:
        """Cancel a started reflection. When none was waiting, say whether a reflection on
        `lesson_id` is already kept (a Cancel pressed after the reflection was sent)."""
        async with self._sessions.begin() as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is None:
                return ReflectionStop.NOTHING_OPEN
            if _is_reflecting(learner.pending_action):
                learner.pending_action = None
                learner.last_active_at = self._clock.now()
                return ReflectionStop.CANCELLED
            # Another flow's step (e.g. typing a time) is left alone.
            if lesson_id is not None:
                kept = await session.scalar(
                    select(Reflection.id)
                    .where(Reflection.learner_id == learner.id, Reflection.lesson_id == lesson_id)
                    .limit(1)
                )
                if kept is not None:
                    return ReflectionStop.ALREADY_SAVED
            return ReflectionStop.NOTHING_OPEN

    async def open_reflection(self, telegram_user_id: int) -> str | None:
        """While a reflection prompt is open: its lesson id ("" when unknown); else None."""
        async with self._sessions.begin() as session:
            learner = await learner_by_telegram_id(session, telegram_user_id, lock=True)
            if learner is None or not _is_reflecting(learner.pending_action):
                return None
            argument = (learner.pending_action or "").partition(":")[2]
            lesson_id = argument.partition(":")[0]
            return lesson_id if self._content.lesson(lesson_id) is not None else ""

    async def save_reflection(
        self, telegram_user_id: int, lesson_id: str | None, text: str
    ) -> SavedReflection | None:
        """Store text as the learner's private reflection, cleaned and encrypted, and end the
        reflect step. Raises textclean.RejectedText (NUL) and ValueError (nothing left after
        cleaning) without storing anything; None when there is no learner."""
        cleaned = clean(text)
        if not cleaned.text:
            raise ValueError("nothing to store")
        now = self._clock.now()
        async with self._sessions.begin() as session:
            # Locked: two processes must never each make this learner a data key (the second
            # would orphan what the first encrypted).
            learner = await learner_by_telegram_id(session, telegram_user_id, lock=True)
            if learner is None:
                return None
            if learner.wrapped_data_key is None:
                learner.wrapped_data_key = self._keyring.new_wrapped_key(learner.id)
            data_key = self._keyring.unwrap(learner.wrapped_data_key, learner.id)
            known = lesson_id if lesson_id and self._content.lesson(lesson_id) else None
            row = Reflection(learner_id=learner.id, lesson_id=known, created_at=now, ciphertext=b"")
            session.add(row)
            await session.flush()  # the row id binds the ciphertext to this row
            row.ciphertext = encrypt(data_key, cleaned.text, reflection_ad(learner.id, row.id))
            learner.pending_action = None
            learner.last_active_at = now
            return SavedReflection(row.id, cleaned.truncated, len(cleaned.text))

    async def journal(
        self, telegram_user_id: int, page: int = 0, page_size: int = JOURNAL_PAGE_SIZE
    ) -> JournalPage:
        """The learner's reflections, newest first, one page decrypted (page clamped to range)."""
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return JournalPage((), 0, 0, 0)
            learner = who.learner
            total = int(
                await session.scalar(
                    select(func.count())
                    .select_from(Reflection)
                    .where(Reflection.learner_id == learner.id)
                )
                or 0
            )
            pages = max(1, -(-total // page_size))
            page = min(max(page, 0), pages - 1)
            rows = (
                await session.scalars(
                    select(Reflection)
                    .where(Reflection.learner_id == learner.id)
                    .order_by(Reflection.created_at.desc(), Reflection.id.desc())
                    .offset(page * page_size)
                    .limit(page_size)
                )
            ).all()
            data_key = self._data_key(learner)
            entries = tuple(
                JournalEntry(
                    reflection_id=row.id,
                    written=row.created_at.astimezone(who.tz),
                    lesson_id=row.lesson_id,
                    text=read_reflection(data_key, learner.id, row.id, row.ciphertext),
                )
                for row in rows
            )
            return JournalPage(entries, page, pages if total else 0, total)

    # --- checks and reviews -----------------------------------------------------------------------

    async def answer_check(
        self, telegram_user_id: int, lesson_id: str, choice: int, *, review: bool = False
    ) -> AnswerResult:
        """Record an answer to a lesson's check (`review`: pressed on a review question).

        The lesson and choice must be valid (the caller checked them against the content).
        """
        lesson = self._content.lesson(lesson_id)
        if lesson is None or not 0 <= choice < len(lesson.check.answers):
            raise ValueError("no such lesson or answer")
        correct = choice == lesson.check.correct
        now = self._clock.now()
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return AnswerResult(correct=correct, recorded=False)
            await self._opened(session, who, lesson_id, create=False)
            existing = await session.scalar(
                select(Review).where(
                    Review.learner_id == who.learner.id, Review.lesson_id == lesson_id
                )
            )
            answered_today = await self._reviews_answered_today(session, who)
            counts = (
                review
                and existing is not None
                and existing.due_on <= who.today
                and answered_today < MAX_REVIEWS_PER_DAY
            )
            first_attempt = not counts and await self._first_attempt(session, who, lesson_id)
            session.add(
                CheckAnswer(
                    learner_id=who.learner.id,
                    lesson_id=lesson_id,
                    answer_index=choice,
                    correct=correct,
                    is_review=bool(counts),
                    answered_at=now,
                )
            )
            scheduled: date | None = existing.due_on if existing is not None else None
            retired = False
            if counts and existing is not None:
                answered_today += 1
                existing.right_streak = existing.right_streak + 1 if correct else 0
                if existing.right_streak >= RIGHT_IN_A_ROW_TO_RETIRE:
                    await session.delete(existing)
                    scheduled, retired = None, True
                else:
                    existing.interval_days = next_review_interval(existing.interval_days)
                    existing.due_on = who.today + timedelta(days=existing.interval_days)
                    scheduled = existing.due_on
            elif existing is None and not correct and first_attempt:
                scheduled = who.today + timedelta(days=FIRST_REVIEW_DAYS)
                session.add(
                    Review(
                        learner_id=who.learner.id,
                        lesson_id=lesson_id,
                        interval_days=FIRST_REVIEW_DAYS,
                        due_on=scheduled,
                        right_streak=0,
                    )
                )
            await session.flush()
            left = len(await self._due_reviews(session, who, answered_today=answered_today))
            return AnswerResult(
                correct=correct,
                recorded=True,
                counted_as_review=bool(counts),
                comes_back_in_days=(scheduled - who.today).days if scheduled else None,
                retired=retired,
                reviews_left_today=left,
            )

    async def next_review(self, telegram_user_id: int) -> ReviewQuestion | None:
        """The next review question that can be asked now (None: none due, or two done today)."""
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return None
            answered = await self._reviews_answered_today(session, who)
            due = await self._due_reviews(session, who, answered_today=answered)
            if not due:
                return None
            return ReviewQuestion(due[0], answered + 1, answered + len(due))

    # --- progress ---------------------------------------------------------------------------------

    async def progress(self, telegram_user_id: int) -> Progress | None:
        """Lessons done of total, streak, checks mastered, reflections, next delivery."""
        async with self._sessions.begin() as session:
            who = await self._who(session, telegram_user_id)
            if who is None:
                return None
            learner_id = who.learner.id
            rows = (
                await session.execute(
                    select(
                        LessonProgress.lesson_id,
                        LessonProgress.course_run,
                        LessonProgress.delivered_at,
                        LessonProgress.done_at,
                        LessonProgress.skipped_at,
                    ).where(LessonProgress.learner_id == learner_id)
                )
            ).all()
            in_course = {lesson.id for lesson in self._content.lessons}
            done = {
                lesson
                for lesson, run, _, done_at, _ in rows
                if run == who.course_run and done_at is not None and lesson in in_course
            }
            streak = current_streak(
                (done_at.astimezone(who.tz).date() for *_, done_at, _ in rows if done_at),
                (
                    delivered.astimezone(who.tz).date()
                    for _, _, delivered, done_at, skipped in rows
                    if done_at is None and skipped is None
                ),
                who.today,
            )
            open_reviews = (
                await session.execute(
                    select(Review.lesson_id, Review.due_on).where(Review.learner_id == learner_id)
                )
            ).all()
            reflections = await session.scalar(
                select(func.count())
                .select_from(Reflection)
                .where(Reflection.learner_id == learner_id)
            )
            sub = who.subscription
            return Progress(
                state=sub.state if sub is not None else None,
                lessons_done=len(done),
                lessons_total=len(self._content.lessons),
                streak_days=streak,
                checks_mastered=len(await mastered_checks(session, learner_id, in_course)),
                reviews_waiting=sum(
                    1
                    for lesson, due_on in open_reviews
                    if due_on <= who.today and lesson in in_course
                ),
                reflections=int(reflections or 0),
                timezone=str(who.tz.key),
                next_delivery=_local(sub.next_due_at, who.tz) if sub is not None else None,
                paused_until=_local(sub.paused_until, who.tz) if sub is not None else None,
                pattern=pattern_of(sub) if sub is not None else None,
            )

    # --- internals --------------------------------------------------------------------------------

    @staticmethod
    def _next(who: _Who) -> Touch:
        """A recorded touch that knows when the next daily lesson comes (if one is coming)."""
        sub = who.subscription
        if sub is None or sub.state != SubscriptionState.ACTIVE or sub.next_due_at is None:
            return Touch(recorded=True)
        return Touch(
            recorded=True,
            next_lesson_at=sub.next_due_at,
            timezone=str(who.tz.key),
            pattern=pattern_of(sub),
        )

    async def _who(self, session: AsyncSession, telegram_user_id: int) -> _Who | None:
        # Locked: a double press handled by two processes at once (two answers to a check, two
        # Done) runs its transactions one after the other, as it does within one process.
        learner = await learner_by_telegram_id(session, telegram_user_id, lock=True)
        if learner is None:
            return None
        subscription = await session.scalar(
            select(Subscription).where(Subscription.learner_id == learner.id)
        )
        tz = zone_or_default(subscription.timezone if subscription is not None else None)
        now = self._clock.now()
        learner.last_active_at = now
        return _Who(learner, subscription, tz, now.astimezone(tz).date())

    async def _opened(
        self, session: AsyncSession, who: _Who, lesson_id: str, *, create: bool
    ) -> LessonProgress | None:
        """Mark the lesson opened; its progress row (this run's, else the newest), created when
        asked for a lesson never delivered (e.g. found by a search and marked Done)."""
        now = self._clock.now()
        if who.subscription is not None:
            who.subscription.unopened_streak = 0
        row = await self._progress_row(session, who, lesson_id)
        if row is None and create:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            # The delivery engine may insert the same row at the same moment: keep whichever.
            await session.execute(
                insert(LessonProgress)
                .values(
                    learner_id=who.learner.id,
                    lesson_id=lesson_id,
                    course_run=who.course_run,
                    delivered_at=now,
                )
                .on_conflict_do_nothing(index_elements=["learner_id", "lesson_id", "course_run"])
            )
            row = await self._progress_row(session, who, lesson_id)
        if row is not None and row.opened_at is None:
            row.opened_at = now
        return row

    async def _progress_row(
        self, session: AsyncSession, who: _Who, lesson_id: str
    ) -> LessonProgress | None:
        rows = (
            await session.scalars(
                select(LessonProgress)
                .where(
                    LessonProgress.learner_id == who.learner.id,
                    LessonProgress.lesson_id == lesson_id,
                )
                .order_by(LessonProgress.course_run.desc())
            )
        ).all()
        for row in rows:
            if row.course_run == who.course_run:
                return row
        return rows[0] if rows else None

    async def _first_attempt(self, session: AsyncSession, who: _Who, lesson_id: str) -> bool:
        """True when the learner has not answered this lesson's check since it was delivered."""
        row = await self._progress_row(session, who, lesson_id)
        query = select(func.count()).where(
            CheckAnswer.learner_id == who.learner.id,
            CheckAnswer.lesson_id == lesson_id,
            CheckAnswer.is_review.is_(False),
        )
        if row is not None:
            query = query.where(CheckAnswer.answered_at >= row.delivered_at)
        return not await session.scalar(query)

    async def _reviews_answered_today(self, session: AsyncSession, who: _Who) -> int:
        return int(
            await session.scalar(
                select(func.count()).where(
                    CheckAnswer.learner_id == who.learner.id,
                    CheckAnswer.is_review.is_(True),
                    CheckAnswer.answered_at >= _day_start(who.today, who.tz),
                )
            )
            or 0
        )

    async def _due_reviews(
        self, session: AsyncSession, who: _Who, *, answered_today: int | None = None
    ) -> list[str]:
        """Lesson ids of reviews due now, oldest first, within today's allowance."""
        if answered_today is None:
            answered_today = await self._reviews_answered_today(session, who)
        allowance = MAX_REVIEWS_PER_DAY - answered_today
        if allowance <= 0:
            return []
        rows = (
            await session.execute(
                select(Review.lesson_id, Review.due_on)
                .where(Review.learner_id == who.learner.id, Review.due_on <= who.today)
                .order_by(Review.due_on, Review.lesson_id)
            )
        ).all()
        return [lesson for lesson, _ in rows if self._content.lesson(lesson) is not None][
            :allowance
        ]

    def _data_key(self, learner: Learner) -> bytes | None:
        if learner.wrapped_data_key is None:
            return None
        try:
            return self._keyring.unwrap(learner.wrapped_data_key, learner.id)
        except DecryptionError:
            return None


def read_reflection(
    data_key: bytes | None, learner_id: int, reflection_id: int, ciphertext: bytes
) -> str | None:
    """Decrypt one reflection; None when it cannot be (no key, or tampered with or moved)."""
    if data_key is None:
        return None
    try:
        return decrypt(data_key, ciphertext, reflection_ad(learner_id, reflection_id))
    except DecryptionError:
        return None


def _is_reflecting(pending_action: str | None) -> bool:
    """True when the learner's next text is meant as a reflection (see handlers.learning)."""
    return bool(pending_action) and f"{pending_action}:".startswith(REFLECT_FLOW + ":")


def _local(instant: datetime | None, tz: ZoneInfo) -> datetime | None:
    return instant.astimezone(tz) if instant is not None else None
