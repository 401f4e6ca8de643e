"""Safety first: words of suicide, self-harm, danger or abuse bring the support screen first.

Every free text that would be searched (typed text, /search, inline queries) and every reflection
is checked here before anything else happens to it. The phrases are content, in
``lessons/safety.yaml``; this module holds their schema, the pattern language and the matcher.

Matching is deliberately simple and predictable, so an author can tell what a pattern will do:

1. The text is normalised: accents and case folded, apostrophes dropped ("I'm" -> "im"),
   everything that is not a letter or digit made a space ("self-harm" -> "self harm").
2. Each word is rewritten through ``spellings`` (common misspellings and contractions, e.g.
   "sucide" -> "suicide", "im" -> "i am", "dont" -> "do not", "wanna" -> "want to"), and a word
   within one typo of a ``fuzzy`` word (two from eight letters; same first letter) becomes it.
3. Each category's patterns are tried in order; the first category that matches wins. A match is
   a *practitioner's question* when a ``practitioner`` pattern matches too (or the category says
   so), and then the listening card follows the support screen.

A pattern is words separated by spaces, where a word may be ``(a|b c|)`` (alternatives, possibly
several words, possibly none), ``{name}`` (any phrase of the named ``words`` list), ``stem*``
(any word starting so), ``...`` (up to five words of anything) or ``!word`` (the next word is not
this one). Patterns match whole words, anywhere in the text.

Nothing about a match is stored or logged: `SafetyCheck` only counts matches per category, in
memory, for metrics. This module never imports telegram or sqlalchemy.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot import metrics

SAFETY_FILE = "safety.yaml"
GAP_WORDS = 5  # how many words `...` may skip
_FUZZY_MIN_LENGTH = 5
_FUZZY_LONG = 8  # from this length two typos are tolerated, below it one

_APOSTROPHES = re.compile(r"['’‘`´ʼ]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_NORMAL_WORD = re.compile(r"^[a-z0-9]+$")
# The pattern language's pieces; anything else in a pattern is an error.
_PIECE = re.compile(r"\(|\)|\||\{[a-z_]+\}|\.\.\.|![a-z0-9]+|[a-z0-9]+\*?|\s+")


def normalise_words(text: str) -> list[str]:
    """Lower-case words of the text, accents, apostrophes and punctuation folded away."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", folded)).split()


# --- Schema ---------------------------------------------------------------------------------------

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SafetyCategory(_Model):
    """One kind of crisis or safeguarding language and the patterns that recognise it."""

    id: Id
    practitioner: bool = False  # a match is always a practitioner's question (someone told them)
    patterns: Annotated[list[Phrase], Field(min_length=1)]


class SafetyExamples(_Model):
    """Texts the checker runs through the rules, so a change to a pattern cannot break them."""

    match: Annotated[list[Phrase], Field(min_length=1)]
    practitioner: list[Phrase] = []
    no_match: Annotated[list[Phrase], Field(min_length=1)]


class SafetyRules(_Model):
    """lessons/safety.yaml: the phrases that bring the support screen before anything else."""

    words: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]+$")], list[Phrase]] = {}
    spellings: dict[str, Phrase] = {}
    fuzzy: list[Phrase] = []
    categories: Annotated[list[SafetyCategory], Field(min_length=1)]
    practitioner: list[Phrase] = []
    examples: SafetyExamples

    @field_validator("spellings")
    @classmethod
    def _spellings_are_words(cls, spellings: dict[str, str]) -> dict[str, str]:
        for wrong, right in spellings.items():
            if not _NORMAL_WORD.match(wrong):
                raise ValueError(f"{wrong!r}: a misspelling is one word, lower case, no apostrophe")
            if " ".join(normalise_words(right)) != right:
                raise ValueError(f"{wrong!r}: {right!r} must be lower-case words")
        return spellings

    @field_validator("fuzzy")
    @classmethod
    def _fuzzy_are_words(cls, fuzzy: list[str]) -> list[str]:
        for word in fuzzy:
            if not _NORMAL_WORD.match(word) or len(word) < _FUZZY_MIN_LENGTH:
                raise ValueError(
                    f"{word!r}: a fuzzy word is one lower-case word of {_FUZZY_MIN_LENGTH}+ letters"
                )
        return fuzzy

    @cached_property
    def matcher(self) -> Matcher:
        """The compiled rules (ValueError names the first pattern that does not compile)."""
        return Matcher(self)


# --- The pattern language -------------------------------------------------------------------------


def _alternative(phrase: str) -> str:
    """A phrase of plain words as a regex matching it followed by a space."""
    return "".join(re.escape(word) + " " for word in phrase.split())


def compile_pattern(pattern: str, words: dict[str, list[str]], spellings: dict[str, str]) -> str:
    """The regex for one pattern over normalised text (raises ValueError saying what is wrong)."""
    pieces = [piece for piece in _PIECE.findall(pattern) if not piece.isspace()]
    if "".join(pieces) != "".join(pattern.split()):
        raise ValueError(
            f"{pattern!r}: write lower-case words without apostrophes or punctuation, using only"
            " ( | ) for alternatives, {list}, word*, ... and !word"
        )
    regex: list[str] = []
    group: list[str] | None = None
    for piece in pieces:
        if piece == "(":
            if group is not None:
                raise ValueError(f"{pattern!r}: alternatives cannot be nested")
            group = [""]
        elif piece == "|":
            if group is None:
                raise ValueError(f"{pattern!r}: | outside ( )")
            group.append("")
        elif piece == ")":
            if group is None:
                raise ValueError(f"{pattern!r}: ) closes nothing")
            regex.append("(?:" + "|".join(_alternative(option) for option in group) + ")")
            group = None
        elif group is not None:
            if not _NORMAL_WORD.match(piece):
                raise ValueError(f"{pattern!r}: only plain words inside ( ), not {piece!r}")
            _check_word(pattern, piece, spellings)
            group[-1] = f"{group[-1]} {piece}".strip()
        elif piece == "...":
            regex.append(f"(?:\\S+ ){{0,{GAP_WORDS}}}")
        elif piece.startswith("!"):
            regex.append(f"(?!{re.escape(piece[1:])} )")
        elif piece.startswith("{"):
            name = piece[1:-1]
            if name not in words:
                raise ValueError(f"{pattern!r}: no word list {name!r} (lists: {', '.join(words)})")
            options = [" ".join(normalise_words(option)) for option in words[name]]
            for option in options:
                for word in option.split():
                    _check_word(pattern, word, spellings)
            regex.append("(?:" + "|".join(_alternative(option) for option in options) + ")")
        elif piece.endswith("*"):
            regex.append(re.escape(piece[:-1]) + r"\S* ")
        else:
            _check_word(pattern, piece, spellings)
            regex.append(_alternative(piece))
    if group is not None:
        raise ValueError(f"{pattern!r}: ( is never closed")
    if not any(part for part in regex if not part.startswith("(?!")):
        raise ValueError(f"{pattern!r}: matches nothing in particular")
    return " " + "".join(regex)


def _check_word(pattern: str, word: str, spellings: dict[str, str]) -> None:
    if word in spellings and spellings[word] != word:
        raise ValueError(
            f"{pattern!r}: {word!r} never appears in checked text (it is read as"
            f" {spellings[word]!r}); write that instead"
        )


@dataclass(frozen=True, slots=True)
class SafetyMatch:
    """What the check found: the category (for the counter); whether the listening card follows."""

    category: str
    practitioner: bool


class Matcher:
    """The rules compiled: normalise a text, then try each category's patterns in order."""

    def __init__(self, rules: SafetyRules) -> None:
        self._spellings = rules.spellings
        self._fuzzy = list(rules.fuzzy)
        self._known = set(rules.spellings.values()) | set(rules.fuzzy)
        self._categories: list[tuple[SafetyCategory, re.Pattern[str]]] = [
            (category, self._compile(category.patterns, rules)) for category in rules.categories
        ]
        self._practitioner = (
            self._compile(rules.practitioner, rules) if rules.practitioner else None
        )

    def _compile(self, patterns: list[str], rules: SafetyRules) -> re.Pattern[str]:
        return re.compile(
            "|".join(compile_pattern(p, rules.words, rules.spellings) for p in patterns)
        )

    def normalise(self, text: str) -> str:
        """The text as patterns see it: words spelled out, space before and after each word."""
        words: list[str] = []
        for word in normalise_words(text):
            words.extend(self._spell(word).split())
        return " " + " ".join(words) + " "

    def _spell(self, word: str) -> str:
        if word in self._spellings:
            return self._spellings[word]
        if len(word) < _FUZZY_MIN_LENGTH or word in self._known or not self._fuzzy:
            return word
        typos = 2 if len(word) >= _FUZZY_LONG else 1
        found = process.extractOne(word, self._fuzzy, scorer=OSA.distance, score_cutoff=typos)
        if found is not None and found[0][0] == word[0]:
            return str(found[0])
        return word

    def match(self, text: str) -> SafetyMatch | None:
        """The first category whose patterns match the text, or None."""
        normal = self.normalise(text)
        for category, regex in self._categories:
            if regex.search(normal):
                practitioner = category.practitioner or bool(
                    self._practitioner is not None and self._practitioner.search(normal)
                )
                return SafetyMatch(category.id, practitioner)
        return None


def rule_problems(rules: SafetyRules) -> list[tuple[str, str]]:
    """(field, message) for every pattern that does not compile and every example that fails."""
    problems: list[tuple[str, str]] = []
    for index, category in enumerate(rules.categories):
        for position, pattern in enumerate(category.patterns):
            try:
                compile_pattern(pattern, rules.words, rules.spellings)
            except ValueError as exc:
                problems.append((f"categories.{index}.patterns.{position}", str(exc)))
    for position, pattern in enumerate(rules.practitioner):
        try:
            compile_pattern(pattern, rules.words, rules.spellings)
        except ValueError as exc:
            problems.append((f"practitioner.{position}", str(exc)))
    ids = [category.id for category in rules.categories]
    for index, category_id in enumerate(ids):
        if category_id in ids[:index]:
            problems.append((f"categories.{index}.id", f"{category_id!r} is listed twice"))
    if problems:
        return problems
    matcher = rules.matcher
    examples = rules.examples
    for position, text in enumerate(examples.match):
        if matcher.match(text) is None:
            problems.append((f"examples.match.{position}", f"{text!r} matches no pattern"))
    for position, text in enumerate(examples.practitioner):
        found = matcher.match(text)
        if found is None or not found.practitioner:
            problems.append(
                (
                    f"examples.practitioner.{position}",
                    f"{text!r} is not matched as a practitioner's question",
                )
            )
    for position, text in enumerate(examples.no_match):
        found = matcher.match(text)
        if found is not None:
            problems.append(
                (f"examples.no_match.{position}", f"{text!r} matches category {found.category!r}")
            )
    return problems


# --- The check, as a service ----------------------------------------------------------------------


class SafetyCheck:
    """The safety check every searched text and every reflection passes first.

    It remembers nothing about a text; `counts` is how many matched in each category since the
    process started, and that is all that is kept. Every match brings the support screen (or,
    for a reflection, the acknowledgement pointing to it), so each is counted once on /metrics as
    a crisis screen shown, without its category or anything else.
    """

    def __init__(self, rules: SafetyRules | None) -> None:
        self._matcher = rules.matcher if rules is not None else None
        self.counts: Counter[str] = Counter()

    def check(self, text: str) -> SafetyMatch | None:
        """The match for this text (counted), or None when it needs no support screen."""
        found = self._matcher.match(text) if self._matcher is not None else None
        if found is not None:
            self.counts[found.category] += 1
            metrics.crisis_screen()
        return found

    @property
    def total(self) -> int:
        """Matches since start-up, every category together."""
        return sum(self.counts.values())
