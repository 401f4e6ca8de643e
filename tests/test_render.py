"""One renderer for every outbox kind: each kind has a message, and both processes use it."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.core.states import DeliveryKind
from bot.services.outbox.types import OutboxItem
from scheduler.render import OutboxRenderer
from tests.support.factories import make_content
from tests.support.harness import ROOT

CONTENT = make_content(3)


def item(kind: str, lesson_id: str | None = "l02") -> OutboxItem:
    return OutboxItem(
        delivery_id=1,
        subscription_id=1,
        learner_id=1,
        chat_id=501,
        kind=kind,
        local_date=date(2026, 11, 30),
        lesson_id=lesson_id,
        course_run=1,
        attempts=1,
        due_at=datetime(2026, 11, 30, 8, tzinfo=UTC),
    )


@pytest.mark.parametrize("kind", list(DeliveryKind))
def test_every_outbox_kind_has_a_message(kind: DeliveryKind) -> None:
    lesson_id = "l02" if kind in ("lesson", "reflection", "reminder") else None
    if kind == DeliveryKind.WEEK_PROMPT:
        lesson_id = "31"  # the days shown: Monday to Friday
    rendered = OutboxRenderer(CONTENT)(item(kind, lesson_id))
    assert rendered is not None and rendered.text.strip()


def test_lesson_kinds_say_which_lesson() -> None:
    render = OutboxRenderer(CONTENT)
    lesson = render(item("lesson"))
    assert lesson is not None and "Lesson 2 of 3" in lesson.text
    assert lesson.reply_markup is not None  # the lesson's buttons
    assert render(item("lesson")) is lesson  # rendered once per lesson


def test_a_lesson_carries_the_offer_of_one_that_may_not_have_arrived() -> None:
    render = OutboxRenderer(CONTENT)
    plain = render(item("lesson"))
    offered = render(replace(item("lesson"), offer="l01"))
    assert plain is not None and offered is not None and offered.reply_markup is not None
    assert offered.text.startswith(plain.text)
    assert "may not have reached you" in offered.text and "may not" not in plain.text
    assert offered.reply_markup.inline_keyboard[-1][0].text == "Show that lesson"
    assert render(replace(item("lesson"), offer="l99")) is not None  # a lesson gone: no offer
    assert render(replace(item("reminder"), offer="l01")) == render(item("reminder"))


def test_nothing_to_send_for_a_lesson_gone_from_the_course_or_an_unknown_kind() -> None:
    render = OutboxRenderer(CONTENT)
    assert render(item("lesson", "l99")) is None
    assert render(item("reminder", None)) is None
    assert render(item("carrier-pigeon")) is None


@pytest.mark.parametrize("root", ["bot/app.py", "scheduler/worker.py"])
def test_both_composition_roots_build_the_outbox_renderer(root: str) -> None:
    tree = ast.parse((ROOT / root).read_text())
    built = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "OutboxRenderer"
    ]
    assert len(built) == 1


def test_the_scheduler_never_imports_the_handlers() -> None:
    for path in (ROOT / "scheduler").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("bot.handlers"), path.name


def test_the_weekly_question_shows_the_coming_week_as_toggles() -> None:
    render = OutboxRenderer(CONTENT)
    # Asked on Sunday 6 December about the week from Monday 7: Monday and Wednesday on.
    asked = render(replace(item(DeliveryKind.WEEK_PROMPT, "5"), local_date=date(2026, 12, 6)))
    assert asked is not None and "Monday 7 December" in asked.text
    assert asked.reply_markup is not None
    labels = [b.text for row in asked.reply_markup.inline_keyboard for b in row]
    days = ["Mon on", "Tue off", "Wed on", "Thu off", "Fri off", "Sat off", "Sun off"]
    assert labels == [*days, "Done"]
    assert "If you don't answer" in asked.text
    assert render(item(DeliveryKind.WEEK_PROMPT, "x")) is None


def test_every_button_kind_has_its_own_prefix() -> None:
    """Two features merged on one day both took "cf": the certificate's button then opened the
    confidence questions. Each prefix in bot/views/callbacks.py names one kind of button."""
    import bot.views.callbacks as callbacks

    prefixes = {
        name: value
        for name, value in vars(callbacks).items()
        if name.isupper() and isinstance(value, str) and name != "SEP"
    }
    taken: dict[str, str] = {}
    for name, value in prefixes.items():
        assert value not in taken, f"{name} and {taken[value]} share the prefix {value!r}"
        taken[value] = name
