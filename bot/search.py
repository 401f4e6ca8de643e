"""Workday search: a ranked index over lookup cards and lessons, built once from the content.

A query is reduced to terms the same way the content is: lower case, apostrophes dropped
("don't" -> "dont"), number words as digits ("stage two" -> "stage 2"), function words removed
("what do I say when..." keeps "say", "tell", "abuse") and a light stemmer for plurals and verb
endings ("boundaries" -> "boundary", "listening" -> "listen"). Word order never matters.

Ranking is BM25F over weighted fields (title and aliases count most, then the summary, then the
fuller text), plus a bonus when the query and a card's title or alias are the same set of terms,
so "stage 2" finds the card called "Stage 2" first. A query term the content does not contain is
matched to the nearest terms it does contain with rapidfuzz (typos, British/American spelling)
or completed as a prefix (inline queries arrive while the person is still typing), each at a
discount. Cards rank a little above lessons: a card is what someone needs mid-shift.

This module never imports telegram or sqlalchemy.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from rapidfuzz import fuzz, process

from bot.content import Card, Content, Lesson, html_to_text

HitKind = Literal["card", "lesson"]

CARD: HitKind = "card"
LESSON: HitKind = "lesson"

# Field weights: a word in a title or alias says far more about a card than one in its body.
_TITLE = 3.0
_ALIAS = 3.0
_SUMMARY = 1.0
_MORE = 0.6
_LESSON_TITLE = 2.0
_LESSON_BODY = 0.8
# BM25 saturation and length normalisation.
_K1 = 1.2
_B = 0.6
# How much an alias or title that matches the query's terms adds (in units of a rare term).
_NAME_BONUS = 6.0
# Cards are the lookup unit; a lesson that matches as well comes after the card.
_LESSON_FACTOR = 0.75
# Fuzzy matching: minimum rapidfuzz ratio by term length, and what a near match is worth.
_FUZZY_MIN_LENGTH = 4
_PREFIX_MIN_LENGTH = 3
_PREFIX_WEIGHT = 0.7
_FUZZY_LIMIT = 3
_PREFIX_LIMIT = 6
# Hits far below the best one are noise, not alternatives.
_RELATIVE_CUTOFF = 0.25

_WORD = re.compile(r"[a-z0-9]+")
_APOSTROPHES = re.compile(r"['’‘`]")

_NUMBERS = {
    "one": "1",
    "first": "1",
    "1st": "1",
    "two": "2",
    "second": "2",
    "2nd": "2",
    "three": "3",
    "third": "3",
    "3rd": "3",
}

# Function words and conversational filler; what is left says what the person is looking for.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can cant could couldnt did didnt do does doesnt doing down during
    each either else ever few for from further get gets getting got had hadnt has hasnt have
    havent having he hed hes her here hers herself him himself his how hows i id ill im ive if in
    into is isnt it its itself just lets like me might more most much must my myself no nor not
    now of off on once only or other ought our ours ourselves out over own please same shall she
    shed shes should shouldnt so some such than that thats the their theirs them themselves then
    there theres these they theyd theyll theyre theyve this those though through to too under
    until up upon us very was wasnt we wed well were weve werent what whats when whens where
    wheres which while who whos whom why whys will with within without wont would wouldnt you
    youd youll youre youve your yours yourself yourselves
    tell tells told telling say says said saying ask asks asked know show find look looking
    someone somebody something anyone anybody thing things way ways really maybe also still
    need needs want wants mean means meaning card cards lesson lessons info information
    """.split()  # noqa: SIM905  (a word list reads better as prose than as 200 quoted strings)
)


def _stem(word: str) -> str:
    """A light stemmer: plurals, -ing and -ed, and US spellings folded to British ones."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and len(word) > 5:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) > 4:
        word = _undouble(word[:-2])
    word = word.replace("avior", "aviour").replace("iz", "is")
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _undouble(stem: str) -> str:
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    return stem


def _words(text: str) -> list[str]:
    return _WORD.findall(_APOSTROPHES.sub("", text.casefold()))


def terms(text: str) -> list[str]:
    """The search terms of a text, in order: stop words dropped, numbers as digits, stemmed."""
    found: list[str] = []
    for word in _words(text):
        word = _NUMBERS.get(word, word)
        if word in STOP_WORDS:
            continue
        found.append(_stem(word))
    return found


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a card or a lesson, by id, with its score (higher is better)."""

    kind: HitKind
    id: str
    score: float


@dataclass(frozen=True, slots=True)
class _Document:
    kind: HitKind
    id: str
    # Each name (title or alias) as a set of terms, for the exact-name bonus.
    names: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    weight: float
    counts: dict[str, int]


def _field_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for term in terms(text):
        counts[term] = counts.get(term, 0) + 1
    return counts


def _compounds(text: str) -> list[str]:
    """Adjacent words run together ("self care" -> "selfcare"), so either spelling matches."""
    words = [_NUMBERS.get(w, w) for w in _words(text)]
    return [_stem(a + b) for a, b in pairwise(words)]


class SearchIndex:
    """An inverted index over the content's cards and lessons; immutable once built."""

    def __init__(self, content: Content) -> None:
        self._documents: list[_Document] = []
        fields: list[list[_Field]] = []
        for card in content.cards:
            self._documents.append(_card_document(card))
            fields.append(_card_fields(card))
        for lesson in content.lessons:
            self._documents.append(_Document(LESSON, lesson.id, (frozenset(terms(lesson.title)),)))
            fields.append(_lesson_fields(lesson))
        self._postings = _postings(fields)
        self._vocabulary = sorted(self._postings)
        count = len(self._documents)
        self._idf = {
            term: math.log(1 + (count - len(docs) + 0.5) / (len(docs) + 0.5))
            for term, docs in self._postings.items()
        }

    def __len__(self) -> int:
        return len(self._documents)

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """The best matches for a query, best first; empty when nothing matches."""
        expanded = [self._expand(term) for term in dict.fromkeys(terms(query))]
        expanded = [options for options in expanded if options]
        if not expanded:
            return []
        scores: dict[int, float] = {}
        for options in expanded:
            # A query term counts once per document, through its best-matching expansion.
            best: dict[int, float] = {}
            for term, weight in options:
                idf = self._idf[term]
                for doc, saturation in self._postings[term].items():
                    value = weight * idf * saturation
                    if value > best.get(doc, 0.0):
                        best[doc] = value
            for doc, value in best.items():
                scores[doc] = scores.get(doc, 0.0) + value
        self._add_name_bonus(scores, expanded)
        ranked = sorted(
            (
                Hit(
                    self._documents[doc].kind,
                    self._documents[doc].id,
                    score * (_LESSON_FACTOR if self._documents[doc].kind == LESSON else 1.0),
                )
                for doc, score in scores.items()
            ),
            key=lambda hit: (-hit.score, hit.kind != CARD, hit.id),
        )
        if not ranked:
            return []
        floor = ranked[0].score * _RELATIVE_CUTOFF
        return [hit for hit in ranked if hit.score >= floor][:limit]

    def _expand(self, term: str) -> list[tuple[str, float]]:
        """The indexed terms a query term stands for, each with how much it is trusted (0-1)."""
        if term in self._idf:
            return [(term, 1.0)]
        options: dict[str, float] = {}
        if len(term) >= _FUZZY_MIN_LENGTH:
            cutoff = 75.0 if len(term) == _FUZZY_MIN_LENGTH else 80.0
            for match, ratio, _ in process.extract(
                term,
                self._vocabulary,
                scorer=fuzz.ratio,
                score_cutoff=cutoff,
                limit=_FUZZY_LIMIT,
            ):
                options[match] = (ratio / 100.0) ** 2
        if len(term) >= _PREFIX_MIN_LENGTH:
            completions = [word for word in self._vocabulary if word.startswith(term)]
            for word in sorted(completions, key=lambda w: -len(self._postings[w]))[:_PREFIX_LIMIT]:
                options[word] = max(options.get(word, 0.0), _PREFIX_WEIGHT)
        return list(options.items())

    def _add_name_bonus(
        self, scores: dict[int, float], expanded: list[list[tuple[str, float]]]
    ) -> None:
        """Reward documents whose title or an alias is (nearly) the query's set of terms."""
        query = [dict(options) for options in expanded]
        for doc in scores:
            best = 0.0
            for name in self._documents[doc].names:
                if not name:
                    continue
                matched = sum(max((o.get(t, 0.0) for t in name), default=0.0) for o in query)
                union = len(name) + len(query) - sum(1 for o in query if name & o.keys())
                best = max(best, matched / union)
            if best > 0.0:
                scores[doc] += _NAME_BONUS * best * best


def _card_document(card: Card) -> _Document:
    names = (card.title, *card.aliases)
    return _Document(CARD, card.id, tuple(frozenset(terms(name)) for name in names))


def _card_fields(card: Card) -> list[_Field]:
    names = " ".join(card.aliases)
    title_terms = _field_counts(card.title)
    for compound in _compounds(card.title):
        title_terms.setdefault(compound, 1)
    alias_terms = _field_counts(names)
    for alias in card.aliases:
        for compound in _compounds(alias):
            alias_terms.setdefault(compound, 1)
    return [
        _Field("card title", _TITLE, title_terms),
        _Field("aliases", _ALIAS, alias_terms),
        _Field("summary", _SUMMARY, _field_counts(html_to_text(card.summary))),
        _Field("more", _MORE, _field_counts(html_to_text(card.more or ""))),
    ]


def _lesson_fields(lesson: Lesson) -> list[_Field]:
    title_terms = _field_counts(lesson.title)
    for compound in _compounds(lesson.title):
        title_terms.setdefault(compound, 1)
    body = html_to_text(lesson.body) + "\n" + html_to_text(lesson.takeaway)
    return [
        _Field("lesson title", _LESSON_TITLE, title_terms),
        _Field("body", _LESSON_BODY, _field_counts(body)),
    ]


def _postings(documents: list[list[_Field]]) -> dict[str, dict[int, float]]:
    """term -> {document: BM25F saturation}, each field normalised by its average length."""
    totals: dict[str, int] = {}
    counts: dict[str, int] = {}
    for fields in documents:
        for field in fields:
            totals[field.name] = totals.get(field.name, 0) + sum(field.counts.values())
            counts[field.name] = counts.get(field.name, 0) + 1
    averages = {name: max(totals[name] / counts[name], 1.0) for name in totals}
    postings: dict[str, dict[int, float]] = {}
    for doc, fields in enumerate(documents):
        pseudo: dict[str, float] = {}
        for field in fields:
            length = sum(field.counts.values())
            norm = 1 - _B + _B * (length / averages[field.name])
            for term, tf in field.counts.items():
                pseudo[term] = pseudo.get(term, 0.0) + field.weight * tf / norm
        for term, value in pseudo.items():
            postings.setdefault(term, {})[doc] = value / (_K1 + value)
    return postings


def build_index(content: Content) -> SearchIndex:
    """Build the search index for the content (done once, at start-up)."""
    return SearchIndex(content)
