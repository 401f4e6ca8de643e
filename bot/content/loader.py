"""Loading and checking the course: every YAML file under ``lessons/`` parsed into the schema, then
checked as a whole (ids, the course list, lengths, Telegram HTML, knowledge checks, card
references, content notes, safety words). ``coverage.yaml`` (which part of the resource pack each
lesson and card teaches) is an authoring concern: ``check_content`` checks it, the bot does not
need it to start.

The screens the bot renders from the content are checked by `bot.views.checks`, handed in as
``screens=``: content sits below the views and never imports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from bot.content.safety import SAFETY_FILE, SafetyRules, rule_problems
from bot.content.schema import (
    CARDS_DIR,
    CONFIDENCE_FILE,
    COURSE_FILE,
    COVERAGE_FILE,
    MENUS,
    NOT_LESSONS,
    SENSITIVE_WORDS,
    SUPPORT_FILE,
    Card,
    Content,
    ContentError,
    Course,
    Coverage,
    Lesson,
    LocalSupport,
    Problem,
    SelfAssessment,
    Support,
    card_text,
    lesson_text,
)

# --- YAML -----------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice (YAML would silently keep the last one)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _display(path: Path, root: Path) -> str:
    """A path as problems show it: relative to the folder that holds the lessons folder."""
    try:
        return path.relative_to(root.parent).as_posix()
    except ValueError:
        return str(path)


def _read_yaml(path: Path, shown: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except OSError as exc:
        problems.append(Problem(shown, "(file)", f"cannot be read: {exc.strerror or exc}"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(shown, where, f"not valid YAML: {reason}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(shown, "(file)", "must be a mapping of field: value"))
        return None
    return data


def _error_message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    loc = error["loc"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    if kind in ("string_too_long", "too_long") and isinstance(value, str):
        return f"is {len(value.strip())} characters; the limit is {ctx.get('max_length')}"
    if kind == "string_pattern_mismatch":
        return (
            f"{value!r} is not a valid id: 2-40 characters, lowercase letters, digits and hyphens,"
            " starting with a letter or digit"
        )
    if loc and loc[-1] == "correct" and kind.startswith("int"):
        return "must be one 0-based answer index: exactly one answer is correct"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def _parse(model: type[_M], data: dict[str, Any], shown: str, problems: list[Problem]) -> _M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "(file)"
            problems.append(Problem(shown, field, _error_message(error)))
        return None


_M = TypeVar("_M", bound=BaseModel)
_Item = TypeVar("_Item", Lesson, Card)


# --- Loading and checking -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sources:
    """Where each piece of loaded content came from, as a problem names it."""

    lessons: dict[str, str]  # lesson id -> file
    cards: dict[str, str]  # card id -> file
    support: str


# Renders every screen of the loaded content and says what Telegram would refuse
# (`bot.views.checks.check_screens`).
ScreenCheck = Callable[[Content, Sources], list[Problem]]


@dataclass
class _Loaded:
    """What could be parsed, file by file, and every problem found on the way."""

    problems: list[Problem]
    root: Path
    course: Course | None = None
    course_file: str = ""
    lessons: dict[str, tuple[Lesson, str]] | None = None
    cards: dict[str, tuple[Card, str]] | None = None
    support: Support | None = None
    safety: SafetyRules | None = None
    confidence: SelfAssessment | None = None
    content: Content | None = None


def _yaml_files(folder: Path, shown_root: Path, problems: list[Problem]) -> list[Path]:
    for stray in sorted(folder.glob("*.yml")):
        problems.append(Problem(_display(stray, shown_root), "(file)", "name it .yaml, not .yml"))
    return sorted(folder.glob("*.yaml"))


def _load(lessons_dir: Path, support_file: Path | None, screens: ScreenCheck | None) -> _Loaded:
    problems: list[Problem] = []
    loaded = _Loaded(problems, lessons_dir, lessons={}, cards={})
    assert loaded.lessons is not None and loaded.cards is not None
    if not lessons_dir.is_dir():
        problems.append(Problem(str(lessons_dir), "(folder)", "lessons folder not found"))
        return loaded

    course_path = lessons_dir / COURSE_FILE
    loaded.course_file = _display(course_path, lessons_dir)
    data = _read_yaml(course_path, loaded.course_file, problems)
    if data is not None:
        loaded.course = _parse(Course, data, loaded.course_file, problems)

    for path in _yaml_files(lessons_dir, lessons_dir, problems):
        if path.name in NOT_LESSONS:
            continue
        _load_item(Lesson, path, lessons_dir, loaded.lessons, problems)

    cards_dir = lessons_dir / CARDS_DIR
    if cards_dir.is_dir():
        for path in _yaml_files(cards_dir, lessons_dir, problems):
            _load_item(Card, path, lessons_dir, loaded.cards, problems)

    support_path = lessons_dir / SUPPORT_FILE
    loaded.support = _load_support(support_path, support_file, lessons_dir, problems)
    loaded.safety = _load_safety(lessons_dir, problems)
    confidence_path = lessons_dir / CONFIDENCE_FILE
    shown_confidence = _display(confidence_path, lessons_dir)
    confidence_data = _read_yaml(confidence_path, shown_confidence, problems)
    if confidence_data is not None:
        loaded.confidence = _parse(SelfAssessment, confidence_data, shown_confidence, problems)

    _check_references(loaded)
    _check_content_notes(loaded)
    if loaded.safety is not None:
        _check_not_safety_words(loaded)
    if loaded.course is not None and loaded.support is not None and loaded.safety is not None:
        lessons = [
            loaded.lessons[lesson_id][0]
            for lesson_id in dict.fromkeys(loaded.course.lessons)
            if lesson_id in loaded.lessons
        ]
        cards = [card for card, _ in loaded.cards.values()]
        loaded.content = Content(
            loaded.course, lessons, cards, loaded.support, loaded.safety, loaded.confidence
        )
        if screens is not None:
            sources = Sources(
                lessons={lesson_id: shown for lesson_id, (_, shown) in loaded.lessons.items()},
                cards={card_id: shown for card_id, (_, shown) in loaded.cards.items()},
                support=_display(support_file or support_path, lessons_dir),
            )
            problems.extend(screens(loaded.content, sources))
    return loaded


def _load_support(
    path: Path, local_file: Path | None, lessons_dir: Path, problems: list[Problem]
) -> Support | None:
    """The shipped support text, plus a deployment's own contacts from SUPPORT_FILE."""
    data = _read_yaml(path, _display(path, lessons_dir), problems)
    support = _parse(Support, data, _display(path, lessons_dir), problems) if data else None
    if local_file is None:
        return support
    shown = _display(local_file, lessons_dir)
    local_data = _read_yaml(local_file, shown, problems)
    if local_data is None:
        return support
    if "grounding" in local_data or "not_a_crisis_service" in local_data:
        problems.append(
            Problem(
                shown,
                "(file)",
                "SUPPORT_FILE now holds only your own contacts (contacts: and last_reviewed:),"
                " added to the shipped ones; remove the copy of the shipped text",
            )
        )
        return support
    local = _parse(LocalSupport, local_data, shown, problems)
    if support is None or local is None:
        return support
    return support.model_copy(
        update={
            "local_contacts": tuple(local.contacts),
            "local_last_reviewed": local.last_reviewed,
        }
    )


def _load_safety(lessons_dir: Path, problems: list[Problem]) -> SafetyRules | None:
    """lessons/safety.yaml, its patterns compiled and its examples run."""
    path = lessons_dir / SAFETY_FILE
    shown = _display(path, lessons_dir)
    data = _read_yaml(path, shown, problems)
    rules = _parse(SafetyRules, data, shown, problems) if data is not None else None
    if rules is None:
        return None
    found = rule_problems(rules)
    problems.extend(Problem(shown, field, message) for field, message in found)
    return None if found else rules


def _check_not_safety_words(loaded: _Loaded) -> None:
    """A card or lesson must be findable by its title: no title may match safety.yaml.

    (An alias may: "self-harm" on a card is simply answered by the support screen first.)
    """
    assert loaded.safety is not None
    matcher = loaded.safety.matcher
    titled: list[tuple[Card | Lesson, str]] = [
        *(loaded.cards or {}).values(),
        *(loaded.lessons or {}).values(),
    ]
    for item, shown in titled:
        found = matcher.match(item.title)
        if found is not None:
            loaded.problems.append(
                Problem(
                    shown,
                    "title",
                    f"{item.title!r} matches the safety phrases ({found.category!r}), so search"
                    " never sees it: reword it, or change lessons/safety.yaml",
                )
            )


def _load_item(
    model: type[_Item],
    path: Path,
    lessons_dir: Path,
    into: dict[str, tuple[_Item, str]],
    problems: list[Problem],
) -> None:
    shown = _display(path, lessons_dir)
    data = _read_yaml(path, shown, problems)
    if data is None:
        return
    item = _parse(model, data, shown, problems)
    if item is None:
        return
    if item.id != path.stem:
        problems.append(
            Problem(shown, "id", f"{item.id!r} must match the file name ({path.stem}.yaml)")
        )
    if item.id in into:
        problems.append(
            Problem(shown, "id", f"duplicate id {item.id!r}, also in {into[item.id][1]}")
        )
        return
    into[item.id] = (item, shown)


def _check_references(loaded: _Loaded) -> None:
    problems = loaded.problems
    lessons = loaded.lessons or {}
    cards = loaded.cards or {}

    for card_id, (_, shown) in cards.items():
        if card_id in lessons:
            problems.append(
                Problem(shown, "id", f"{card_id!r} is also a lesson id; ids must be unique")
            )

    if loaded.course is not None:
        listed: set[str] = set()
        for index, lesson_id in enumerate(loaded.course.lessons):
            field = f"lessons.{index}"
            if lesson_id in listed:
                problems.append(Problem(loaded.course_file, field, f"{lesson_id!r} listed twice"))
            elif lesson_id not in lessons:
                problems.append(
                    Problem(loaded.course_file, field, f"no lesson file {lesson_id}.yaml")
                )
            listed.add(lesson_id)
        problems += _theme_problems(loaded.course, loaded.course_file)
        for lesson_id, (_, shown) in lessons.items():
            if lesson_id not in listed:
                problems.append(
                    Problem(
                        shown, "id", f"lesson {lesson_id!r} is not in the course's lessons list"
                    )
                )

    for lesson, shown in lessons.values():
        for index, card_id in enumerate(lesson.cards):
            if card_id not in cards:
                problems.append(Problem(shown, f"cards.{index}", f"unknown card {card_id!r}"))

    for card, shown in cards.values():
        for index, card_id in enumerate(card.related):
            if card_id == card.id:
                problems.append(
                    Problem(shown, f"related.{index}", "a card cannot relate to itself")
                )
            elif card_id not in cards:
                problems.append(Problem(shown, f"related.{index}", f"unknown card {card_id!r}"))

    if not cards:
        return
    for menu in MENUS:
        overview = cards.get(menu)
        if overview is None or overview[0].menu != menu:
            problems.append(
                Problem(
                    _display(loaded.root / CARDS_DIR / f"{menu}.yaml", loaded.root),
                    "id",
                    f"menu {menu!r} has no overview card (a card with id {menu!r} in that menu)",
                )
            )
            continue
        for card, shown in cards.values():
            if card.menu == menu and card.id != menu and card.id not in overview[0].related:
                problems.append(
                    Problem(
                        shown,
                        "menu",
                        f"not reachable from its menu: add {card.id!r} to the related list of"
                        f" the overview card {menu!r}",
                    )
                )


def _check_content_notes(loaded: _Loaded) -> None:
    """A lesson or card that mentions abuse, violence, self-harm or substances has a note."""
    items: list[tuple[Lesson | Card, str, str]] = [
        (lesson, shown, lesson_text(lesson, with_note=False))
        for lesson, shown in (loaded.lessons or {}).values()
    ]
    items += [(card, shown, card_text(card)) for card, shown in (loaded.cards or {}).values()]
    for item, shown, text in items:
        found = [word for word in SENSITIVE_WORDS if word in text.casefold()]
        if found and not item.content_note:
            loaded.problems.append(
                Problem(
                    shown,
                    "content_note",
                    f"mentions {', '.join(found)}: add a content_note naming what it mentions",
                )
            )


def _check_coverage(lessons_dir: Path, loaded: _Loaded) -> None:
    path = lessons_dir / COVERAGE_FILE
    shown = _display(path, lessons_dir)
    problems = loaded.problems
    data = _read_yaml(path, shown, problems)
    if data is None:
        return
    coverage = _parse(Coverage, data, shown, problems)
    if coverage is None:
        return
    lessons = {lesson_id: item for lesson_id, (item, _) in (loaded.lessons or {}).items()}
    cards = {card_id: item for card_id, (item, _) in (loaded.cards or {}).items()}
    seen: set[str] = set()
    for index, section in enumerate(coverage.sections):
        where = f"sections.{index}"
        if section.id in seen:
            problems.append(Problem(shown, f"{where}.id", f"duplicate section {section.id!r}"))
        seen.add(section.id)
        if not section.lessons and not section.cards:
            problems.append(
                Problem(shown, where, f"section {section.id!r} maps to no lesson and no card")
            )
        texts: list[str] = []
        for position, lesson_id in enumerate(section.lessons):
            if lesson_id in lessons:
                texts.append(lesson_text(lessons[lesson_id]))
            else:
                problems.append(
                    Problem(shown, f"{where}.lessons.{position}", f"unknown lesson {lesson_id!r}")
                )
        for position, card_id in enumerate(section.cards):
            if card_id in cards:
                texts.append(card_text(cards[card_id]))
            else:
                problems.append(
                    Problem(shown, f"{where}.cards.{position}", f"unknown card {card_id!r}")
                )
        taught = _normalise(" ".join(texts))
        for point_index, point in enumerate(section.points):
            for find_index, phrase in enumerate(point.find):
                if _normalise(phrase) not in taught:
                    problems.append(
                        Problem(
                            shown,
                            f"{where}.points.{point_index}.find.{find_index}",
                            f"{phrase!r} (for {point.pack!r}) is not in any lesson or card"
                            f" mapped to {section.id!r}",
                        )
                    )


def _normalise(text: str) -> str:
    text = text.casefold().replace("’", "'").replace("‘", "'").replace("“", '"')
    return re.sub(r"\s+", " ", text.replace("”", '"'))


def load_content(
    lessons_dir: Path, support_file: Path | None = None, *, screens: ScreenCheck | None = None
) -> Content:
    """Load and check all content (and its screens, when given); raises ContentError listing
    every problem."""
    loaded = _load(lessons_dir, support_file, screens)
    if loaded.problems or loaded.content is None:
        raise ContentError(loaded.problems)
    return loaded.content


def check_content(
    lessons_dir: Path, support_file: Path | None = None, *, screens: ScreenCheck | None = None
) -> list[Problem]:
    """Every problem in the content (and its screens, when given), coverage.yaml included (empty
    when all is well)."""
    loaded = _load(lessons_dir, support_file, screens)
    if lessons_dir.is_dir():
        _check_coverage(lessons_dir, loaded)
    return loaded.problems


def _theme_problems(course: Course, file: str) -> list[Problem]:
    """Themes, when given, hold every lesson of the course once, in course order."""
    if not course.themes:
        return []
    problems: list[Problem] = []
    in_themes = [lesson for theme in course.themes for lesson in theme.lessons]
    for index, theme in enumerate(course.themes):
        for place, lesson_id in enumerate(theme.lessons):
            if lesson_id not in course.lessons:
                problems.append(
                    Problem(
                        file,
                        f"themes.{index}.lessons.{place}",
                        f"{lesson_id!r} is not in the course",
                    )
                )
    if [lesson for lesson in in_themes if lesson in course.lessons] != course.lessons:
        problems.append(
            Problem(file, "themes", "the themes must hold every lesson once, in course order")
        )
    return problems
