"""Course content: the schema of lessons, cards and support text, its loader and its checker.

Content is data validated like code. Every YAML file under ``lessons/`` is parsed into frozen
pydantic models (unknown keys rejected), then checked as a whole: ids, the course list, lengths,
Telegram HTML, knowledge checks, card references, and every screen the bot will render from it,
including each button's callback data. ``coverage.yaml`` (which part of the resource pack each
lesson and card teaches) is an authoring concern: ``check_content`` checks it, the bot does not
need it to start.

This module never imports telegram or sqlalchemy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import partial
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.safety import SAFETY_FILE, SafetyRules, rule_problems
from bot.textclean import utf16_len

if TYPE_CHECKING:
    from bot.views import Screen

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"

# Lookup menus, in the order a menu of menus shows them. A card whose id is a menu's name is that
# menu's overview card; its `related` list orders the rest of the menu.
MENUS: dict[str, str] = {
    "listen": "Listening and responding",
    "stages": "Stages of recovery",
    "triangle": "Recovery triangle",
    "attachment": "Attachment",
    "resilience": "Resilience",
    "questions": "Resilience questions",
    "wellbeing": "Staff wellbeing",
    "basics": "The basics",
}

MAX_TITLE_CHARS = 60  # titles double as button labels
MAX_BODY_CHARS = 900  # two minutes on a phone
MAX_TAKEAWAY_CHARS = 250
MAX_PROMPT_CHARS = 400  # reflect prompt, check question, content note
MAX_ANSWER_CHARS = 200
MAX_FEEDBACK_CHARS = 500
MAX_SUMMARY_CHARS = 1000  # a card summary fits one screen
MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one message
# A lesson as first sent (title, content note, body and takeaway) fits a phone's screen or two,
# counted as Telegram counts: UTF-16 code units of the visible text.
MAX_SENT_CHARS = 1000
# The right answer may not stand out by its length: it is "longer by a wide margin" when it is
# more than a quarter and more than 10 characters longer than the longest other answer.
WIDE_MARGIN_RATIO = 1.25
WIDE_MARGIN_CHARS = 10
# Text that mentions any of these (in a lesson or card) needs a content note.
SENSITIVE_WORDS = ("abuse", "abusive", "violence", "self-injury", "self-harm", "substance")
# Answers are shown in a per-learner shuffled order, so none may point at another by position.
_POSITIONAL = re.compile(
    r"(?i:\b(?:all|none|both|neither|either) of (?:the )?(?:above|below|these|those)\b)"
    r"|\b(?:[Aa]nswers?|[Oo]ptions?) [A-D]\b|\b[A-D] (?:and|or) [A-D]\b"
)
MAX_ALIAS_CHARS = 40
MIN_ALIASES = 3

COURSE_FILE = "course.yaml"
SUPPORT_FILE = "support.yaml"
COVERAGE_FILE = "coverage.yaml"
CARDS_DIR = "cards"
_NOT_LESSONS = frozenset({COURSE_FILE, SUPPORT_FILE, COVERAGE_FILE, SAFETY_FILE})


# --- Telegram HTML --------------------------------------------------------------------------------

TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"}
)
# Telegram understands numeric entities and only these named ones.
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


class _TelegramHtmlParser(HTMLParser):
    """Collects what Telegram's HTML parse mode would reject."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open_tags: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.errors.append(
                f"tag <{tag}> is not allowed (Telegram allows {', '.join(sorted(TELEGRAM_TAGS))});"
                " write line breaks as new lines"
            )
            return
        names = [name for name, _ in attrs]
        if tag == "a":
            href = dict(attrs).get("href")
            if not href:
                self.errors.append("<a> needs an href")
            names = [name for name in names if name != "href"]
        if names:
            self.errors.append(f"attribute {names[0]!r} is not allowed on <{tag}>")
        self.open_tags.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/> is not allowed")

    def handle_endtag(self, tag: str) -> None:
        if tag not in TELEGRAM_TAGS:
            return  # reported at its start tag
        if not self.open_tags:
            self.errors.append(f"</{tag}> closes nothing")
        elif self.open_tags[-1] != tag:
            self.errors.append(f"</{tag}> found where </{self.open_tags[-1]}> was expected")
            if tag in self.open_tags:
                del self.open_tags[self.open_tags.index(tag) :]
        else:
            self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.errors.append("bare < or > in text: write &lt; or &gt;")

    def handle_comment(self, data: str) -> None:
        self.errors.append("HTML comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self.errors.append("declarations are not allowed")

    def handle_pi(self, data: str) -> None:
        self.errors.append("processing instructions are not allowed")

    def unknown_decl(self, data: str) -> None:
        self.errors.append("declarations are not allowed")


def html_errors(text: str) -> list[str]:
    """What Telegram's HTML parse mode would reject in text (empty when it is fine)."""
    parser = _TelegramHtmlParser()
    parser.feed(text)
    parser.close()
    errors = list(parser.errors)
    if parser.open_tags:
        errors.append(f"<{parser.open_tags[-1]}> is never closed")
    for match in re.finditer("&", text):
        if not _ENTITY.match(text, match.start()):
            snippet = text[match.start() : match.start() + 8]
            errors.append(
                f"bare & at {snippet!r}: write &amp; (Telegram knows only &lt; &gt; &amp; &quot;"
                " and numeric entities)"
            )
            break
    return errors


def html_to_text(text: str) -> str:
    """Plain text of authored HTML: tags dropped, entities decoded (for search and coverage)."""
    return unescape(re.sub(r"<[^>]*>", "", text))


def visible_length(text: str) -> int:
    """How long authored HTML is as Telegram counts it: UTF-16 code units of the visible text."""
    return len(html_to_text(text).encode("utf-16-le")) // 2


def _telegram_html(value: str) -> str:
    errors = html_errors(value)
    if errors:
        raise ValueError("; ".join(errors))
    return value


def _plain_text(value: str) -> str:
    if any(ch in value for ch in "<>&"):
        raise ValueError("plain text only (it is shown on buttons): no <, > or &")
    if "\n" in value:
        raise ValueError("must be one line")
    return value


# --- Schema ---------------------------------------------------------------------------------------

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Plain = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Title = Annotated[Plain, Field(max_length=MAX_TITLE_CHARS), AfterValidator(_plain_text)]
Alias = Annotated[Plain, Field(max_length=MAX_ALIAS_CHARS), AfterValidator(_plain_text)]
Html = Annotated[Plain, AfterValidator(_telegram_html)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_M = TypeVar("_M", bound=BaseModel)


def _no_duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        key = value.casefold()
        if key in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(key)
    return values


class Answer(_Model):
    """One answer of a knowledge check, with the feedback shown when it is chosen."""

    text: Annotated[Html, Field(max_length=MAX_ANSWER_CHARS)]
    feedback: Annotated[Html, Field(max_length=MAX_FEEDBACK_CHARS)]


class Check(_Model):
    """A multiple-choice knowledge check: 3-4 answers, exactly one of them correct."""

    question: Annotated[Html, Field(max_length=MAX_PROMPT_CHARS)]
    answers: Annotated[list[Answer], Field(min_length=3, max_length=4)]
    correct: Annotated[int, Field(strict=True)]

    @field_validator("answers")
    @classmethod
    def _distinct_answers(cls, answers: list[Answer]) -> list[Answer]:
        _no_duplicates([answer.text for answer in answers])
        for index, answer in enumerate(answers):
            if _POSITIONAL.search(html_to_text(answer.text)):
                raise ValueError(
                    f"answer {index} refers to other answers by position; answers are shown in"
                    " a different order to each learner, so each must stand on its own"
                )
        return answers

    @field_validator("correct")
    @classmethod
    def _correct_in_range(cls, correct: int, info: ValidationInfo) -> int:
        answers = info.data.get("answers")
        if answers is not None and not 0 <= correct < len(answers):
            raise ValueError(
                f"{correct} is not an answer: exactly one answer is correct, given as its 0-based"
                f" index, 0 to {len(answers) - 1}"
            )
        # Feedback opens with its verdict, which catches `correct` pointing at the wrong answer.
        for index, answer in enumerate(answers or []):
            says_yes = answer.feedback.casefold().startswith("yes")
            if index == correct and not says_yes:
                raise ValueError(
                    f"answer {index} is marked correct but its feedback does not start with"
                    " 'Yes': does `correct` point at the right answer?"
                )
            if index != correct and says_yes:
                raise ValueError(
                    f"answer {index}'s feedback starts with 'Yes' but the correct answer is"
                    f" {correct}: does `correct` point at the right answer?"
                )
        if answers and 0 <= correct < len(answers):
            right = visible_length(answers[correct].text)
            longest = max(
                visible_length(answer.text)
                for index, answer in enumerate(answers)
                if index != correct
            )
            if right > longest * WIDE_MARGIN_RATIO and right - longest > WIDE_MARGIN_CHARS:
                raise ValueError(
                    f"the right answer ({right} characters) is longer than every other answer"
                    f" by a wide margin (the longest other is {longest}): its length gives it"
                    " away, so shorten it or give the others the same substance"
                )
        return correct


class Lesson(_Model):
    """One day's micro-lesson."""

    id: Id
    title: Title
    body: Annotated[Html, Field(max_length=MAX_BODY_CHARS)]
    takeaway: Annotated[Html, Field(max_length=MAX_TAKEAWAY_CHARS)]
    reflect: Annotated[Html, Field(max_length=MAX_PROMPT_CHARS)]
    check: Check
    content_note: Annotated[Html, Field(max_length=MAX_PROMPT_CHARS)] | None = None
    source: Plain
    cards: Annotated[list[Id], AfterValidator(_no_duplicates)] = []


class Card(_Model):
    """A lookup card for the workday: a one-screen summary and, optionally, a fuller version."""

    id: Id
    title: Title
    menu: str
    aliases: Annotated[list[Alias], Field(min_length=MIN_ALIASES), AfterValidator(_no_duplicates)]
    summary: Annotated[Html, Field(max_length=MAX_SUMMARY_CHARS)]
    more: Annotated[Html, Field(max_length=MAX_MESSAGE_CHARS)] | None = None
    content_note: Annotated[Html, Field(max_length=MAX_PROMPT_CHARS)] | None = None
    source: Plain
    related: Annotated[list[Id], AfterValidator(_no_duplicates)] = []

    @field_validator("menu")
    @classmethod
    def _known_menu(cls, menu: str) -> str:
        if menu not in MENUS:
            raise ValueError(f"unknown menu {menu!r}; menus are: {', '.join(MENUS)}")
        return menu


class Course(_Model):
    """The course: its lessons in the order they are sent."""

    id: Id
    title: Title
    summary: Html
    lessons: Annotated[list[Id], Field(min_length=1)]


class SupportContact(_Model):
    """Somewhere to turn: a name, how to reach it (HTML) and, optionally, when to use it."""

    name: Title
    how: Html
    when: Html | None = None


class LocalContact(SupportContact):
    """A deployment's own contact; `safeguarding` ones show on the disclosure screen too."""

    safeguarding: bool = False


class LocalSupport(_Model):
    """SUPPORT_FILE: a deployment's own contacts, added to the shipped ones (never replacing)."""

    contacts: Annotated[list[LocalContact], Field(min_length=1)]
    last_reviewed: date


class Support(_Model):
    """What "I need a moment", /support and the disclosure screen show."""

    grounding: Html
    not_a_crisis_service: Html
    contacts: Annotated[list[SupportContact], Field(min_length=1)]
    disclosure: Html
    last_reviewed: date
    # From SUPPORT_FILE (a deployment's own contacts), shown after the shipped ones.
    local_contacts: tuple[LocalContact, ...] = ()
    local_last_reviewed: date | None = None


class CoveragePoint(_Model):
    """One item of the pack and the words that show the mapped lessons or cards teach it."""

    pack: Plain
    find: Annotated[list[Plain], Field(min_length=1)]


class CoverageSection(_Model):
    """One section or list of the pack and the lessons and cards that teach it."""

    id: Id
    heading: Plain
    lessons: list[Id] = []
    cards: list[Id] = []
    points: list[CoveragePoint] = []


class Coverage(_Model):
    """coverage.yaml: every section and list of the resource pack, mapped to content."""

    pack: Plain
    sections: Annotated[list[CoverageSection], Field(min_length=1)]


# --- Loaded content -------------------------------------------------------------------------------


class Content:
    """All course content, loaded and checked: the course, its lessons in order, cards, support."""

    def __init__(
        self,
        course: Course,
        lessons: list[Lesson],
        cards: list[Card],
        support: Support,
        safety: SafetyRules | None = None,
    ) -> None:
        self.course = course
        self.lessons = lessons
        self.cards = cards
        self.support = support
        # Always set by load_content (safety.yaml is required); None only in hand-built content.
        self.safety = safety
        self._lessons = {lesson.id: lesson for lesson in lessons}
        self._positions = {lesson.id: index for index, lesson in enumerate(lessons)}
        self._cards = {card.id: card for card in cards}

    def lesson(self, lesson_id: str) -> Lesson | None:
        """The lesson with this id, if any."""
        return self._lessons.get(lesson_id)

    def card(self, card_id: str) -> Card | None:
        """The card with this id, if any."""
        return self._cards.get(card_id)

    def lesson_index(self, lesson_id: str) -> int:
        """0-based position of a lesson in the course; KeyError for an unknown id."""
        return self._positions[lesson_id]

    def next_lesson_id(self, after: str | None) -> str | None:
        """The lesson that follows `after` in course order (the first when None); None at the end.

        A learner's place is the id of their last lesson, so lessons added later slot in by id.
        An id no longer in the course restarts nobody: it counts as the end of the course.
        """
        if after is None:
            return self.lessons[0].id if self.lessons else None
        position = self._positions.get(after)
        if position is None or position + 1 >= len(self.lessons):
            return None
        return self.lessons[position + 1].id

    def cards_in_menu(self, menu: str) -> list[Card]:
        """A menu's cards: its overview card, then the order its `related` gives, then the rest."""
        overview = self._cards.get(menu)
        ordered = [overview] if overview is not None and overview.menu == menu else []
        if overview is not None:
            ordered += [
                card
                for card in (self._cards.get(card_id) for card_id in overview.related)
                if card is not None and card.menu == menu and card is not overview
            ]
        ordered += sorted(
            (card for card in self.cards if card.menu == menu and card not in ordered),
            key=lambda card: card.id,
        )
        return ordered

    def lessons_for_card(self, card_id: str) -> list[Lesson]:
        """Lessons that list this card, in course order."""
        return [lesson for lesson in self.lessons if card_id in lesson.cards]


def answer_order(lesson: Lesson, learner: int) -> tuple[int, ...]:
    """The order one learner sees a check's answers in (answer indexes, first shown first).

    A permutation seeded by the learner and the check, so it differs between learners and
    checks but is the same every time this learner sees this check (a review repeats it).
    """
    return tuple(
        sorted(
            range(len(lesson.check.answers)),
            key=lambda index: hashlib.sha256(f"{learner}:{lesson.id}:{index}".encode()).digest(),
        )
    )


# --- Problems -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the content: which file, which field, what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ContentError(Exception):
    """The content did not load; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


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


_Item = TypeVar("_Item", Lesson, Card)


# --- Loading and checking -------------------------------------------------------------------------


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
    content: Content | None = None


def _yaml_files(folder: Path, shown_root: Path, problems: list[Problem]) -> list[Path]:
    for stray in sorted(folder.glob("*.yml")):
        problems.append(Problem(_display(stray, shown_root), "(file)", "name it .yaml, not .yml"))
    return sorted(folder.glob("*.yaml"))


def _load(lessons_dir: Path, support_file: Path | None) -> _Loaded:
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
        if path.name in _NOT_LESSONS:
            continue
        _load_item(Lesson, path, lessons_dir, loaded.lessons, problems)

    cards_dir = lessons_dir / CARDS_DIR
    if cards_dir.is_dir():
        for path in _yaml_files(cards_dir, lessons_dir, problems):
            _load_item(Card, path, lessons_dir, loaded.cards, problems)

    support_path = lessons_dir / SUPPORT_FILE
    loaded.support = _load_support(support_path, support_file, lessons_dir, problems)
    loaded.safety = _load_safety(lessons_dir, problems)

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
        loaded.content = Content(loaded.course, lessons, cards, loaded.support, loaded.safety)
        _check_screens(loaded.content, loaded, support_file or support_path, lessons_dir)
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


def _check_screens(content: Content, loaded: _Loaded, support_path: Path, root: Path) -> None:
    """Render every screen the content produces and check it as Telegram would."""
    from bot import views  # views imports this module; import here to avoid a cycle

    lesson_files = {lesson_id: shown for lesson_id, (_, shown) in (loaded.lessons or {}).items()}
    card_files = {card_id: shown for card_id, (_, shown) in (loaded.cards or {}).items()}
    total = len(content.lessons)
    renders: list[tuple[str, str, Callable[[], views.Screen]]] = []
    for position, lesson in enumerate(content.lessons, start=1):
        shown = lesson_files[lesson.id]
        body = partial(
            views.lesson_body_screen, lesson, course_position=position, course_length=total
        )
        renders += [
            (
                shown,
                "(screen)",
                partial(views.lesson_screen, lesson, course_position=position, course_length=total),
            ),
            (shown, "(lesson screen)", body),
            (shown, "(reflect screen)", partial(views.lesson_reflect_screen, lesson)),
            (shown, "(check screen)", partial(views.lesson_check_screen, lesson)),
        ]
        renders += [
            (shown, f"(answer {index} screen)", partial(views.lesson_answer_screen, lesson, index))
            for index in range(len(lesson.check.answers))
        ]
        sent = visible_length(body().text) + visible_length(lesson.content_note or "")
        if sent > MAX_SENT_CHARS:
            loaded.problems.append(
                Problem(
                    shown,
                    "(lesson screen)",
                    f"is {sent} characters as sent (title, content note, body and takeaway);"
                    f" the limit is {MAX_SENT_CHARS}",
                )
            )
    for card in content.cards:
        shown = card_files[card.id]
        renders.append((shown, "(screen)", partial(views.card_screen, card, content)))
        if card.content_note is not None:
            renders.append(
                (shown, "(opened screen)", partial(views.card_screen, card, content, opened=True))
            )
        if card.more is not None:
            renders.append((shown, "(more screen)", partial(views.card_more_screen, card, content)))
    shown = _display(support_path, root)
    renders += [
        (shown, "(screen)", partial(views.support_screen, content.support)),
        (shown, "(disclosure screen)", partial(views.disclosure_screen, content.support)),
    ]
    for shown, field, render in renders:
        _check_screen(render, shown, field, loaded.problems)


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
    from bot.callbacks import MAX_CALLBACK_BYTES

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


def _texts(items: Iterable[str | None]) -> str:
    return "\n".join(html_to_text(item) for item in items if item)


def lesson_text(lesson: Lesson, *, with_note: bool = True) -> str:
    """Everything a learner can read in a lesson, as plain text."""
    check = lesson.check
    return _texts(
        [
            lesson.title,
            lesson.content_note if with_note else None,
            lesson.body,
            lesson.takeaway,
            lesson.reflect,
            check.question,
            *(answer.text for answer in check.answers),
            *(answer.feedback for answer in check.answers),
        ]
    )


def card_text(card: Card) -> str:
    """Everything a reader can read on a card, as plain text."""
    return _texts([card.title, card.summary, card.more])


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


def load_content(lessons_dir: Path, support_file: Path | None = None) -> Content:
    """Load and check all content; raises ContentError listing every problem."""
    loaded = _load(lessons_dir, support_file)
    if loaded.problems or loaded.content is None:
        raise ContentError(loaded.problems)
    return loaded.content


def check_content(lessons_dir: Path, support_file: Path | None = None) -> list[Problem]:
    """Every problem in the content, coverage.yaml included (empty when all is well)."""
    loaded = _load(lessons_dir, support_file)
    if lessons_dir.is_dir():
        _check_coverage(lessons_dir, loaded)
    return loaded.problems
