"""Every screen the course produces, rendered and checked as Telegram would check it: length in
UTF-16 units after parsing, HTML, button labels and callback data.

Handed to `bot.content.loader` as ``screens=`` by the composition roots and `lessons check`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bot.content.html import MAX_MESSAGE_CHARS, html_errors, html_to_text, visible_length
from bot.content.loader import Sources, check_content, load_content
from bot.content.schema import MAX_SENT_CHARS, Content, Lesson, Problem
from bot.core.textclean import utf16_len
from bot.views.callbacks import MAX_CALLBACK_BYTES
from bot.views.learning import with_uncertain_offer
from bot.views.lesson import (
    lesson_answer_screen,
    lesson_body_screen,
    lesson_check_screen,
    lesson_reflect_screen,
    lesson_screen,
)
from bot.views.lookup import card_more_screen, card_screen, disclosure_screen, support_screen
from bot.views.screen import Screen


def check_screens(content: Content, sources: Sources) -> list[Problem]:
    """Render every screen the content produces and check it as Telegram would."""
    problems: list[Problem] = []
    lesson_files, card_files = sources.lessons, sources.cards
    total = len(content.lessons)
    renders: list[tuple[str, str, Callable[[], Screen]]] = []
    # The longest offer of a lesson that may not have arrived, which a lesson can carry.
    offered = max(content.lessons, key=lambda lesson: len(lesson.title), default=None)
    for position, lesson in enumerate(content.lessons, start=1):
        shown = lesson_files[lesson.id]
        body = partial(lesson_body_screen, lesson, course_position=position, course_length=total)
        first = partial(lesson_screen, lesson, course_position=position, course_length=total)
        if offered is not None:
            offer = partial(_with_offer, first, offered)
            renders.append((shown, "(screen with an offer)", offer))
        renders += [
            (shown, "(screen)", first),
            (shown, "(lesson screen)", body),
            (shown, "(reflect screen)", partial(lesson_reflect_screen, lesson)),
            (shown, "(check screen)", partial(lesson_check_screen, lesson)),
        ]
        renders += [
            (shown, f"(answer {index} screen)", partial(lesson_answer_screen, lesson, index))
            for index in range(len(lesson.check.answers))
        ]
        sent = visible_length(body().text) + visible_length(lesson.content_note or "")
        if sent > MAX_SENT_CHARS:
            problems.append(
                Problem(
                    shown,
                    "(lesson screen)",
                    f"is {sent} characters as sent (title, content note, body and takeaway);"
                    f" the limit is {MAX_SENT_CHARS}",
                )
            )
    for card in content.cards:
        shown = card_files[card.id]
        renders.append((shown, "(screen)", partial(card_screen, card, content)))
        if card.content_note is not None:
            renders.append(
                (shown, "(opened screen)", partial(card_screen, card, content, opened=True))
            )
        if card.more is not None:
            renders.append((shown, "(more screen)", partial(card_more_screen, card, content)))
    shown = sources.support
    renders += [
        (shown, "(screen)", partial(support_screen, content.support)),
        (shown, "(disclosure screen)", partial(disclosure_screen, content.support)),
    ]
    for shown, field, render in renders:
        _check_screen(render, shown, field, problems)
    return problems


def _check_screen(
    render: Callable[[], Screen], shown: str, field: str, problems: list[Problem]
) -> None:
    try:
        screen = render()
    except ValueError as exc:  # callbacks.encode refuses data over 64 bytes
        problems.append(Problem(shown, field, f"cannot be rendered: {exc}"))
        return
    problems.extend(screen_problems(screen, shown, field))


def screen_problems(screen: Screen, shown: str, field: str) -> list[Problem]:
    """What Telegram would reject in a rendered Screen: length, HTML, button labels and data."""
    problems: list[Problem] = []
    length = utf16_len(html_to_text(screen.text))  # as Telegram counts, after parsing
    if length > MAX_MESSAGE_CHARS:
        problems.append(Problem(shown, field, f"is {length} characters; Telegram allows 4096"))
    problems.extend(Problem(shown, field, error) for error in html_errors(screen.text))
    for row in screen.buttons:
        for button in row:
            label = f"button [{button.text}]"
            if not re.search(r"\w", button.text):
                problems.append(Problem(shown, field, f"{label} needs a text label"))
            targets = [t for t in (button.data, button.url, button.switch_inline_query) if t]
            if len(targets) != 1:
                problems.append(Problem(shown, field, f"{label} needs exactly one action"))
            if button.data is not None and len(button.data.encode()) > MAX_CALLBACK_BYTES:
                problems.append(
                    Problem(
                        shown,
                        field,
                        f"{label} callback data is {len(button.data.encode())} bytes;"
                        f" Telegram allows {MAX_CALLBACK_BYTES}",
                    )
                )
    return problems


def load_course(lessons_dir: Path, support_file: Path | None = None) -> Content:
    """The content with every screen checked, as the bot starts with it (ContentError if not)."""
    return load_content(lessons_dir, support_file, screens=check_screens)


def check_course(lessons_dir: Path, support_file: Path | None = None) -> list[Problem]:
    """Every problem in the content and its screens, as `lessons check` reports them."""
    return check_content(lessons_dir, support_file, screens=check_screens)


def _with_offer(render: Callable[[], Screen], offered: Lesson) -> Screen:
    return with_uncertain_offer(render(), offered)
