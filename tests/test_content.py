"""The course content: the shipped lessons pass the check, and each kind of breakage is caught.

Broken examples are small edits to a copy of the shipped content in tmp_path, so every test names
exactly one fault and the file and field the checker must point at.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content.html import html_errors, visible_length
from bot.content.loader import _normalise
from bot.content.schema import (
    MAX_BODY_CHARS,
    MAX_SENT_CHARS,
    MENUS,
    Content,
    ContentError,
    Problem,
    answer_order,
    lesson_text,
)
from bot.content_cli import run_check, run_preview
from bot.views.callbacks import (
    CARD_MORE,
    CARD_OPEN,
    CARD_SHOW,
    LESSON_ANSWER,
    LESSON_MOMENT,
    LESSON_OPEN,
    LESSON_SHOW,
    LESSON_SKIP,
    MENU_SHOW,
    Callback,
    decode,
)
from bot.views.checks import check_course, load_course, screen_problems
from bot.views.lesson import (
    lesson_answer_screen,
    lesson_body_screen,
    lesson_check_screen,
    lesson_reflect_screen,
    lesson_screen,
)
from bot.views.lookup import card_more_screen, card_screen, menu_screen, support_screen
from bot.views.screen import Button, Screen

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"

REQUIRED_CARDS = [
    "listen",
    "stages",
    "stage-1",
    "stage-2",
    "stage-3",
    "triangle",
    "triangle-instability",
    "triangle-trust",
    "triangle-working-through",
    "triangle-insight",
    "triangle-future",
    "attachment",
    "attachment-secure",
    "attachment-avoidant",
    "attachment-ambivalent",
    "attachment-disorganised",
    "resilience",
    "resilience-domains",
    "resilience-building",
    "questions",
    "talking",
    "wellbeing",
    "behaviour",
]


@pytest.fixture(scope="module")
def content() -> Content:
    """The shipped content, loaded once."""
    return load_course(LESSONS)


@pytest.fixture
def lessons(tmp_path: Path) -> Path:
    """A writable copy of the shipped lessons folder, to break."""
    copy = tmp_path / "lessons"
    shutil.copytree(LESSONS, copy)
    return copy


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _check_output(lessons_dir: Path, support_file: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check(lessons_dir, out, support_file)
    return code, out.getvalue()


# --- The shipped content --------------------------------------------------------------------------


def test_shipped_content_passes_the_check() -> None:
    assert check_course(LESSONS) == []
    code, output = _check_output(LESSONS)
    assert code == 0
    assert output.startswith("OK: course 'working-with-trauma': 32 lessons, 28 cards")


def test_every_lesson_has_a_reflective_prompt_and_a_knowledge_check(content: Content) -> None:
    assert 24 <= len(content.lessons) <= 32
    for lesson in content.lessons:
        assert lesson.reflect.strip(), lesson.id
        assert 3 <= len(lesson.check.answers) <= 4, lesson.id
        assert 0 <= lesson.check.correct < len(lesson.check.answers), lesson.id
        assert all(answer.feedback.strip() for answer in lesson.check.answers), lesson.id
        assert len(lesson.body) <= MAX_BODY_CHARS, lesson.id


def test_lessons_touching_abuse_violence_self_harm_or_substances_carry_a_content_note(
    content: Content,
) -> None:
    sensitive = ("abuse", "abusive", "violence", "self-injury", "self-harm", "substance")
    for lesson in content.lessons:
        text = (lesson.body + lesson.title).casefold()
        if any(word in text for word in sensitive):
            assert lesson.content_note, f"{lesson.id} needs a content_note"


def test_the_cards_other_features_rely_on_exist(content: Content) -> None:
    for card_id in REQUIRED_CARDS:
        assert content.card(card_id) is not None, card_id
    for menu in MENUS:
        overview = content.card(menu)
        assert overview is not None and overview.menu == menu
    assert content.card("stages") is not None
    assert content.card("stages").related[:3] == ["stage-1", "stage-2", "stage-3"]  # type: ignore[union-attr]


def test_cards_in_menu_follow_the_overview_order(content: Content) -> None:
    assert [card.id for card in content.cards_in_menu("stages")] == [
        "stages",
        "stage-1",
        "stage-2",
        "stage-3",
    ]
    assert [card.id for card in content.cards_in_menu("triangle")] == [
        "triangle",
        "triangle-instability",
        "triangle-trust",
        "triangle-working-through",
        "triangle-insight",
        "triangle-future",
    ]
    assert content.cards_in_menu("no-such-menu") == []


def test_content_lookups(content: Content) -> None:
    assert content.lesson("welcome") is content.lessons[0]
    assert content.lesson("nope") is None
    assert content.lesson_index("welcome") == 0
    assert content.lesson_index(content.lessons[-1].id) == len(content.lessons) - 1
    with pytest.raises(KeyError):
        content.lesson_index("nope")
    assert [lesson.id for lesson in content.lessons_for_card("stage-2")] == [
        "stage-two-remembrance"
    ]
    assert content.lessons_for_card("nope") == []


def test_cards_have_generous_aliases(content: Content) -> None:
    for card in content.cards:
        assert len(card.aliases) >= 5, card.id
    aliases = {alias for card in content.cards for alias in card.aliases}
    for word in ("disclosure", "what to say", "clingy", "boundaries", "routine", "remembrance"):
        assert word in aliases
    assert "secure base" in aliases and "self care" in aliases


def test_support_has_the_uk_contacts_and_a_review_date(content: Content) -> None:
    text = support_screen(content.support).text
    for number in ("999", "111", "116 123", "85258"):
        assert number in text
    assert "not a crisis service" in text
    assert content.support.last_reviewed.isoformat() == "2026-11-27"


# --- Views ----------------------------------------------------------------------------------------


def test_a_lesson_with_a_content_note_sends_the_note_alone_first(content: Content) -> None:
    lesson = content.lesson("disorganised-attachment")
    assert lesson is not None and lesson.content_note
    screen = lesson_screen(lesson, course_position=8, course_length=32)
    assert lesson.content_note in screen.text and "Lesson 8 of 32" in screen.text
    assert lesson.body not in screen.text and lesson.takeaway not in screen.text
    labels = [button.text for row in screen.buttons for button in row]
    assert labels == ["Show the lesson", "Skip", "I need a moment"]
    actions = {button.text: decode(button.data) for row in screen.buttons for button in row}
    assert actions["Show the lesson"] == Callback(LESSON_OPEN, (lesson.id,))
    assert actions["Skip"] == Callback(LESSON_SKIP, (lesson.id,))
    assert actions["I need a moment"] == Callback(LESSON_MOMENT, (lesson.id,))
    body = lesson_body_screen(lesson, course_position=8, course_length=32)
    assert lesson.body in body.text and "Content note" not in body.text
    assert body.text.rstrip().endswith(lesson.takeaway)
    labels = [button.text for row in body.buttons for button in row]
    assert labels == ["Reflect", "Quick check", "Done", "Skip", "I need a moment"]


def test_cards_with_the_lessons_material_carry_the_note_too(content: Content) -> None:
    for card_id in ("attachment-disorganised", "questions-trusted-adults", "stage-2"):
        card = content.card(card_id)
        assert card is not None and card.content_note, card_id
        note = card_screen(card, content)
        assert card.content_note in note.text and card.summary not in note.text
        assert note.buttons[0][0].data == f"{CARD_OPEN}:{card_id}"
        assert card.summary in card_screen(card, content, opened=True).text
    stages = content.card("stages")
    assert stages is not None and stages.content_note
    menu = menu_screen("stages", content)
    assert stages.summary not in menu.text and stages.content_note in menu.text
    assert stages.summary in menu_screen("stages", content, opened=True).text


def test_the_four_model_lessons_say_patterns_not_people(content: Content) -> None:
    for lesson_id in (
        "secure-attachment",
        "avoidant-attachment",
        "ambivalent-attachment",
        "disorganised-attachment",
    ):
        lesson = content.lesson(lesson_id)
        assert lesson is not None
        assert "patterns, not people" in lesson.body, lesson_id
        assert "in yourself is common" in lesson.body, lesson_id


def test_the_disorganised_lesson_closes_with_the_packs_hopeful_lines(content: Content) -> None:
    lesson = content.lesson("disorganised-attachment")
    assert lesson is not None
    assert "behaviour is a means of communication" in lesson.takeaway.casefold()
    assert "heal and thrive despite past experiences" in lesson.takeaway
    assert "links the disorganised model to abuse" not in lesson_text(lesson)


def test_listen_is_pointed_out_early_in_the_course(content: Content) -> None:
    assert any("/listen" in lesson.body for lesson in content.lessons[1:3])


def test_reflect_prompts_are_about_work_never_the_learners_own_past(content: Content) -> None:
    personal = ("your childhood", "your own childhood", "your family", "your parents", "yourself?")
    for lesson in content.lessons:
        prompt = lesson.reflect.casefold()
        assert not any(word in prompt for word in personal), lesson.id
        assert any(
            word in prompt
            for word in (
                "you support",
                "at work",
                "your service",
                "your team",
                "your role",
                "your work",
                "your assessments",
                "your service's",
                "course",
            )
        ), lesson.id


def test_the_reflect_screens_ask_for_no_identifying_details(content: Content) -> None:
    lesson = content.lessons[0]
    assert "names or details that could identify" in lesson_reflect_screen(lesson).text


def test_heavy_lessons_never_run_more_than_two_days_in_a_row(content: Content) -> None:
    run = longest = 0
    for lesson in content.lessons:
        run = run + 1 if lesson.content_note else 0
        longest = max(longest, run)
    assert longest <= 2


def test_every_lesson_fits_the_limits_as_sent(content: Content) -> None:
    total = len(content.lessons)
    for position, lesson in enumerate(content.lessons, start=1):
        body = lesson_body_screen(lesson, course_position=position, course_length=total)
        sent = visible_length(body.text) + visible_length(lesson.content_note or "")
        assert sent <= MAX_SENT_CHARS, (lesson.id, sent)
        assert len(lesson.body) <= MAX_BODY_CHARS, lesson.id


def test_answer_order_is_stable_per_learner_and_varies_between_them(content: Content) -> None:
    lesson = content.lesson("welcome")
    assert lesson is not None
    count = len(lesson.check.answers)
    assert answer_order(lesson, 42) == answer_order(lesson, 42)
    assert sorted(answer_order(lesson, 42)) == list(range(count))
    orders = {answer_order(lesson, learner) for learner in range(1, 60)}
    assert len(orders) > 3
    # One learner sees the right answer in different places across the course.
    places = {answer_order(item, 42).index(item.check.correct) for item in content.lessons}
    assert len(places) >= 3


def test_shuffled_check_buttons_name_answers_by_their_stable_index(content: Content) -> None:
    lesson = content.lesson("welcome")
    assert lesson is not None
    order = (2, 0, 1)
    screen = lesson_check_screen(lesson, order)
    buttons = screen.buttons[0]
    assert [b.text for b in buttons] == ["A", "B", "C"]
    assert [decode(b.data) for b in buttons] == [
        Callback(LESSON_ANSWER, (lesson.id, str(index))) for index in order
    ]
    assert screen.text.index(lesson.check.answers[2].text) < screen.text.index(
        lesson.check.answers[0].text
    )
    assert lesson_answer_screen(lesson, 0, order).text.startswith("<b>B.</b>")


def test_lesson_screen_without_a_note_starts_with_the_title(content: Content) -> None:
    lesson = content.lessons[0]
    assert lesson.content_note is None
    assert lesson_screen(lesson).text.startswith(f"<b>{lesson.title}</b>\n\n")


def test_check_and_answer_screens(content: Content) -> None:
    lesson = content.lessons[0]
    check = lesson_check_screen(lesson)
    answer_buttons = check.buttons[0]
    assert [b.text for b in answer_buttons] == ["A", "B", "C"][: len(lesson.check.answers)]
    assert decode(answer_buttons[1].data) == Callback(LESSON_ANSWER, (lesson.id, "1"))
    right = lesson_answer_screen(lesson, lesson.check.correct)
    wrong = lesson_answer_screen(lesson, (lesson.check.correct + 1) % len(lesson.check.answers))
    assert "Yes" in right.text and "Try again" not in str(right.buttons)
    assert any(b.text == "Try again" for row in wrong.buttons for b in row)


def test_card_screen_links_related_cards_the_lesson_and_the_menu(content: Content) -> None:
    card = content.card("stage-1")
    assert card is not None
    screen = card_screen(card, content)
    assert screen.text.startswith(f"<b>{card.title}</b>\n\n")
    data = [decode(b.data) for row in screen.buttons for b in row]
    assert Callback(CARD_SHOW, ("stage-2",)) in data
    assert Callback(LESSON_SHOW, ("stage-one-safety",)) in data
    assert data[-1] == Callback(MENU_SHOW, ("stages",))
    assert screen.buttons[-1][0].text == "Back to Stages of recovery"


def test_card_with_more_offers_the_fuller_version(content: Content) -> None:
    card = content.card("listen")
    assert card is not None and card.more
    first = card_screen(card, content).buttons[0][0]
    assert (first.text, first.data) == ("More detail", f"{CARD_MORE}:listen")
    more = card_more_screen(card, content)
    assert card.more in more.text


# --- Preview --------------------------------------------------------------------------------------


def test_preview_prints_a_lesson_as_sent(content: Content) -> None:
    out = io.StringIO()
    assert run_preview(LESSONS, "welcome", out) == 0
    printed = out.getvalue()
    expected = lesson_screen(content.lessons[0], course_position=1, course_length=32)
    assert printed.startswith(expected.text + "\n[Reflect] [Quick check]\n[Done] [Skip]\n")
    assert "after [Quick check]" in printed


def test_preview_prints_a_card_and_support() -> None:
    out = io.StringIO()
    assert run_preview(LESSONS, "triangle", out) == 0
    assert "[Instability: sharing boundaries]" in out.getvalue()
    out = io.StringIO()
    assert run_preview(LESSONS, "support", out) == 0
    assert "116 123" in out.getvalue()


def test_preview_of_an_unknown_id_suggests_close_ones() -> None:
    out = io.StringIO()
    assert run_preview(LESSONS, "stage1", out) == 1
    assert "No lesson or card with id 'stage1'" in out.getvalue()
    assert "stage-1" in out.getvalue()


# --- Broken examples: each fails with its file and field ------------------------------------------


def _set(path: str, key: str, value: Any) -> Callable[[Path], None]:
    def apply(lessons_dir: Path) -> None:
        def change(data: dict[str, Any]) -> None:
            target = data
            *parents, last = key.split(".")
            for part in parents:
                target = target[int(part)] if isinstance(target, list) else target[part]
            target[last] = value

        _edit(lessons_dir / path, change)

    return apply


def _write(path: str, text: str) -> Callable[[Path], None]:
    def apply(lessons_dir: Path) -> None:
        (lessons_dir / path).write_text(text, encoding="utf-8")

    return apply


def _copy_lesson_as(new_id: str) -> Callable[[Path], None]:
    def apply(lessons_dir: Path) -> None:
        data = yaml.safe_load((lessons_dir / "welcome.yaml").read_text(encoding="utf-8"))
        data["id"] = new_id
        (lessons_dir / f"{new_id}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")

    return apply


def _answers(count: int) -> list[dict[str, str]]:
    return [
        {"text": f"Answer {i}", "feedback": "Yes." if i == 0 else "Not quite."}
        for i in range(count)
    ]


def _duplicate_key(lessons_dir: Path) -> None:
    path = lessons_dir / "welcome.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "title: Again\n", encoding="utf-8")


def _duplicate_card(lessons_dir: Path) -> None:
    shutil.copy(lessons_dir / "cards" / "listen.yaml", lessons_dir / "cards" / "listen-copy.yaml")


def _append_to_course(lesson_id: str) -> Callable[[Path], None]:
    def apply(lessons_dir: Path) -> None:
        _edit(lessons_dir / "course.yaml", lambda data: data["lessons"].append(lesson_id))

    return apply


def _unreachable_card(lessons_dir: Path) -> None:
    _edit(lessons_dir / "cards" / "stages.yaml", lambda data: data["related"].remove("stage-3"))


BROKEN: dict[str, tuple[Callable[[Path], object], str, str, str]] = {
    # name: (breakage, file, field, message fragment)
    "unknown key": (_set("welcome.yaml", "summary", "x"), "welcome.yaml", "summary", "unknown key"),
    "unknown key in a card": (
        _set("cards/listen.yaml", "colour", "red"),
        "cards/listen.yaml",
        "colour",
        "unknown key",
    ),
    "missing field": (
        lambda d: _edit(d / "welcome.yaml", lambda data: data.pop("reflect")),
        "welcome.yaml",
        "reflect",
        "required field is missing",
    ),
    "key given twice": (_duplicate_key, "welcome.yaml", "line", "given twice"),
    "invalid id": (_set("welcome.yaml", "id", "Welcome_1"), "welcome.yaml", "id", "not a valid id"),
    "id not matching file name": (
        _set("welcome.yaml", "id", "hello"),
        "welcome.yaml",
        "id",
        "must match the file name",
    ),
    "duplicate card id": (_duplicate_card, "cards/listen.yaml", "id", "duplicate id 'listen'"),
    "card id that is also a lesson id": (
        lambda d: (_copy_lesson_as("listen")(d), _append_to_course("listen")(d)),
        "cards/listen.yaml",
        "id",
        "also a lesson id",
    ),
    "lesson missing from the course": (
        _copy_lesson_as("extra-lesson"),
        "extra-lesson.yaml",
        "id",
        "not in the course's lessons list",
    ),
    "course entry without a file": (
        _append_to_course("no-such-lesson"),
        "course.yaml",
        "lessons.32",
        "no lesson file no-such-lesson.yaml",
    ),
    "course entry twice": (
        _append_to_course("welcome"),
        "course.yaml",
        "lessons.32",
        "listed twice",
    ),
    "right answer longest by a wide margin": (
        _set(
            "welcome.yaml",
            "check",
            {
                "question": "Which?",
                "answers": [
                    {
                        "text": "A long and detailed right answer that says a lot",
                        "feedback": "Yes.",
                    },
                    {"text": "Short wrong one", "feedback": "Not quite."},
                    {"text": "Another short one", "feedback": "Not quite."},
                ],
                "correct": 0,
            },
        ),
        "welcome.yaml",
        "check.correct",
        "longer than every other answer by a wide margin",
    ),
    "answer pointing at others by position": (
        _set(
            "welcome.yaml",
            "check",
            {
                "question": "Which?",
                "answers": [
                    {"text": "Listening first", "feedback": "Not quite."},
                    {"text": "Asking questions", "feedback": "Not quite."},
                    {"text": "Both of the above", "feedback": "Yes."},
                ],
                "correct": 2,
            },
        ),
        "welcome.yaml",
        "check.answers",
        "refers to other answers by position",
    ),
    "lesson too long as sent": (
        lambda d: (
            _set("welcome.yaml", "body", "Words. " * 128)(d),
            _set("welcome.yaml", "takeaway", "More words. " * 20)(d),
        ),
        "welcome.yaml",
        "(lesson screen)",
        "as sent (title, content note, body and takeaway); the limit is 1000",
    ),
    "card about abuse without a content note": (
        _set("cards/basics.yaml", "summary", "Some people have experienced abuse."),
        "cards/basics.yaml",
        "content_note",
        "mentions abuse: add a content_note",
    ),
    "lesson about substance use without a content note": (
        _set("welcome.yaml", "takeaway", "Substance use can be a way of coping."),
        "welcome.yaml",
        "content_note",
        "mentions substance",
    ),
    "body too long": (
        _set("welcome.yaml", "body", "x" * 901),
        "welcome.yaml",
        "body",
        "is 901 characters; the limit is 900",
    ),
    "card summary too long": (
        _set("cards/listen.yaml", "summary", "x" * 1001),
        "cards/listen.yaml",
        "summary",
        "the limit is 1000",
    ),
    "card more too long": (
        _set("cards/listen.yaml", "more", "x" * 4097),
        "cards/listen.yaml",
        "more",
        "the limit is 4096",
    ),
    "rendered screen too long": (
        _set("cards/listen.yaml", "more", "x" * 4090),
        "cards/listen.yaml",
        "(more screen)",
        "Telegram allows 4096",
    ),
    "tag Telegram rejects": (
        _set("welcome.yaml", "body", "<p>Hello</p>"),
        "welcome.yaml",
        "body",
        "tag <p> is not allowed",
    ),
    "unclosed tag": (
        _set("welcome.yaml", "takeaway", "<b>Hello"),
        "welcome.yaml",
        "takeaway",
        "<b> is never closed",
    ),
    "crossed tags": (
        _set("cards/listen.yaml", "summary", "<b><i>x</b></i>"),
        "cards/listen.yaml",
        "summary",
        "</b> found where </i> was expected",
    ),
    "link without href": (
        _set("welcome.yaml", "body", "<a>here</a>"),
        "welcome.yaml",
        "body",
        "<a> needs an href",
    ),
    "bare ampersand": (
        _set("welcome.yaml", "reflect", "Safety & stability"),
        "welcome.yaml",
        "reflect",
        "bare &",
    ),
    "bare less-than": (
        _set("welcome.yaml", "check.question", "Is 2 < 3?"),
        "welcome.yaml",
        "check.question",
        "bare < or >",
    ),
    "markup in a title (it is a button label)": (
        _set("cards/stage-1.yaml", "title", "Stage 1 &amp; safety"),
        "cards/stage-1.yaml",
        "title",
        "plain text only",
    ),
    "correct answer out of range": (
        _set("welcome.yaml", "check.correct", 3),
        "welcome.yaml",
        "check.correct",
        "3 is not an answer",
    ),
    "more than one correct answer": (
        _set("welcome.yaml", "check.correct", [0, 1]),
        "welcome.yaml",
        "check.correct",
        "exactly one answer is correct",
    ),
    "correct index pointing at the wrong answer": (
        _set("welcome.yaml", "check.correct", 1),
        "welcome.yaml",
        "check.correct",
        "does `correct` point at the right answer",
    ),
    "too few answers": (
        _set("welcome.yaml", "check.answers", _answers(2)),
        "welcome.yaml",
        "check.answers",
        "at least 3",
    ),
    "too many answers": (
        _set("welcome.yaml", "check.answers", _answers(5)),
        "welcome.yaml",
        "check.answers",
        "at most 4",
    ),
    "lesson refers to a missing card": (
        _set("welcome.yaml", "cards", ["no-such-card"]),
        "welcome.yaml",
        "cards.0",
        "unknown card 'no-such-card'",
    ),
    "card relates to a missing card": (
        _set("cards/listen.yaml", "related", ["talking", "no-such-card"]),
        "cards/listen.yaml",
        "related.1",
        "unknown card 'no-such-card'",
    ),
    "unknown menu": (
        _set("cards/stage-1.yaml", "menu", "stagez"),
        "cards/stage-1.yaml",
        "menu",
        "unknown menu 'stagez'",
    ),
    "card its menu cannot reach": (
        _unreachable_card,
        "cards/stage-3.yaml",
        "menu",
        "not reachable from its menu",
    ),
    "too few aliases": (
        _set("cards/listen.yaml", "aliases", ["listening"]),
        "cards/listen.yaml",
        "aliases",
        "at least 3",
    ),
    "support without contacts": (
        _set("support.yaml", "contacts", []),
        "support.yaml",
        "contacts",
        "at least 1",
    ),
    "coverage section mapped to nothing": (
        lambda d: _edit(
            d / "coverage.yaml",
            lambda data: data["sections"][0].update(lessons=[], cards=[]),
        ),
        "coverage.yaml",
        "sections.0",
        "maps to no lesson and no card",
    ),
    "coverage naming an unknown lesson": (
        _set("coverage.yaml", "sections.1.lessons", ["no-such-lesson"]),
        "coverage.yaml",
        "sections.1.lessons.0",
        "unknown lesson 'no-such-lesson'",
    ),
    "coverage naming an unknown card": (
        _set("coverage.yaml", "sections.1.cards", ["no-such-card"]),
        "coverage.yaml",
        "sections.1.cards.0",
        "unknown card 'no-such-card'",
    ),
    "pack point no lesson teaches any more": (
        lambda d: (
            _set("cards/attachment-avoidant.yaml", "summary", "Wary of closeness.")(d),
            _set("avoidant-attachment.yaml", "body", "Wary of closeness.")(d),
        ),
        "coverage.yaml",
        "sections.5.points.1.find.1",
        "'burn up friendships'",
    ),
    "not YAML": (
        _write("welcome.yaml", "id: [unclosed\n"),
        "welcome.yaml",
        "line",
        "not valid YAML",
    ),
    "not a mapping": (_write("welcome.yaml", "- a\n- b\n"), "welcome.yaml", "(file)", "a mapping"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_content_fails_naming_file_and_field(lessons: Path, name: str) -> None:
    breakage, file, field, message = BROKEN[name]
    breakage(lessons)
    code, output = _check_output(lessons)
    assert code == 1
    wanted = f"lessons/{file}: {field}"
    matching = [line for line in output.splitlines() if line.startswith(wanted)]
    assert matching, f"no problem for {wanted!r} in:\n{output}"
    assert any(message in line for line in matching), f"{message!r} not in:\n{output}"
    assert output.rstrip().endswith("found.")


def test_a_broken_lesson_stops_loading_with_every_problem(lessons: Path) -> None:
    _set("welcome.yaml", "body", "<p>x</p>")(lessons)
    _set("cards/listen.yaml", "menu", "nowhere")(lessons)
    with pytest.raises(ContentError) as caught:
        load_course(lessons)
    fields = {(p.file, p.field) for p in caught.value.problems}
    assert ("lessons/welcome.yaml", "body") in fields
    assert ("lessons/cards/listen.yaml", "menu") in fields
    assert "lessons/welcome.yaml: body: tag <p> is not allowed" in str(caught.value)


def test_a_menu_without_its_overview_card_is_reported(lessons: Path) -> None:
    (lessons / "cards" / "wellbeing.yaml").unlink()
    problems = check_course(lessons)
    assert (
        Problem(
            "lessons/cards/wellbeing.yaml",
            "id",
            "menu 'wellbeing' has no overview card (a card with id 'wellbeing' in that menu)",
        )
        in problems
    )


def test_a_deployment_support_file_adds_its_contacts_and_is_checked(
    lessons: Path, tmp_path: Path
) -> None:
    local = tmp_path / "our-support.yaml"
    data = {
        "contacts": [
            {"name": "Our EAP", "how": "call <b>0800 000 000</b>", "when": "any time"},
            {"name": "Council safeguarding hub", "how": "call 0300 000 000", "safeguarding": True},
        ],
        "last_reviewed": "2026-12-01",
    }
    local.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert check_course(lessons, local) == []
    support = load_course(lessons, local).support
    text = support_screen(support).text
    assert "Samaritans" in text and "999" in text  # the shipped contacts stay
    assert "Our EAP" in text and "Council safeguarding hub" in text
    assert text.index("Samaritans") < text.index("Our EAP")

    data["contacts"][0]["how"] = "call 0800 & ask"
    local.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, output = _check_output(lessons, local)
    assert code == 1
    assert "our-support.yaml: contacts.0.how: bare &" in output


def test_a_support_file_that_copies_the_shipped_text_is_told_what_changed(
    lessons: Path, tmp_path: Path
) -> None:
    old_style = tmp_path / "our-support.yaml"
    old_style.write_text((lessons / "support.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    code, output = _check_output(lessons, old_style)
    assert code == 1
    assert "SUPPORT_FILE now holds only your own contacts" in output


def test_a_missing_lessons_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    code, output = _check_output(tmp_path / "nowhere")
    assert code == 1 and "lessons folder not found" in output


def test_callback_data_over_64_bytes_and_emoji_only_labels_are_caught() -> None:
    screen = Screen(
        "<b>ok</b>",
        ((Button("Open", "cs:" + "x" * 62), Button("👍", "ok")),),
    )
    problems = screen_problems(screen, "lessons/cards/x.yaml", "(screen)")
    messages = [p.message for p in problems]
    assert any("callback data is 65 bytes; Telegram allows 64" in m for m in messages)
    assert any("needs a text label" in m for m in messages)
    assert all(p.file == "lessons/cards/x.yaml" and p.field == "(screen)" for p in problems)


def test_every_rendered_button_fits_telegram(content: Content) -> None:
    for lesson in content.lessons:
        screens = [lesson_screen(lesson), lesson_check_screen(lesson)]
        screens += [lesson_answer_screen(lesson, i) for i in range(len(lesson.check.answers))]
        for screen in screens:
            assert screen_problems(screen, lesson.id, "(screen)") == []
    for card in content.cards:
        assert screen_problems(card_screen(card, content), card.id, "(screen)") == []


@pytest.mark.parametrize(
    ("html", "ok"),
    [
        ("<b>bold</b> and <i>italic</i>", True),
        ('<a href="https://example.org">link</a>', True),
        ("Tom &amp; Jerry &lt;3 &#8217; &quot;", True),
        ("<tg-spoiler>hidden</tg-spoiler>", True),
        ("a < b", False),
        ("Tom & Jerry", False),
        ("&nbsp;", False),
        ("<br>", False),
        ("<br/>", False),
        ("<b>open", False),
        ("close</b>", False),
        ('<b class="x">y</b>', False),
        ("<!-- note -->", False),
    ],
)
def test_html_errors(html: str, ok: bool) -> None:
    assert (html_errors(html) == []) is ok


# --- Coverage of the resource pack ----------------------------------------------------------------


def _coverage() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((LESSONS / "coverage.yaml").read_text(encoding="utf-8"))
    return data


# A copy of the resource pack is kept in the repository so the coverage test always runs (a
# clean clone in CI has no ../shared); the test below keeps the copy equal to the original.
VENDORED_PACK = ROOT / "docs" / "resource-pack.txt"


def _shared_pack() -> Path | None:
    found = sorted((ROOT.parent / "shared" / "seed").glob("*.txt"))
    return found[0] if found else None


def _pack_file() -> Path | None:
    if os.environ.get("PACK_FILE"):
        return Path(os.environ["PACK_FILE"])
    return _shared_pack() or VENDORED_PACK


def test_vendored_pack_matches_the_source_of_truth() -> None:
    shared = _shared_pack()
    if shared is None:
        pytest.skip("../shared/seed is not next to this checkout; the vendored copy is used")
    assert VENDORED_PACK.read_bytes() == shared.read_bytes()


def test_coverage_maps_every_section_to_known_lessons_and_cards(content: Content) -> None:
    sections = _coverage()["sections"]
    assert len(sections) >= 25
    for section in sections:
        assert section["lessons"] or section["cards"], section["id"]
        for lesson_id in section.get("lessons", []):
            assert content.lesson(lesson_id) is not None, (section["id"], lesson_id)
        for card_id in section.get("cards", []):
            assert content.card(card_id) is not None, (section["id"], card_id)
        assert section["points"], f"{section['id']} quotes nothing from the pack"


def test_every_lesson_and_card_traces_back_to_the_pack(content: Content) -> None:
    sections = _coverage()["sections"]
    mapped_lessons = {lesson_id for s in sections for lesson_id in s.get("lessons", [])}
    mapped_cards = {card_id for s in sections for card_id in s.get("cards", [])}
    assert {lesson.id for lesson in content.lessons} <= mapped_lessons
    assert {card.id for card in content.cards} <= mapped_cards


def test_every_line_of_the_pack_is_quoted_by_the_coverage_map() -> None:
    pack = _pack_file()
    if pack is None or not pack.is_file():
        pytest.skip("the resource pack (../shared/seed/*.txt or PACK_FILE) is not here")
    text = pack.read_text(encoding="utf-8")
    sections = _coverage()["sections"]
    quotes = [s["heading"] for s in sections] + [p["pack"] for s in sections for p in s["points"]]
    whole = _normalise(text)
    not_in_pack = [quote for quote in quotes if _normalise(quote) not in whole]
    assert not_in_pack == [], "coverage.yaml quotes words the pack does not contain"
    uncovered = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
        and not line.startswith("[bookmark")
        and not any(_normalise(quote) in _normalise(line) for quote in quotes)
    ]
    assert uncovered == [], "pack lines no coverage point quotes"


def test_themes_hold_every_lesson_once_in_course_order(lessons: Path) -> None:
    """The certificate names the course's themes: each lesson in one, none unknown."""
    course = lessons / "course.yaml"

    def break_themes(data: dict[str, Any]) -> None:
        data["themes"][1]["lessons"].append("no-such-lesson")
        data["themes"][2]["lessons"].remove("building-resilience")

    _edit(course, break_themes)
    problems = check_course(lessons)
    messages = [f"{p.field}: {p.message}" for p in problems]
    assert "themes.1.lessons.5: 'no-such-lesson' is not in the course" in messages
    assert "themes: the themes must hold every lesson once, in course order" in messages


def test_the_shipped_course_has_themes_and_a_time_per_lesson(content: Content) -> None:
    themes = content.course.themes
    assert [t.title for t in themes][1:] == [
        "Attachment",
        "Resilience",
        "Pathways to recovery",
        "Working alongside trauma",
    ]
    assert [lesson for theme in themes for lesson in theme.lessons] == [
        lesson.id for lesson in content.lessons
    ]
    # The summary's "about two minutes" is the figure the certificate counts with.
    assert content.course.minutes_per_lesson == 2 and "two minutes" in content.course.summary
