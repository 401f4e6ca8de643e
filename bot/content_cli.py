"""`python -m bot lessons check` and `python -m bot lessons preview ID`, as plain functions.

The command line wiring lives in bot.__main__; these take the lessons folder and an output stream
so tests can call them directly.
"""

from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import TextIO

from bot.content.schema import MENUS, ContentError, Problem
from bot.views.checks import check_course, load_course
from bot.views.lesson import (
    lesson_answer_screen,
    lesson_body_screen,
    lesson_check_screen,
    lesson_reflect_screen,
    lesson_screen,
)
from bot.views.lookup import card_more_screen, card_screen, support_screen
from bot.views.screen import Screen

SUPPORT_ID = "support"


def run_check(lessons_dir: Path, out: TextIO, support_file: Path | None = None) -> int:
    """Print every content problem as `file: field: message` (or an OK summary); 0 when clean."""
    problems = check_course(lessons_dir, support_file)
    if problems:
        _print_problems(problems, out)
        return 1
    content = load_course(lessons_dir, support_file)
    with_more = sum(1 for card in content.cards if card.more)
    print(
        f"OK: course {content.course.id!r}: {len(content.lessons)} lessons,"
        f" {len(content.cards)} cards ({with_more} with more detail) in {len(MENUS)} menus,"
        f" {len(content.support.contacts)} support contacts"
        f" (last reviewed {content.support.last_reviewed.isoformat()}); coverage complete.",
        file=out,
    )
    return 0


def run_preview(lessons_dir: Path, item_id: str, out: TextIO) -> int:
    """Print a lesson or card (or `support`) exactly as the bot sends it; 0 when found."""
    try:
        content = load_course(lessons_dir)
    except ContentError as exc:
        _print_problems(exc.problems, out)
        return 1
    lesson = content.lesson(item_id)
    card = content.card(item_id)
    if lesson is not None:
        place = {
            "course_position": content.lesson_index(lesson.id) + 1,
            "course_length": len(content.lessons),
        }
        _print_screen(lesson_screen(lesson, **place), out)
        if lesson.content_note:
            _print_screen(lesson_body_screen(lesson, **place), out, after="Show the lesson")
        _print_screen(lesson_reflect_screen(lesson), out, after="Reflect")
        _print_screen(lesson_check_screen(lesson), out, after="Quick check")
        for index in range(len(lesson.check.answers)):
            _print_screen(lesson_answer_screen(lesson, index), out, after="ABCD"[index])
    elif card is not None:
        _print_screen(card_screen(card, content), out)
        if card.content_note:
            _print_screen(card_screen(card, content, opened=True), out, after="Show the card")
        if card.more:
            _print_screen(card_more_screen(card, content), out, after="More detail")
    elif item_id == SUPPORT_ID:
        _print_screen(support_screen(content.support), out)
    else:
        known = [lesson.id for lesson in content.lessons] + [card.id for card in content.cards]
        print(f"No lesson or card with id {item_id!r}.", file=out)
        close = get_close_matches(item_id, [*known, SUPPORT_ID], n=5, cutoff=0.5)
        if close:
            print(f"Did you mean: {', '.join(close)}?", file=out)
        return 1
    return 0


def _print_problems(problems: list[Problem], out: TextIO) -> None:
    for problem in problems:
        print(problem, file=out)
    noun = "problem" if len(problems) == 1 else "problems"
    print(f"{len(problems)} {noun} found.", file=out)


def _print_screen(screen: Screen, out: TextIO, *, after: str | None = None) -> None:
    if after is not None:
        print(f"\n----- after [{after}] -----", file=out)
    print(screen.text, file=out)
    for row in screen.buttons:
        print(" ".join(f"[{button.text}]" for button in row), file=out)
