"""Pure views for the learner's own learning: lesson button replies, reflections,
reviews, /progress and /journal (/mydata and /forget are `bot.views.privacy`).

Domain values in, Screens out; no telegram import. The tone is calm and free of guilt: no points,
no comparisons, nothing about what was missed. Everything a person wrote is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.content.schema import Content, Lesson, Support
from bot.core.dates import capitalised, moment
from bot.core.pattern import PatternKind, describe_next
from bot.core.states import SubscriptionState
from bot.core.textclean import MAX_STORED_CHARS, shorten
from bot.results.learning import AnswerResult, JournalPage, Progress, ReflectionStop, Touch
from bot.views.callbacks import (
    JOURNAL_PAGE,
    LESSON_MOMENT,
    LESSON_SHOW,
    REFLECT_CANCEL,
    REVIEW_ANSWER,
    REVIEW_LATER,
    REVIEW_NEXT,
    SUPPORT,
    encode,
)
from bot.views.lesson import NO_NAMES, answer_letter, lesson_answer_screen, lettered_answers
from bot.views.lookup import support_screen
from bot.views.screen import Button, Screen, escape

JOURNAL_ENTRY_CHARS = 600  # five entries and their headings stay well inside one message
LESSON_GONE = "That lesson is no longer in the course. /today has your current lesson."


def _moment(lesson: Lesson) -> Button:
    return Button("I need a moment", encode(LESSON_MOMENT, lesson.id))


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


# --- Lesson buttons -------------------------------------------------------------------------------


def done_screen(touch: Touch, now: datetime) -> Screen:
    """After Done: a kind word, and the day's review questions offered (never pushed)."""
    if not touch.recorded:
        return Screen(
            "Thank you for reading it. If you would like a lesson each day and your progress"
            " kept, /start sets that up."
        )
    text = (
        "Already marked as done. Thank you."
        if touch.already
        else "Done. Thank you for making time for this today."
    )
    if (footer := _next_footer(touch, now)) is not None:
        text += f" Next lesson {footer}."
    if not touch.reviews_waiting:
        return Screen(text)
    what = (
        "two quick questions from earlier lessons"
        if touch.reviews_waiting > 1
        else "one quick question from an earlier lesson"
    )
    return Screen(
        f"{text}\n\nIf you have a minute, there {'are' if touch.reviews_waiting > 1 else 'is'}"
        f" {what}, to help what you learnt stick.",
        (
            (
                Button("Answer now", encode(REVIEW_NEXT)),
                Button("Not today", encode(REVIEW_LATER)),
            ),
        ),
    )


def skip_screen(touch: Touch, now: datetime) -> Screen:
    """After Skip: no reason asked, no penalty."""
    if touch.recorded and touch.already:
        return Screen("That lesson is already marked. Nothing else is needed.")
    footer = _next_footer(touch, now)
    return Screen(
        "Skipped. No reason needed, and it makes no difference to your progress."
        + f" Your next lesson comes {footer or 'as usual'}."
    )


def _next_footer(touch: Touch, now: datetime) -> str | None:
    """When the next lesson comes, in the pattern's words: 'on your next night shift, tomorrow
    at 19:00' on a rota, else 'tomorrow at 08:00' or 'on Thursday 10 December at 08:00'; None
    when none is coming."""
    if touch.next_lesson_at is None or touch.pattern is None:
        return None
    when = describe_next(touch.next_lesson_at, touch.pattern, touch.timezone, now)
    return when if when.startswith(("on ", "today", "tomorrow")) else f"on {when}"


def moment_screen(support: Support) -> Screen:
    """'I need a moment': grounding and contacts, and the lesson put aside without a reminder.

    Depends only on the content, so it can be shown when the database is unreachable.
    """
    base = support_screen(support)
    return Screen(
        base.text + "\n\n<i>This lesson can wait: there will be no reminder for it, and /today"
        " brings it back whenever you are ready.</i>",
        base.buttons,
    )


# --- Reflections ----------------------------------------------------------------------------------


def reflect_screen(lesson: Lesson, *, can_keep: bool) -> Screen:
    """The reflective prompt; when it can be kept, the next message is saved privately."""
    head = f"<b>Reflect: {escape(lesson.title)}</b>\n\n{lesson.reflect}\n\n"
    if not can_keep:
        return Screen(
            head + "<i>Take a moment to think it over. To keep private reflections, start the"
            " course with /start.</i>",
            ((_moment(lesson),),),
        )
    return Screen(
        head + "<i>Reply with a few lines when you are ready. Only you can see what you write: it"
        " is stored encrypted, never shown to your team lead, and /journal shows it back to"
        f" you. {NO_NAMES}</i>",
        ((_cancel(lesson.id), _moment(lesson)),),
    )


def reflection_saved_screen(*, truncated: bool, support: bool = False) -> Screen:
    """The one-line acknowledgement (plus a note when the text had to be shortened).

    `support`: the reflection matched the safety check, so the acknowledgement points to support.
    """
    text = "Saved privately in your /journal. Thank you for taking the time."
    if truncated:
        text += (
            f"\n\n<i>It was longer than I can keep, so I saved the first {MAX_STORED_CHARS:,}"
            " characters.</i>"
        )
    if not support:
        return Screen(text)
    return Screen(
        text + "\n\nWhat you wrote sounds like it may be hard to carry. Nobody reads reflections,"
        " so this bot cannot respond to them. If you or someone else is not safe, or you would"
        " like to talk to someone, support is here whenever you need it.",
        ((Button("Support and urgent contacts", encode(SUPPORT)),),),
    )


def _cancel(lesson_id: str | None) -> Button:
    """Cancel on a reflection prompt; it names the lesson so a late press can answer truly."""
    return Button("Cancel", encode(REFLECT_CANCEL, *([lesson_id] if lesson_id else [])))


def reflection_cancelled_screen(outcome: ReflectionStop = ReflectionStop.CANCELLED) -> Screen:
    """After Cancel on a reflection prompt: what actually happened (an old Cancel may be pressed
    after the reflection was sent, or after the prompt was already cancelled)."""
    if outcome == ReflectionStop.ALREADY_SAVED:
        return Screen(
            "Your reflection on this lesson is already saved privately, so there's nothing to"
            " cancel. /journal shows it."
        )
    if outcome == ReflectionStop.NOTHING_OPEN:
        return Screen(
            "No reflection is waiting any more, so there's nothing to cancel. Anything you"
            " saved is in /journal."
        )
    return Screen("No problem: nothing was saved. Type a few words any time to look something up.")


def reflection_refused_screen(lesson_id: str | None = None) -> Screen:
    """The text contained NUL: nothing was saved, the reflection is still open."""
    return Screen(
        "I couldn't save that: it contains a character that can't be stored. Please send it"
        " again without it, or press Cancel.",
        ((_cancel(lesson_id),),),
    )


def reflection_empty_screen(lesson_id: str | None = None) -> Screen:
    """Nothing was left of the text once cleaned: the reflection is still open."""
    return Screen(
        "There was nothing in that message I could save. Write a few words, or press Cancel.",
        ((_cancel(lesson_id),),),
    )


def reflection_still_open_screen(lesson_id: str | None = None) -> Screen:
    """A photo, sticker or voice note while a reflection prompt is open: only typed words can be
    kept; the prompt stays open."""
    return Screen(
        "I can only keep typed words as a reflection, so that wasn't saved. Your reflection"
        " prompt is still open: type a few lines when you're ready, or press Cancel.",
        ((_cancel(lesson_id),),),
    )


# --- Checks and reviews ---------------------------------------------------------------------------


def _review_note(result: AnswerResult) -> str:
    days = result.comes_back_in_days
    if result.retired:
        return "\n\n<i>That is twice in a row: this question won't come back.</i>"
    if days is not None and (result.counted_as_review or not result.correct):
        return (
            f"\n\n<i>This question will come back in {_count(days, 'day', 'days')}:"
            " a second look helps it stick.</i>"
        )
    return ""


def check_answer_screen(
    lesson: Lesson, choice: int, result: AnswerResult, order: Sequence[int] | None = None
) -> Screen:
    """Feedback on a lesson's check, and when the question will come back (if it will)."""
    base = lesson_answer_screen(lesson, choice, order)
    return Screen(base.text + _review_note(result), base.buttons)


def review_question_screen(
    lesson: Lesson, number: int, of: int, order: Sequence[int] | None = None
) -> Screen:
    """A review question from an earlier lesson, with lettered answers in the learner's order."""
    lines, buttons = lettered_answers(lesson, REVIEW_ANSWER, order)
    counter = f" {number} of {of}" if of > 1 else ""
    return Screen(
        f"<b>Quick review{counter}</b>\n<i>From: {escape(lesson.title)}</i>\n\n"
        f"{lesson.check.question}\n\n{lines}",
        (buttons, (Button("Not now", encode(REVIEW_LATER)), _moment(lesson))),
    )


def review_answer_screen(
    lesson: Lesson, choice: int, result: AnswerResult, order: Sequence[int] | None = None
) -> Screen:
    """Feedback on a review answer, then the next question or the end of today's reviews."""
    answer = lesson.check.answers[choice]
    text = f"<b>{answer_letter(lesson, choice, order)}.</b> {answer.text}\n\n{answer.feedback}"
    text += _review_note(result)
    if result.reviews_left_today:
        return Screen(text, ((Button("Next question", encode(REVIEW_NEXT)),),))
    return Screen(text + "\n\nThat's all the review for today.")


def no_reviews_screen() -> Screen:
    """A review button pressed when nothing is waiting (e.g. on an old message)."""
    return Screen("No review questions are waiting just now. They come with your daily lesson.")


def reviews_later_screen() -> Screen:
    """'Not today' / 'Not now': the reviews simply wait."""
    return Screen("Of course. They will wait for another day.")


# --- /progress ------------------------------------------------------------------------------------


def progress_screen(progress: Progress | None, now: datetime) -> Screen:
    """Lessons done, streak (rest days never count against it), checks, reflections, next lesson."""
    if progress is None:
        return Screen("You haven't started the course yet. /start sets up a short lesson each day.")
    streak = (
        f"{_count(progress.streak_days, 'day', 'days')} in a row"
        if progress.streak_days
        else "it starts with your next lesson"
    )
    lines = [
        "<b>Your progress</b>",
        "",
        f"Lessons done: {progress.lessons_done} of {progress.lessons_total}",
        f"Current streak: {streak} <i>(days without a lesson never count against it)</i>",
        f"Checks mastered: {progress.checks_mastered}",
        f"Reflections written: {progress.reflections}",
    ]
    if progress.reviews_waiting:
        lines.append(
            f"Review questions waiting: {progress.reviews_waiting}"
            " <i>(they come with your daily lesson)</i>"
        )
    lines += ["", _schedule_line(progress, now)]
    return Screen("\n".join(lines))


def _schedule_line(progress: Progress, now: datetime) -> str:
    zone = escape(progress.timezone)
    if progress.state == SubscriptionState.ACTIVE and progress.next_delivery is not None:
        pattern = progress.pattern
        if pattern is not None and pattern.kind == PatternKind.ROTA:
            # 'on your next night shift, Thursday at 19:00' (next_delivery is already local).
            when = describe_next(progress.next_delivery, pattern, progress.timezone, now)
            return f"Next lesson: {when} ({zone})."
        return f"Next lesson: {moment(progress.next_delivery, now=now)} ({zone})."
    if progress.state == SubscriptionState.PAUSED:
        if progress.paused_until is not None:
            return (
                f"Lessons are paused until {moment(progress.paused_until, now=now)} ({zone})."
                " /resume starts them again sooner."
            )
        return "Lessons are paused. /resume starts them again whenever you are ready."
    if progress.state == SubscriptionState.FINISHED:
        return "You have finished the course. Well done for seeing it through."
    if progress.state in (SubscriptionState.STOPPED, SubscriptionState.INACTIVE):
        return "Daily lessons are stopped. /resume brings them back whenever you like."
    if progress.state is None:
        return "You have no daily lessons set up. /start sets them up."
    if progress.state == SubscriptionState.SETUP:
        return "Your daily lessons start once you finish setting up: /start."
    return "Your next lesson will come at your usual time."


# --- /journal -------------------------------------------------------------------------------------


def _shorten(text: str, limit: int) -> tuple[str, bool]:
    shortened = shorten(text, limit)
    return shortened, shortened != text


def journal_screen(page: JournalPage, content: Content, now: datetime) -> Screen:
    """One page of the learner's reflections, newest first, with Newer/Older buttons."""
    if not page.total:
        return Screen(
            "<b>Your journal</b>\n\nNo reflections yet. When a lesson asks you to reflect, press"
            " Reflect and reply: what you write is kept here, privately, for you alone."
        )
    heading = "<b>Your journal</b>"
    if page.pages > 1:
        heading += f" (page {page.page + 1} of {page.pages})"
    parts = [heading + "\n<i>Only you can see these. /mydata downloads them all.</i>"]
    shortened = False
    for entry in page.entries:
        lesson = content.lesson(entry.lesson_id) if entry.lesson_id else None
        title = f" · {escape(lesson.title)}" if lesson is not None else ""
        if entry.text is None:
            body = "<i>This reflection could not be read.</i>"
        else:
            text, cut = _shorten(entry.text, JOURNAL_ENTRY_CHARS)
            shortened = shortened or cut
            body = escape(text)
        parts.append(f"<b>{capitalised(moment(entry.written, now=now))}</b>{title}\n{body}")
    if shortened:
        parts.append("<i>Long reflections are shortened here; /mydata has every word.</i>")
    row: list[Button] = []
    if page.page > 0:
        row.append(Button("Newer", encode(JOURNAL_PAGE, page.page - 1)))
    if page.page + 1 < page.pages:
        row.append(Button("Older", encode(JOURNAL_PAGE, page.page + 1)))
    return Screen("\n\n".join(parts), (tuple(row),) if row else ())


def uncertain_lesson_screen(lesson: Lesson) -> Screen:
    """One line and a button: a lesson whose sending was cut off may not have arrived."""
    return Screen(
        f"Your lesson <i>{escape(lesson.title)}</i> may not have reached you: the connection"
        " dropped while it was being sent.",
        ((Button("Show that lesson", encode(LESSON_SHOW, lesson.id)),),),
    )


def with_uncertain_offer(screen: Screen, lesson: Lesson) -> Screen:
    """A screen (the next lesson) with the offer of `lesson`, which may not have arrived,
    below it: its line after the text, its button after the buttons."""
    offer = uncertain_lesson_screen(lesson)
    return Screen(f"{screen.text}\n\n{offer.text}", screen.buttons + offer.buttons)
