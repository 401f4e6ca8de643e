"""Pure views: domain objects in, (HTML text, buttons) out. Shared by handlers and the scheduler.

Views never import telegram; handlers turn a Screen's buttons into an InlineKeyboardMarkup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.callbacks import (
    CARD_MORE,
    CARD_SHOW,
    LESSON_ANSWER,
    LESSON_CHECK,
    LESSON_DONE,
    LESSON_MOMENT,
    LESSON_REFLECT,
    LESSON_SHOW,
    LESSON_SKIP,
    MENU_SHOW,
    encode,
)
from bot.commands import Command
from bot.content import MENUS, Card, Content, Lesson, Support

MAX_MESSAGE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Button:
    """One inline button: a text label and exactly one of callback data, URL or inline query."""

    text: str
    data: str | None = None
    url: str | None = None
    switch_inline_query: str | None = None


@dataclass(frozen=True, slots=True)
class Screen:
    """A message to send: HTML text and rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)


def escape(text: str) -> str:
    """Escape user-supplied text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def help_screen(commands: Mapping[str, Sequence[Command]]) -> Screen:
    """One screen explaining every command, grouped by section."""
    lines = ["<b>How this bot works</b>", ""]
    for section, items in commands.items():
        lines.append(f"<b>{escape(section)}</b>")
        lines.extend(f"/{c.name} - {escape(c.description)}" for c in items)
        lines.append("")
    lines.append("You can also type a few words, such as <i>stage 2</i>, to look something up.")
    return Screen("\n".join(lines).strip())


def apology_screen() -> Screen:
    """What a person sees when something went wrong on our side."""
    return Screen(
        "Sorry, something went wrong on our side and that did not work. "
        "Nothing you sent is lost; please try again in a moment. /support is always available."
    )


def unknown_command_screen() -> Screen:
    """Reply to a command the bot does not know."""
    return Screen("I don't know that command. /help lists everything I can do.")


def unsupported_message_screen() -> Screen:
    """Reply to a sticker, photo, voice note or other message the bot cannot read."""
    return Screen(
        "I can only read text messages. Type a few words to look something up, or see /help."
    )


# --- Course content: lessons, lookup cards, support ----------------------------------------------
# Authored content (lesson bodies, card summaries, support text) is trusted HTML that the content
# checker has already validated, so it is inserted as is; plain-text fields (titles) are escaped.

_LETTERS = "ABCD"


def _lesson_button(label: str, action: str, lesson: Lesson) -> Button:
    return Button(label, encode(action, lesson.id))


def lesson_screen(
    lesson: Lesson, *, course_position: int | None = None, course_length: int | None = None
) -> Screen:
    """A day's lesson; course_position is 1-based (content.lesson_index(id) + 1)."""
    parts: list[str] = []
    if lesson.content_note:
        parts.append(
            f"<b>Content note:</b> {lesson.content_note}\n"
            "<i>You can skip this lesson without giving a reason.</i>"
        )
    heading = f"<b>{escape(lesson.title)}</b>"
    if course_position is not None and course_length is not None:
        heading += f"\n<i>Lesson {course_position} of {course_length}</i>"
    parts += [heading, lesson.body, f"<b>Takeaway:</b> {lesson.takeaway}"]
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


def lesson_reflect_screen(lesson: Lesson) -> Screen:
    """The lesson's reflective prompt, inviting (never requiring) a written reply."""
    return Screen(
        f"<b>Reflect: {escape(lesson.title)}</b>\n\n{lesson.reflect}\n\n"
        "<i>Reply with a few lines if you like, or simply think it over. Your reflections are"
        " yours: they are never shown to your team lead.</i>",
        (
            (
                _lesson_button("Quick check", LESSON_CHECK, lesson),
                _lesson_button("Done", LESSON_DONE, lesson),
            ),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def lesson_check_screen(lesson: Lesson) -> Screen:
    """The lesson's knowledge check: the question, lettered answers, one button per letter."""
    check = lesson.check
    answers = "\n".join(
        f"<b>{_LETTERS[index]}.</b> {answer.text}" for index, answer in enumerate(check.answers)
    )
    return Screen(
        f"<b>Quick check: {escape(lesson.title)}</b>\n\n{check.question}\n\n{answers}",
        (
            tuple(
                Button(_LETTERS[index], encode(LESSON_ANSWER, lesson.id, index))
                for index in range(len(check.answers))
            ),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def lesson_answer_screen(lesson: Lesson, choice: int) -> Screen:
    """Feedback on the chosen answer (0-based); a gentle "try again" when it is not the one."""
    check = lesson.check
    answer = check.answers[choice]
    # Authored feedback opens with its own verdict ("Yes." / "Not quite."); echo the choice.
    if choice == check.correct:
        first_row = (_lesson_button("Reflect", LESSON_REFLECT, lesson),)
    else:
        first_row = (_lesson_button("Try again", LESSON_CHECK, lesson),)
    return Screen(
        f"<b>{_LETTERS[choice]}.</b> {answer.text}\n\n{answer.feedback}",
        (
            (*first_row, _lesson_button("Done", LESSON_DONE, lesson)),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def _card_buttons(card: Card, content: Content, *, more: bool) -> tuple[tuple[Button, ...], ...]:
    rows: list[tuple[Button, ...]] = []
    if more and card.more:
        rows.append((Button("More detail", encode(CARD_MORE, card.id)),))
    for related_id in card.related:
        related = content.card(related_id)
        if related is not None:
            rows.append((Button(related.title, encode(CARD_SHOW, related.id)),))
    lessons = content.lessons_for_card(card.id)
    if lessons:
        rows.append((Button("Related lesson", encode(LESSON_SHOW, lessons[0].id)),))
    rows.append((Button(f"Back to {MENUS[card.menu]}", encode(MENU_SHOW, card.menu)),))
    return tuple(rows)


def card_screen(card: Card, content: Content) -> Screen:
    """A lookup card: title and summary, with related cards, a related lesson and the way back."""
    return Screen(
        f"<b>{escape(card.title)}</b>\n\n{card.summary}", _card_buttons(card, content, more=True)
    )


def card_more_screen(card: Card, content: Content) -> Screen:
    """The fuller version of a card (its summary when it has none)."""
    return Screen(
        f"<b>{escape(card.title)}</b>\n\n{card.more or card.summary}",
        (
            (Button("Summary", encode(CARD_SHOW, card.id)),),
            *_card_buttons(card, content, more=False),
        ),
    )


def support_screen(support: Support) -> Screen:
    """For "I need a moment" and /support: grounding, what this bot is not, who to contact."""
    contacts = "\n".join(
        f"• <b>{escape(contact.name)}</b>: {contact.how}"
        + (f" – {contact.when}" if contact.when else "")
        for contact in support.contacts
    )
    reviewed = support.last_reviewed
    return Screen(
        f"<b>Take a moment</b>\n\n{support.grounding}\n\n{support.not_a_crisis_service}\n\n"
        f"{contacts}\n\n<i>Contacts last checked {reviewed.day} {reviewed:%B %Y}.</i>"
    )
