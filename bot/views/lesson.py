"""A lesson as Telegram shows it (note, body, reflect, check, answer), shared by the handlers and
the scheduler, plus the scheduler's reminder and auto-pause screens.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.content.schema import Lesson
from bot.views.callbacks import (
    COURSE,
    LESSON_ANSWER,
    LESSON_CHECK,
    LESSON_DONE,
    LESSON_MOMENT,
    LESSON_OPEN,
    LESSON_REFLECT,
    LESSON_SKIP,
    SETTINGS,
    encode,
)
from bot.views.screen import Button, Screen, escape

# --- Course content: lessons, lookup cards, support ----------------------------------------------
# Authored content (lesson bodies, card summaries, support text) is trusted HTML that the content
# checker has already validated, so it is inserted as is; plain-text fields (titles) are escaped.

_LETTERS = "ABCD"


def _lesson_button(label: str, action: str, lesson: Lesson) -> Button:
    return Button(label, encode(action, lesson.id))


def _lesson_heading(lesson: Lesson, course_position: int | None, course_length: int | None) -> str:
    heading = f"<b>{escape(lesson.title)}</b>"
    if course_position is not None and course_length is not None:
        heading += f"\n<i>Lesson {course_position} of {course_length}</i>"
    return heading


def lesson_screen(
    lesson: Lesson, *, course_position: int | None = None, course_length: int | None = None
) -> Screen:
    """What a lesson sends first: its content note alone when it has one, else the lesson.

    course_position is 1-based (content.lesson_index(id) + 1). The note holds the lesson back:
    it comes only after Show the lesson; Skip and I need a moment work from the note as well.
    """
    if not lesson.content_note:
        return lesson_body_screen(
            lesson, course_position=course_position, course_length=course_length
        )
    return Screen(
        f"{_lesson_heading(lesson, course_position, course_length)}\n\n"
        f"<b>Content note:</b> {lesson.content_note}\n\n"
        "<i>The lesson is shown only if you ask for it. You can skip it without giving a"
        " reason, or take a moment first.</i>",
        (
            (_lesson_button("Show the lesson", LESSON_OPEN, lesson),),
            (_lesson_button("Skip", LESSON_SKIP, lesson),),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def lesson_body_screen(
    lesson: Lesson, *, course_position: int | None = None, course_length: int | None = None
) -> Screen:
    """The lesson itself: title, body and takeaway, with its buttons."""
    parts = [
        _lesson_heading(lesson, course_position, course_length),
        lesson.body,
        f"<b>Takeaway:</b> {lesson.takeaway}",
    ]
    return Screen(
        "\n\n".join(parts),
        (
            (
                _lesson_button("Reflect", LESSON_REFLECT, lesson),
                _lesson_button("Quick check", LESSON_CHECK, lesson),
            ),
            (
                _lesson_button("Done", LESSON_DONE, lesson),
                _lesson_button("Skip", LESSON_SKIP, lesson),
            ),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


NO_NAMES = "Please don't include names or details that could identify anyone you support."


def lesson_reflect_screen(lesson: Lesson) -> Screen:
    """The lesson's reflective prompt, inviting (never requiring) a written reply."""
    return Screen(
        f"<b>Reflect: {escape(lesson.title)}</b>\n\n{lesson.reflect}\n\n"
        "<i>Press Write a reflection to keep a few lines privately, or simply think it over."
        " Your reflections are yours: they are never shown to your team lead."
        f" {NO_NAMES}</i>",
        (
            # Text is captured only after this button (a reply without it is a search).
            (_lesson_button("Write a reflection", LESSON_REFLECT, lesson),),
            (
                _lesson_button("Quick check", LESSON_CHECK, lesson),
                _lesson_button("Done", LESSON_DONE, lesson),
            ),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def _order(lesson: Lesson, order: Sequence[int] | None) -> Sequence[int]:
    """The answers' display order (answer indexes); the file's order when none is given."""
    count = len(lesson.check.answers)
    if order is None or sorted(order) != list(range(count)):
        return range(count)
    return order


def answer_letter(lesson: Lesson, choice: int, order: Sequence[int] | None = None) -> str:
    """The letter an answer was shown under, in this learner's order."""
    return _LETTERS[list(_order(lesson, order)).index(choice)]


def lettered_answers(
    lesson: Lesson, action: str, order: Sequence[int] | None
) -> tuple[str, tuple[Button, ...]]:
    """The answers as lettered lines in display order, and one button per letter.

    A button's data names the answer by its index in the file (a stable id), never by where it
    was shown, so an old message's buttons keep meaning the answer they showed.
    """
    shown = _order(lesson, order)
    answers = lesson.check.answers
    lines = "\n".join(
        f"<b>{_LETTERS[place]}.</b> {answers[index].text}" for place, index in enumerate(shown)
    )
    buttons = tuple(
        Button(_LETTERS[place], encode(action, lesson.id, index))
        for place, index in enumerate(shown)
    )
    return lines, buttons


def lesson_check_screen(lesson: Lesson, order: Sequence[int] | None = None) -> Screen:
    """The lesson's knowledge check: the question, lettered answers in the learner's order."""
    lines, buttons = lettered_answers(lesson, LESSON_ANSWER, order)
    return Screen(
        f"<b>Quick check: {escape(lesson.title)}</b>\n\n{lesson.check.question}\n\n{lines}",
        (buttons, (_lesson_button("I need a moment", LESSON_MOMENT, lesson),)),
    )


def lesson_answer_screen(lesson: Lesson, choice: int, order: Sequence[int] | None = None) -> Screen:
    """Feedback on the chosen answer (its index); a gentle "try again" when it is not the one."""
    check = lesson.check
    answer = check.answers[choice]
    # Authored feedback opens with its own verdict ("Yes." / "Not quite."); echo the choice.
    if choice == check.correct:
        first_row = (_lesson_button("Reflect", LESSON_REFLECT, lesson),)
    else:
        first_row = (_lesson_button("Try again", LESSON_CHECK, lesson),)
    return Screen(
        f"<b>{answer_letter(lesson, choice, order)}.</b> {answer.text}\n\n{answer.feedback}",
        (
            (*first_row, _lesson_button("Done", LESSON_DONE, lesson)),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def reminder_screen(lesson: Lesson) -> Screen:
    """The one gentle reminder for a lesson not opened yet: no guilt, easy to turn off."""
    return Screen(
        f"Today's lesson is here whenever you have two minutes: <b>{escape(lesson.title)}</b>.\n\n"
        "No rush, and it's fine to skip it.",
        (
            (Button("Open the lesson", encode(COURSE, "today")),),
            (Button("No more reminders", encode(SETTINGS, "rem", "off")),),
        ),
    )


def auto_paused_screen() -> Screen:
    """Sent instead of a fourth lesson when the last three were left unopened."""
    return Screen(
        "I've paused your daily lessons for now, as the last few haven't been opened. "
        "That's completely fine: work and life get busy.\n\n"
        "Whenever you're ready, pick up where you left off. Nothing is lost, and there is no "
        "backlog waiting. /support is always there.",
        ((Button("Resume lessons", encode(COURSE, "resume")),),),
    )
