"""The course's schema: lessons, cards, support text and coverage as frozen pydantic models, the
loaded `Content`, and the problems a check reports.

Content is data validated like code: unknown keys are rejected, ids are stable, learner text is
kept apart from author notes. This module never imports telegram or sqlalchemy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from bot.content.html import (
    MAX_MESSAGE_CHARS,
    html_to_text,
    plain_line,
    telegram_html,
    visible_length,
)
from bot.content.safety import SAFETY_FILE, SafetyRules

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
# Telegram's limits for a bot's description ("What can this bot do?") and short description.
MAX_BOT_DESCRIPTION = 512
MAX_BOT_SHORT_DESCRIPTION = 120
MAX_BODY_CHARS = 900  # two minutes on a phone
MAX_TAKEAWAY_CHARS = 250
MAX_PROMPT_CHARS = 400  # reflect prompt, check question, content note
MAX_ANSWER_CHARS = 200
MAX_FEEDBACK_CHARS = 500
MAX_SUMMARY_CHARS = 1000  # a card summary fits one screen


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
CONFIDENCE_FILE = "confidence.yaml"
CARDS_DIR = "cards"
NOT_LESSONS = frozenset({COURSE_FILE, SUPPORT_FILE, COVERAGE_FILE, SAFETY_FILE, CONFIDENCE_FILE})
# The self-assessment of confidence (issue 16): a handful of statements, each short enough to be
# read on a phone above five buttons, with a short label for charts and the programme report.
MIN_STATEMENTS = 4
MAX_STATEMENTS = 6
MAX_STATEMENT_CHARS = 120
MAX_SHORT_LABEL_CHARS = 24
MAX_SCALE_LABEL_CHARS = 40


# --- Schema ---------------------------------------------------------------------------------------

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Plain = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Title = Annotated[Plain, Field(max_length=MAX_TITLE_CHARS), AfterValidator(plain_line)]
Alias = Annotated[Plain, Field(max_length=MAX_ALIAS_CHARS), AfterValidator(plain_line)]
Html = Annotated[Plain, AfterValidator(telegram_html)]


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


class Theme(_Model):
    """A learning theme of the course (as the certificate names it) and the lessons teaching it."""

    title: Title
    lessons: Annotated[list[Id], Field(min_length=1), AfterValidator(_no_duplicates)]


class Course(_Model):
    """The course: its lessons in the order they are sent, its themes, its time per lesson, and
    how the bot describes itself (plain text, set on the bot's Telegram profile at start-up)."""

    id: Id
    title: Title
    summary: Html
    lessons: Annotated[list[Id], Field(min_length=1)]
    description: Annotated[Plain, Field(max_length=MAX_BOT_DESCRIPTION)]
    short_description: Annotated[Plain, Field(max_length=MAX_BOT_SHORT_DESCRIPTION)]
    # The time the course gives one lesson (reading, the reflective question and the check):
    # the certificate counts learning time as this times the lessons completed.
    minutes_per_lesson: Annotated[int, Field(ge=1, le=60)] | None = None
    # Every lesson in exactly one theme, in course order (the loader checks it); may be empty.
    themes: list[Theme] = []


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


class Statement(_Model):
    """One self-assessment statement, rated 1-5; `aim` names the pack's aim it is drawn from."""

    id: Id
    text: Annotated[Plain, Field(max_length=MAX_STATEMENT_CHARS), AfterValidator(plain_line)]
    short: Annotated[Plain, Field(max_length=MAX_SHORT_LABEL_CHARS), AfterValidator(plain_line)]
    aim: Plain


class SelfAssessment(_Model):
    """confidence.yaml: the pack's aims, the statements drawn from them, the scale's ends."""

    aims: Annotated[list[Plain], Field(min_length=1), AfterValidator(_no_duplicates)]
    source: Plain
    low: Annotated[Plain, Field(max_length=MAX_SCALE_LABEL_CHARS), AfterValidator(plain_line)]
    high: Annotated[Plain, Field(max_length=MAX_SCALE_LABEL_CHARS), AfterValidator(plain_line)]
    statements: Annotated[
        list[Statement], Field(min_length=MIN_STATEMENTS, max_length=MAX_STATEMENTS)
    ]

    @field_validator("statements")
    @classmethod
    def _sound_statements(
        cls, statements: list[Statement], info: ValidationInfo
    ) -> list[Statement]:
        _no_duplicates([s.id for s in statements])
        _no_duplicates([s.short for s in statements])
        aims = info.data.get("aims") or []
        for statement in statements:
            if statement.aim not in aims:
                raise ValueError(
                    f"statement {statement.id!r} names the aim {statement.aim!r}, which is not"
                    f" one of the aims listed: {', '.join(aims)}"
                )
        return statements

    def statement(self, statement_id: str) -> Statement | None:
        """The statement with this id, if any."""
        return next((s for s in self.statements if s.id == statement_id), None)


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
        confidence: SelfAssessment | None = None,
    ) -> None:
        self.course = course
        self.lessons = lessons
        self.cards = cards
        self.support = support
        # Always set by load_content (safety.yaml is required); None only in hand-built content.
        self.safety = safety
        # Always set by load_content (confidence.yaml is required); None in hand-built content,
        # where the self-assessment is simply not offered.
        self.confidence = confidence
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
